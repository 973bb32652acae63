"""Problems, the tokens a call used, and the traces teachers write for them."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ..errors import DataError
from ._checks import require_count as _require_count
from ._checks import require_text as _require_text

__all__ = ["THINKING_KINDS", "Problem", "ThinkingKind", "Trace", "Usage"]

ThinkingKind = Literal["raw", "summary", "unknown"]
#: "raw": the teacher's own reasoning tokens (DeepSeek-R1, open models). "summary": a summary of
#: hidden reasoning (current Gemini and Claude APIs). "unknown": imported data that does not say.
THINKING_KINDS: tuple[str, ...] = ("raw", "summary", "unknown")


@dataclass(frozen=True)
class Problem:
    """A question to distil, train on or evaluate.

    Args:
        id: Stable identifier, unique within a pool (the cache and joins use it).
        question: The question text as the model sees it.
        answer: The short reference answer (``"204"``, ``"\\frac{1}{2}"``, ``"B"``), if known.
        solution: A worked reference solution (s1K's ``solution`` column), if known.
        domain: A coarse domain label (s1K's ``cot_type``: math, science, crossword...).
        source: Where the problem came from (s1K's ``source_type``).
        metadata: Anything else worth keeping; must be JSON-like.

    Example:
        >>> p = Problem(id="aime24-1", question="What is 6 * 7?", answer="42")
        >>> p.answer
        '42'
    """

    id: str
    question: str
    answer: str | None = None
    solution: str | None = None
    domain: str | None = None
    source: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _require_text("Problem", "id", self.id)
        _require_text("Problem", "question", self.question)
        for name in ("answer", "solution", "domain", "source"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise DataError(
                    f"Problem.{name} must be a string or None, got {type(value).__name__}: "
                    f"{value!r} (problem {self.id!r}); convert numbers with str()."
                )
        if not isinstance(self.metadata, Mapping):
            raise DataError(f"Problem.metadata must be a mapping, got {type(self.metadata)}")
        # A private copy: the record stays unchanged if the caller's dict changes later.
        object.__setattr__(self, "metadata", dict(self.metadata))


@dataclass(frozen=True)
class Usage:
    """Tokens a call consumed.

    ``output_tokens`` counts the visible answer only and ``thinking_tokens`` the reasoning, so
    ``total_tokens`` never counts a token twice, whatever the provider's own convention.

    Example:
        >>> Usage(input_tokens=10, output_tokens=5, thinking_tokens=100) + Usage(input_tokens=1)
        Usage(input_tokens=11, output_tokens=5, thinking_tokens=100)
    """

    input_tokens: int = 0
    output_tokens: int = 0
    thinking_tokens: int = 0

    def __post_init__(self) -> None:
        for name in ("input_tokens", "output_tokens", "thinking_tokens"):
            _require_count("Usage", name, getattr(self, name))

    @property
    def total_tokens(self) -> int:
        """Input, answer and thinking tokens together."""
        return self.input_tokens + self.output_tokens + self.thinking_tokens

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.thinking_tokens + other.thinking_tokens,
        )


@dataclass(frozen=True)
class Trace:
    """A teacher's reasoning trace and answer for one problem.

    Args:
        problem_id: The :attr:`Problem.id` this trace answers.
        teacher: The teacher plugin's name (``"gemini"``, ``"deepseek"``, ``"arithmetic"``...).
        model: The teacher's model name.
        thinking: The reasoning text (empty when the call failed or the teacher hid it).
        answer_text: The visible answer (s1K's ``attempt``).
        thinking_kind: ``"raw"`` reasoning, a ``"summary"`` of hidden reasoning, or ``"unknown"``.
        finish_reason: Why generation stopped: ``"stop"``, ``"length"`` (truncated), ``"safety"``,
            ``"error"``...
        usage: Tokens used.
        cost_usd: What the call cost, or None when the price is unknown (never a made-up zero).
        error: Why the call failed, when it did.
        trace_source: Where an imported trace was read from: ``"deepseek"`` or ``"gemini"``
            (s1K-1.1's two traces), ``"thinking_trajectories"`` (rows in s1K's layout); None for
            a trace a teacher wrote here (see :mod:`tinyreason.trace_columns`).

    Example:
        >>> t = Trace("p1", "arithmetic", "exact", thinking="6*7=42", answer_text="42")
        >>> t.ok, t.thinking_kind
        (True, 'raw')
    """

    problem_id: str
    teacher: str
    model: str
    thinking: str
    answer_text: str
    thinking_kind: ThinkingKind = "raw"
    finish_reason: str = "stop"
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    error: str | None = None
    trace_source: str | None = None

    def __post_init__(self) -> None:
        _require_text("Trace", "problem_id", self.problem_id)
        _require_text("Trace", "teacher", self.teacher)
        _require_text("Trace", "model", self.model)
        _require_text("Trace", "thinking", self.thinking, empty_ok=True)
        _require_text("Trace", "answer_text", self.answer_text, empty_ok=True)
        _require_text("Trace", "finish_reason", self.finish_reason)
        if self.thinking_kind not in THINKING_KINDS:
            raise DataError(
                f"Trace.thinking_kind must be one of {THINKING_KINDS}, got {self.thinking_kind!r}"
            )
        if not isinstance(self.usage, Usage):
            raise DataError(f"Trace.usage must be a Usage, got {type(self.usage).__name__}")
        if self.cost_usd is not None and (
            isinstance(self.cost_usd, bool)
            or not isinstance(self.cost_usd, (int, float))
            or not math.isfinite(self.cost_usd)
            or self.cost_usd < 0
        ):
            raise DataError(
                f"Trace.cost_usd must be None or a finite number >= 0, got {self.cost_usd!r}"
            )
        if self.error is not None and not isinstance(self.error, str):
            raise DataError(f"Trace.error must be a string or None, got {self.error!r}")
        if self.trace_source is not None:
            _require_text("Trace", "trace_source", self.trace_source)

    @property
    def ok(self) -> bool:
        """True when the call succeeded and returned an answer."""
        return self.error is None and bool(self.answer_text.strip())
