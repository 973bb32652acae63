"""A run's outcomes as the rows of its Dataset: one :class:`~tinyreason.Trace` per problem.

Failures are rows too (``finish_reason="error"`` and the ``error`` text), so a Dataset always has
one row per problem, in order; identical questions share their reply.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..records import THINKING_KINDS, Problem, Trace
from .base import TeacherRequest
from .pricing import Price
from .summary import Outcome

__all__ = ["outcome_trace", "outcome_traces"]


def outcome_trace(
    problem: Problem,
    outcome: Outcome,
    *,
    teacher: str,
    model: str,
    default_kind: str,
    price: Price | None,
) -> Trace:
    """The trace row of one problem's outcome.

    Args:
        problem: The problem asked.
        outcome: What became of its request.
        teacher: The teacher's (provider's) name.
        model: The model asked (a reply's own model name wins).
        default_kind: The thinking kind of a failed row (the model's, from the data file).
        price: The model's price: a failure then costs 0, else its cost is unknown (None).

    Example:
        >>> row = outcome_trace(Problem("p1", "What is 6 * 7?"), Outcome(None, "safety", "no"),
        ...                     teacher="fake-api", model="m", default_kind="raw", price=None)
        >>> row.finish_reason, row.error
        ('error', 'safety: no')
    """
    reply = outcome.reply
    if reply is not None:
        return Trace(
            problem_id=problem.id,
            teacher=teacher,
            model=reply.model or model,
            thinking=reply.thinking,
            answer_text=reply.answer,
            thinking_kind=reply.thinking_kind,  # type: ignore[arg-type]
            finish_reason=reply.finish_reason,
            usage=reply.usage,
            cost_usd=outcome.cost_usd,
        )
    return Trace(
        problem_id=problem.id,
        teacher=teacher,
        model=model,
        thinking="",
        answer_text="",
        thinking_kind=default_kind,  # type: ignore[arg-type]
        finish_reason="error",
        cost_usd=None if price is None else 0.0,
        error=outcome.error,
    )


def outcome_traces(
    problems: Sequence[Problem],
    pairs: Sequence[tuple[str, TeacherRequest]],
    outcomes: Mapping[str, Outcome],
    *,
    teacher: str,
    model: str,
    default_kind: str,
    price: Price | None,
) -> list[Trace]:
    """One trace per problem, in order: the outcome of its request's cache key.

    An unknown ``default_kind`` becomes ``"unknown"``; see :func:`outcome_trace` for the rest.

    Example:
        >>> p, failed = Problem("p1", "What is 6 * 7?"), Outcome(None, "x", "y")
        >>> rows = outcome_traces([p, p], [("k", None), ("k", None)], {"k": failed},
        ...                       teacher="t", model="m", default_kind="?", price=None)
        >>> [r.thinking_kind for r in rows]
        ['unknown', 'unknown']
    """
    kind = default_kind if default_kind in THINKING_KINDS else "unknown"
    return [
        outcome_trace(
            problem,
            outcomes[key],
            teacher=teacher,
            model=model,
            default_kind=kind,
            price=price,
        )
        for problem, (key, _) in zip(problems, pairs, strict=True)
    ]
