"""Include-first rules: rows kept before s1's diversity sampling, counting toward ``k``.

A rule is a predicate on a row dict, or ``{column: condition}`` where a condition is a value
(equality), a list / tuple / set (membership) or a predicate on the cell. Column rules run as Arrow
kernels where they can. :func:`s1_include_first` builds s1's rules (``data/filter.ipynb``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .base import require_columns

if TYPE_CHECKING:
    import numpy as np
    from datasets import Dataset

__all__ = ["Rule", "matching_rows", "matching_rule", "s1_include_first"]

#: An include-first rule: a predicate on a row dict, or ``{column: condition}`` where a condition
#: is a value (equality), a list / tuple / set (membership) or a predicate on the cell.
Rule = Callable[[Mapping[str, Any]], bool] | Mapping[str, Any]


@dataclass(frozen=True)
class _Contains:
    """A condition: the cell, lower-cased, contains one of ``needles`` (a readable repr)."""

    needles: tuple[str, ...]

    def __call__(self, value: Any) -> bool:
        text = str(value or "").lower()
        return any(n in text for n in self.needles)

    def __repr__(self) -> str:
        return f"contains{self.needles}"


@dataclass(frozen=True)
class _Above:
    """A condition: the cell is a number above ``threshold``."""

    threshold: float

    def __call__(self, value: Any) -> bool:
        return value is not None and float(value) > self.threshold

    def __repr__(self) -> str:
        return f"> {self.threshold:g}"


def s1_include_first(
    *,
    correct_column: str = "teacher_correct",
    length_column: str = "trace_tokens",
    source_column: str = "source_type",
    competition_sources: Sequence[str] = ("aime", "gpqa"),
    long_sources: Sequence[str] = ("openaimath",),
    min_length: int = 5600,
) -> list[Rule]:
    """s1's direct-include rules (``data/filter.ipynb``), as include-first rules.

    s1 kept, before sampling, every AIME and GPQA question the teacher answered correctly, and
    every MATH (``qfq/openaimath``) question it answered correctly with a trace longer than 5,600
    tokens (384 rows in the paper, 393 in the notebook). Sources are matched as lower-case
    substrings of ``source_column``; ``correct_column`` is what the difficulty stage writes when it
    judges the teacher's own answer.

    Example:
        >>> rules = s1_include_first()
        >>> row = {"teacher_correct": True, "source_type": "qq8933/AIME_1983_2024",
        ...        "trace_tokens": 900}
        >>> [matching_rule(rules, row) for row in [row, row | {"teacher_correct": False}]]
        [0, None]
    """
    return [
        {
            correct_column: True,
            source_column: _Contains(tuple(s.lower() for s in competition_sources)),
        },
        {
            correct_column: True,
            source_column: _Contains(tuple(s.lower() for s in long_sources)),
            length_column: _Above(min_length),
        },
    ]


def _matches(condition: Any, value: Any) -> bool:
    if callable(condition):
        return bool(condition(value))
    if isinstance(condition, (list, tuple, set, frozenset)):
        return value in condition
    return bool(value == condition)


def matching_rule(rules: Sequence[Rule], row: Mapping[str, Any]) -> int | None:
    """The index of the first rule ``row`` matches, or None."""
    for i, rule in enumerate(rules):
        if isinstance(rule, Mapping):
            if all(_matches(c, row.get(col)) for col, c in rule.items()):
                return i
        elif rule(row):
            return i
    return None


def _arrow_mask(array: Any, condition: Any) -> np.ndarray | None:
    """The condition over a whole column with Arrow kernels, or None to test it in Python."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        if isinstance(condition, _Contains):
            text = pc.utf8_lower(array.cast(pa.string()))
            mask = pa.array([False] * len(array))
            for needle in condition.needles:
                mask = pc.or_(mask, pc.fill_null(pc.match_substring(text, needle), False))
        elif isinstance(condition, _Above):
            if not (pa.types.is_integer(array.type) or pa.types.is_floating(array.type)):
                return None
            mask = pc.greater(array, condition.threshold)
        elif isinstance(condition, bool):
            if not pa.types.is_boolean(array.type):
                return None
            mask = pc.equal(array, condition)
        elif isinstance(condition, str):
            if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
                return None
            mask = pc.equal(array, condition)
        else:
            return None
        return pc.fill_null(mask, False).to_numpy(zero_copy_only=False)  # type: ignore[no-any-return]
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


def matching_rows(dataset: Dataset, rules: Sequence[Rule], stage: str) -> np.ndarray:
    """Per row of ``dataset``, whether it matches any rule.

    Column rules run as Arrow kernels where they can (s1's rules all do), and test the rest in
    Python on the rows still in question; predicate rules see every row as a dict.

    Raises:
        DataError: a column rule names a column the Dataset lacks.
    """
    import numpy as np

    from ._columns import arrow_column

    n = len(dataset)
    hit = np.zeros(n, dtype=bool)
    for rule in rules:
        if isinstance(rule, Mapping):
            require_columns(
                dataset,
                stage,
                list(rule),
                "the include-first rules read it; s1's rules need teacher_correct and "
                "trace_tokens, which the difficulty stage adds.",
            )
            ok = ~hit  # rows already included need no second look
            for column, condition in rule.items():
                if not ok.any():
                    break
                array = arrow_column(dataset, column)
                mask = _arrow_mask(array, condition)
                if mask is None:
                    rows = np.flatnonzero(ok)
                    values = array.take(rows).to_pylist()
                    mask = np.zeros(n, dtype=bool)
                    mask[rows] = [_matches(condition, v) for v in values]
                ok &= mask
            hit |= ok
        elif callable(rule):
            hit |= np.fromiter((bool(rule(row)) for row in dataset), bool, count=n)
        else:
            raise ConfigError(
                f"an include-first rule must be a predicate on a row or a {{column: condition}} "
                f"mapping, got {type(rule).__name__}"
            )
    return hit
