"""The records that flow through the recipe: problems, traces, generations, solutions.

All records are frozen dataclasses that check their fields when built, so a bad value fails where it
is made, not three stages later. Every stage also reads and writes :class:`datasets.Dataset`; the
conversion lives in :mod:`tinyreason.data`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import DataError

__all__ = [
    "THINKING_KINDS",
    "Generation",
    "Problem",
    "Solution",
    "ThinkingKind",
    "Trace",
    "Usage",
]

ThinkingKind = Literal["raw", "summary", "unknown"]
#: "raw": the teacher's own reasoning tokens (DeepSeek-R1, open models). "summary": a summary of
#: hidden reasoning (current Gemini and Claude APIs). "unknown": imported data that does not say.
THINKING_KINDS: tuple[str, ...] = ("raw", "summary", "unknown")


def _require_text(record: str, name: str, value: object, *, empty_ok: bool = False) -> None:
    if not isinstance(value, str):
        raise DataError(f"{record}.{name} must be a string, got {type(value).__name__}: {value!r}")
    if not empty_ok and not value.strip():
        raise DataError(f"{record}.{name} is empty; give it a non-empty string.")


def _require_count(record: str, name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise DataError(f"{record}.{name} must be a whole number >= 0, got {value!r}")


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


@dataclass(frozen=True)
class Generation:
    """One sampled completion from a :class:`~tinyreason.interfaces.Backend`.

    Args:
        text: Everything generated after the prompt, delimiters included.
        thinking: The thinking part (between the student format's delimiters).
        answer_text: The part after the end-of-thinking delimiter.
        thinking_tokens: Exact number of thinking tokens, injected "Wait" tokens included.
        answer_tokens: Tokens generated after the end-of-thinking delimiter.
        finish_reason: ``"stop"`` (end of turn) or ``"length"`` (ran out of tokens).
        waits: How many times the wait text was injected.
        forced_end: True when thinking ran out of budget and its end was forced.
        token_ids: Every generated id after the prompt (thinking, the appended end, the answer
            and the token that ended it), when the backend knows them exactly; None otherwise.

    Example:
        >>> g = Generation(text="6*7=42\\n</think>\\n42", thinking="6*7=42", answer_text="42",
        ...                thinking_tokens=6, answer_tokens=2)
        >>> g.forced_end
        False
    """

    text: str
    thinking: str
    answer_text: str
    thinking_tokens: int
    answer_tokens: int
    finish_reason: str = "stop"
    waits: int = 0
    forced_end: bool = False
    token_ids: tuple[int, ...] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        for name in ("text", "thinking", "answer_text"):
            _require_text("Generation", name, getattr(self, name), empty_ok=True)
        for name in ("thinking_tokens", "answer_tokens", "waits"):
            _require_count("Generation", name, getattr(self, name))
        if self.token_ids is not None:
            ids = tuple(self.token_ids)
            if not all(type(t) is int and t >= 0 for t in ids):
                raise DataError("Generation.token_ids must be whole numbers >= 0")
            object.__setattr__(self, "token_ids", ids)


@dataclass(frozen=True)
class Solution:
    """A test-time scaler's answer to one problem.

    Args:
        problem_id: The :attr:`Problem.id` solved.
        answer: The chosen, extracted answer, or None when none could be extracted.
        generations: Every sample the scaler drew (one for budget forcing).
        votes: Share of samples per distinct answer (majority voting), largest first.
        scores: A score per generation, when a scorer ranked them (best-of-n).

    Example:
        >>> g = Generation("x</think>4", "x", "4", thinking_tokens=1, answer_tokens=1)
        >>> Solution("p1", "4", (g,)).thinking_tokens
        1.0
    """

    problem_id: str
    answer: str | None
    generations: tuple[Generation, ...]
    votes: Mapping[str, float] = field(default_factory=dict)
    scores: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        _require_text("Solution", "problem_id", self.problem_id)
        if not self.generations:
            raise DataError(f"Solution for {self.problem_id!r} has no generations.")
        object.__setattr__(self, "generations", tuple(self.generations))
        object.__setattr__(self, "votes", dict(self.votes))
        object.__setattr__(self, "scores", tuple(self.scores))

    @property
    def thinking_tokens(self) -> float:
        """Mean thinking tokens per sample."""
        return sum(g.thinking_tokens for g in self.generations) / len(self.generations)

    @property
    def total_thinking_tokens(self) -> int:
        """Thinking tokens over all samples: the test-time compute spent on thinking."""
        return sum(g.thinking_tokens for g in self.generations)
