"""What a teacher run produced: per-request outcomes, the run summary, and the stop error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import TinyReasonError
from ..records import Usage
from .base import TeacherReply
from .cache import CacheEntry

__all__ = ["Outcome", "RunStopped", "RunSummary"]


@dataclass(frozen=True)
class Outcome:
    """What became of one request: a reply, or a failure with its reason.

    Example:
        >>> Outcome(None, reason="safety", message="blocked").error
        'safety: blocked'
    """

    reply: TeacherReply | None
    reason: str | None = None
    message: str | None = None
    cost_usd: float | None = None
    attempts: int = 0
    cached: bool = False

    @property
    def ok(self) -> bool:
        """True when there is a reply."""
        return self.reply is not None

    @property
    def error(self) -> str | None:
        """``"reason: message"`` for a failure, else None."""
        return None if self.reply is not None else f"{self.reason}: {self.message}"

    @classmethod
    def from_entry(cls, entry: CacheEntry) -> Outcome:
        """A cached entry as an outcome."""
        return cls(
            entry.reply, entry.reason, entry.message, entry.cost_usd, entry.attempts, cached=True
        )


@dataclass(frozen=True)
class RunSummary:
    """What a distillation run did, shown at the end of a run and kept as ``last_summary``.

    Row counts are per problem (a question asked twice counts twice); ``requests`` counts the
    provider calls this run made, retries included. Tokens and dollars are this run's new calls
    only: cached replies cost nothing now.

    Example:
        >>> s = RunSummary("deepseek", "deepseek-reasoner", problems=3, unique=3, done=2, cached=1,
        ...                failed={"safety": 1}, truncated=0, requests=3, retries=1,
        ...                usage=Usage(30, 20, 500), cost_usd=0.0012, elapsed_s=1.5)
        >>> s.new, s.failed_total
        (1, 1)
        >>> print(s)  # doctest: +NORMALIZE_WHITESPACE
        RunSummary deepseek/deepseek-reasoner in 1.5 s
          problems   3 (3 unique questions)
          done       2 (1 new, 1 from the cache)
          failed     1 (safety 1)
          requests   3 (1 retries)
          tokens     input 30, output 20, thinking 500
          cost       $0.0012
    """

    provider: str
    model: str
    problems: int
    unique: int
    done: int
    cached: int
    failed: Mapping[str, int]
    truncated: int
    requests: int
    retries: int
    usage: Usage
    cost_usd: float | None
    elapsed_s: float
    cached_failed: int = 0
    stopped: str | None = None
    max_cost_usd: float | None = None

    @property
    def failed_total(self) -> int:
        """Rows without a reply, whatever the reason (``budget`` included)."""
        return sum(self.failed.values())

    @property
    def new(self) -> int:
        """Rows answered by a call made in this run."""
        return self.done - (self.cached - self.cached_failed)

    def lines(self) -> list[tuple[str, str]]:
        """The summary as (label, text) pairs."""
        failed = ", ".join(f"{reason} {n:,}" for reason, n in sorted(self.failed.items()))
        cost = (
            "unknown (no price for this model)"
            if self.cost_usd is None
            else (f"${self.cost_usd:,.4f}")
        )
        if self.max_cost_usd is not None:
            cost += f" (cap ${self.max_cost_usd:,.2f})"
        rows = [
            ("problems", f"{self.problems:,} ({self.unique:,} unique questions)"),
            ("done", f"{self.done:,} ({self.new:,} new, {self.done - self.new:,} from the cache)"),
            ("failed", f"{self.failed_total:,}" + (f" ({failed})" if failed else "")),
        ]
        if self.truncated:
            rows.append(
                (
                    "truncated",
                    f"{self.truncated:,} (re-ask with a larger budget and refresh=('truncated',))",
                )
            )
        rows += [
            ("requests", f"{self.requests:,} ({self.retries:,} retries)"),
            (
                "tokens",
                f"input {self.usage.input_tokens:,}, output {self.usage.output_tokens:,}, "
                f"thinking {self.usage.thinking_tokens:,}",
            ),
            ("cost", cost),
        ]
        if self.stopped == "budget":
            rows.append(
                ("stopped", "max_cost_usd reached; re-run with a higher cap to ask the rest")
            )
        elif self.stopped:
            rows.append(("stopped", self.stopped))
        return rows

    def __str__(self) -> str:
        head = f"RunSummary {self.provider}/{self.model} in {self.elapsed_s:,.1f} s"
        return "\n".join([head] + [f"  {label:<10} {text}" for label, text in self.lines()])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><th style='text-align:left'>{escape(label)}</th><td>{escape(text)}</td></tr>"
            for label, text in self.lines()
        )
        head = escape(f"{self.provider}/{self.model} in {self.elapsed_s:,.1f} s")
        return f"<table><caption>Teacher run: {head}</caption>{rows}</table>"


class RunStopped(TinyReasonError):
    """A run stopped before the end (a rejected key, a provider bug). What finished is cached.

    Attributes:
        summary: The :class:`RunSummary` up to the stop.
    """

    def __init__(self, message: str, summary: RunSummary | None = None):
        super().__init__(message)
        self.summary = summary
