"""A scripted, offline teacher for tests: yours, tinyreason's and plugin authors'.

:class:`FakeTeacher` answers problems with replies you queue (after simonw/llm's ``MockModel``):
no network, no model, no cost, and a ``history`` of every call to assert on. It is also registered
as the built-in teacher ``"fake"``, so ``tr.teacher("fake")`` works wherever a teacher name does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..data import as_problems, to_dataset
from ..errors import ConfigError, TinyReasonError
from ..records import THINKING_KINDS, Problem, ThinkingKind, Trace, Usage

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["FakeCall", "FakeReply", "FakeTeacher"]


@dataclass(frozen=True)
class FakeReply:
    """One scripted reply of a :class:`FakeTeacher` (see :meth:`FakeTeacher.enqueue`)."""

    thinking: str
    answer: str
    finish_reason: str = "stop"
    error: str | None = None
    usage: Usage | None = None
    cost_usd: float | None = None


@dataclass(frozen=True)
class FakeCall:
    """One :meth:`FakeTeacher.distill` call, as recorded in :attr:`FakeTeacher.history`.

    Attributes:
        problems: The problems it was given, in order.
        options: The keyword options it was given.
        replies: The reply used for each problem (the scripted one, or the default).
    """

    problems: tuple[Problem, ...]
    options: Mapping[str, Any]
    replies: tuple[FakeReply, ...]

    @property
    def problem_ids(self) -> list[str]:
        """The ids of the problems, in order."""
        return [p.id for p in self.problems]

    @property
    def questions(self) -> list[str]:
        """The question texts, in order."""
        return [p.question for p in self.problems]


@dataclass
class FakeTeacher:
    """A teacher that replies with what you queued, for tests and for trying the pipeline offline.

    Each problem takes the next queued reply, in order, across ``distill`` calls. When the queue is
    empty it gets the *default reply*: thinking ``"Echo: <question>"`` and, as the answer, the
    problem's reference answer, or ``""`` when it has none (so a problem without a reference yields
    a trace whose ``ok`` is False). ``strict=True`` raises instead, for tests that must script
    every reply.

    Token usage, when not given, is counted in whitespace-separated words (question / thinking /
    answer), so length-based selection has something to work with; ``cost_usd`` stays None unless
    given (a price that is unknown is never a made-up zero).

    Args:
        model: The model name recorded in each trace (``teacher_model``).
        thinking_kind: ``"raw"`` (default), ``"summary"`` or ``"unknown"``, recorded in each trace.
        strict: Raise when a problem has no queued reply instead of using the default reply.

    Example:
        >>> import tinyreason as tr
        >>> teacher = tr.testing.FakeTeacher()
        >>> teacher.enqueue("6 * 7 = 42, no carries.", "42")  # doctest: +ELLIPSIS
        FakeTeacher(...)
        >>> ds = teacher.distill([tr.Problem("p1", "What is 6 * 7?", answer="42")], seed=0)
        >>> ds[0]["thinking_trajectories"], ds[0]["attempt"], ds[0]["teacher"]
        (['6 * 7 = 42, no carries.'], '42', 'fake')
        >>> teacher.history[0].problem_ids, teacher.history[0].options
        (['p1'], {'seed': 0})
    """

    model: str = "scripted"
    thinking_kind: ThinkingKind = "raw"
    strict: bool = False
    queue: list[FakeReply] = field(default_factory=list, init=False)
    history: list[FakeCall] = field(default_factory=list, init=False)

    name = "fake"  # the teacher column of every trace

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.model, str) or not self.model.strip():
            problems.append(
                f"FakeTeacher(model=...) must be a non-empty string, got {self.model!r}"
            )
        if self.thinking_kind not in THINKING_KINDS:
            problems.append(
                f"FakeTeacher(thinking_kind=...) must be one of {THINKING_KINDS}, "
                f"got {self.thinking_kind!r}"
            )
        if problems:
            raise ConfigError(problems)

    def enqueue(
        self,
        thinking: str,
        answer: str,
        *,
        finish_reason: str | None = None,
        error: str | None = None,
        usage: Usage | None = None,
        cost_usd: float | None = None,
    ) -> FakeTeacher:
        """Queue the reply for the next problem.

        Args:
            thinking: The reasoning text.
            answer: The visible answer (s1K's ``attempt``).
            finish_reason: Why generation stopped; default ``"stop"``, or ``"error"`` when
                ``error`` is given.
            error: Make this a failed call with this message.
            usage: Token usage; default: word counts.
            cost_usd: What the call cost; default None (unknown).

        Returns:
            The teacher itself, so calls chain.

        Raises:
            DataError: a value is invalid (the same checks as :class:`~tinyreason.Trace`).
        """
        if finish_reason is None:
            finish_reason = "error" if error is not None else "stop"
        reply = FakeReply(thinking, answer, finish_reason, error, usage, cost_usd)
        self._trace(Problem("enqueued", "enqueued"), reply)  # a bad value fails here, not later
        self.queue.append(reply)
        return self

    def distill(self, problems: Any, **options: Any) -> Dataset:
        """Answer each problem with the next queued reply (or the default one).

        Args:
            problems: A Dataset, a list of :class:`~tinyreason.Problem` or a list of row dicts.
            **options: Anything a real teacher takes (``cache=``, ``max_cost_usd=``...): recorded
                in :attr:`history`, otherwise ignored.

        Returns:
            A traces Dataset (s1K columns plus ours), one row per problem, with ``teacher="fake"``.

        Raises:
            DataError: the problems are empty or malformed, or a queued reply makes an invalid
                trace.
            TinyReasonError: ``strict`` is set and the queue ran out.
        """
        items = as_problems(problems)
        if self.strict and len(self.queue) < len(items):
            # Checked before popping anything, so a failed call leaves the queue as it was.
            raise TinyReasonError(
                f"FakeTeacher(strict=True) has {len(self.queue)} queued replies for "
                f"{len(items)} problems (the first without one: {items[len(self.queue)].id!r}); "
                "call teacher.enqueue(thinking, answer) once per problem first."
            )
        replies = [self._next_reply(p) for p in items]
        traces = [self._trace(p, r) for p, r in zip(items, replies, strict=True)]
        self.history.append(FakeCall(tuple(items), dict(options), tuple(replies)))
        return to_dataset(items, traces)

    def _next_reply(self, problem: Problem) -> FakeReply:
        if self.queue:
            return self.queue.pop(0)
        return FakeReply(f"Echo: {problem.question}", problem.answer or "")

    def _trace(self, problem: Problem, reply: FakeReply) -> Trace:
        usage = reply.usage or Usage(
            input_tokens=_words(problem.question),
            output_tokens=_words(reply.answer),
            thinking_tokens=_words(reply.thinking),
        )
        return Trace(
            problem_id=problem.id,
            teacher=self.name,
            model=self.model,
            thinking=reply.thinking,
            answer_text=reply.answer,
            thinking_kind=self.thinking_kind,
            finish_reason=reply.finish_reason,
            usage=usage,
            cost_usd=reply.cost_usd,
            error=reply.error,
        )


def _words(text: object) -> int:
    # Not a string: Trace's own check reports it, with a better message than a crash here.
    return len(text.split()) if isinstance(text, str) else 0
