"""The ranges of the trainers' options: one table per trainer, checked in one place.

A trainer's options are checked in two passes, each by one mechanism rather than case by case:
their *types* against the dataclass annotations (:func:`tinyreason.options.check_options`, the
check every plugin built by name gets), then their *values* against the trainer's ``RANGES``
table here (a :class:`Range` per numeric option). Only what neither can say (a batch that the
per-device batch does not divide, say) is a hand-written check.

Example:
    >>> Range(0, low_open=True).problem("learning_rate", -1e-5)
    'learning_rate must be > 0, got -1e-05'
    >>> Range(0, 1, high_open=True).problem("adam_betas", (0.9, 1.5))
    'adam_betas must each be in [0, 1), got (0.9, 1.5)'
    >>> Range(1).problem("save_steps", None) is None  # None means unset: nothing to check
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Range", "range_problems"]


@dataclass(frozen=True)
class Range:
    """The values a numeric option may take; for a pair (``adam_betas``), each of its items.

    Args:
        low: The smallest value allowed (None: no floor).
        high: The largest value allowed (None: no ceiling).
        low_open: Exclude ``low`` itself (``> low`` rather than ``>= low``).
        high_open: Exclude ``high`` itself.

    Example:
        >>> str(Range(0, 1, high_open=True)), str(Range(1)), str(Range(0, low_open=True))
        ('in [0, 1)', '>= 1', '> 0')
    """

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
            return f"in {left}{self.low:g}, {self.high:g}{right}"
        if self.low is not None:
            return f"{'>' if self.low_open else '>='} {self.low:g}"
        if self.high is not None:
            return f"{'<' if self.high_open else '<='} {self.high:g}"
        return "any number"

    def contains(self, value: float) -> bool:
        """Whether ``value`` is in the range (NaN never is)."""
        if value != value:  # NaN
            return False
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return False
        return not (
            self.high is not None and (value >= self.high if self.high_open else value > self.high)
        )

    def problem(self, name: str, value: Any) -> str | None:
        """A message when ``value`` (a number, or a tuple of numbers) is out of range, else None.

        Values of the wrong type are the type check's to report: they are passed over here.
        """
        if value is None:
            return None
        items = value if isinstance(value, (tuple, list)) else (value,)
        numbers = [v for v in items if isinstance(v, (int, float)) and not isinstance(v, bool)]
        if len(numbers) != len(items) or all(self.contains(v) for v in numbers):
            return None
        each = " each" if isinstance(value, (tuple, list)) else ""
        return f"{name} must{each} be {self}, got {value!r}"


def range_problems(options: Any, ranges: Mapping[str, Range]) -> list[str]:
    """One message per option of ``options`` (an object) outside its range in ``ranges``.

    Example:
        >>> from types import SimpleNamespace
        >>> range_problems(SimpleNamespace(epochs=-1, seed=3), {"epochs": Range(0, low_open=True)})
        ['epochs must be > 0, got -1']
    """
    problems = []
    for name, allowed in ranges.items():
        problem = allowed.problem(name, getattr(options, name))
        if problem is not None:
            problems.append(problem)
    return problems
