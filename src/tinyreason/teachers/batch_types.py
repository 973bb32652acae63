"""What a batch run speaks in: its price, a batch's status, the provider interface, the report.

The records and the Protocol :mod:`.batch` (the crash-safe run) and each provider's batch backend
(:mod:`.openai_batch`) share.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from ..errors import TinyReasonError
from ..records import Usage
from .base import ProviderError, TeacherReply, TeacherRequest
from .cache_entry import CacheEntry
from .pricing import Price
from .summary import Outcome, RunSummary

if TYPE_CHECKING:
    from .planning import RunPlan
    from .teacher import ProviderTeacher

__all__ = [
    "BATCH_DISCOUNT",
    "TERMINAL",
    "BatchBackend",
    "BatchReport",
    "BatchStatus",
    "BatchTimeout",
    "DamagedDownload",
    "batch_entry",
    "batch_price",
    "batch_summary",
]

#: Batch APIs (OpenAI, Anthropic, Gemini) charge this share of the synchronous price.
BATCH_DISCOUNT = 0.5

#: Provider batch states after which nothing more will change.
TERMINAL = frozenset({"completed", "failed", "expired", "cancelled"})


class BatchTimeout(TinyReasonError):
    """A batch did not finish within ``max_wait_s``; it goes on at the provider (collect later)."""


class DamagedDownload(Exception):
    """A result file that does not parse (cut short, garbled): fetch it again."""


def batch_price(price: Price | None) -> Price | None:
    """The batch price of a model: :data:`BATCH_DISCOUNT` of each synchronous rate.

    Example:
        >>> batch_price(Price(1.0, 4.0, 4.0))
        Price(input=0.5, output=2.0, thinking=2.0)
    """
    if price is None:
        return None
    return Price(
        price.input * BATCH_DISCOUNT,
        price.output * BATCH_DISCOUNT,
        price.thinking * BATCH_DISCOUNT,
    )


@dataclass(frozen=True)
class BatchStatus:
    """A provider batch's state, as a backend reports it.

    Args:
        batch_id: The provider's id.
        state: ``validating``, ``in_progress``, ``finalizing``, ``completed``, ``failed``,
            ``expired``, ``cancelling`` or ``cancelled``.
        total: Requests in the batch.
        done: Requests answered.
        failed: Requests failed.
        output: Where the answers are (a file id), if any.
        errors: Where the failures are, if any.

    Example:
        >>> BatchStatus("b1", "completed", 2, 2, 0).terminal
        True
    """

    batch_id: str
    state: str
    total: int = 0
    done: int = 0
    failed: int = 0
    output: str | None = None
    errors: str | None = None

    @property
    def terminal(self) -> bool:
        """Nothing more will change at the provider."""
        return self.state in TERMINAL


class BatchBackend(Protocol):
    """One provider's batch API, as the run drives it (synchronous calls).

    ``upload`` and ``create`` are separate so that a crash between them costs nothing (files are
    free); ``find`` lists the provider's batches for one carrying ``local_id`` in its metadata.
    """

    #: Requests one batch may hold.
    max_requests: int
    #: Bytes one input file may hold.
    max_bytes: int

    def line(self, key: str, request: TeacherRequest) -> bytes:
        """One request as the provider's batch input line (``custom_id`` = ``key``)."""

    def upload(self, local_id: str, lines: Sequence[bytes]) -> str:
        """Upload the input; returns its id."""

    def create(self, file_id: str, local_id: str) -> str:
        """Create the batch (``local_id`` in its metadata); returns the provider's batch id."""

    def find(self, local_id: str) -> str | None:
        """The id of a batch created with ``local_id``, if the provider has one."""

    def status(self, batch_id: str) -> BatchStatus:
        """The batch's state (one API call: a poll)."""

    def results(self, status: BatchStatus) -> dict[str, TeacherReply | ProviderError]:
        """Every result of a finished batch, by ``custom_id``; raises :class:`DamagedDownload`."""

    def cancel(self, batch_id: str) -> None:
        """Ask the provider to cancel the batch."""


@dataclass
class BatchReport:
    """What a batch run did, besides the rows: batches, polls, resubmissions and the sync price.

    Example:
        >>> BatchReport().polls
        0
    """

    batches_created: int = 0
    resumed: int = 0
    polls: int = 0
    resubmitted: int = 0
    billed: int = 0
    usage: Usage = field(default_factory=Usage)
    cost_usd: float = 0.0
    sync_cost_usd: float = 0.0
    states: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        """One line for the end of a run.

        Example:
            >>> print(BatchReport(batches_created=1, polls=3, billed=2, cost_usd=0.5,
            ...                   sync_cost_usd=1.0))
            batch: 1 created, 0 resumed, 3 polls, 0 resubmitted, 2 billed; $0.5000 (sync: $1.0000)
        """
        return (
            f"batch: {self.batches_created} created, {self.resumed} resumed, {self.polls} polls, "
            f"{self.resubmitted} resubmitted, {self.billed} billed; ${self.cost_usd:,.4f} "
            f"(sync: ${self.sync_cost_usd:,.4f})"
        )


def batch_entry(
    teacher: ProviderTeacher,
    key: str,
    request: TeacherRequest,
    reply: TeacherReply | None,
    error: ProviderError | None,
    cost: float | None = None,
) -> CacheEntry:
    """A batch result as the reply cache stores it (the same row a synchronous call writes)."""
    return CacheEntry(
        key,
        teacher.name,
        teacher.model or "",
        reply=reply,
        reason=None if error is None else error.reason,
        message=None if error is None else str(error),
        cost_usd=cost,
        attempts=1,
        request={
            "question": request.question,
            "system": request.system,
            "settings": dict(request.settings),
        },
        created=time.time(),
        endpoint=teacher.endpoint(),
    )


def batch_summary(
    teacher: ProviderTeacher,
    plan: RunPlan,
    outcomes: Mapping[str, Outcome],
    report: BatchReport,
    max_cost_usd: float | None,
) -> RunSummary:
    """The run summary of a batch distillation (what ``teacher.last_summary`` shows)."""
    by_key = dict(plan.pairs)
    failed: dict[str, int] = {}
    done = cached = truncated = 0
    for key, _ in plan.pairs:
        outcome = outcomes[key]
        if outcome.ok:
            done += 1
            cached += outcome.cached
            truncated += outcome.reply.finish_reason == "length"  # type: ignore[union-attr]
        else:
            failed[outcome.reason or "server"] = failed.get(outcome.reason or "server", 0) + 1
    return RunSummary(
        teacher.name,
        teacher.model or "",
        problems=len(plan.pairs),
        unique=len(by_key),
        done=done,
        cached=cached,
        failed=failed,
        truncated=truncated,
        requests=report.billed,
        retries=report.resubmitted,
        usage=report.usage,
        cost_usd=round(report.cost_usd, 10) if plan.price is not None else None,
        elapsed_s=0.0,
        max_cost_usd=max_cost_usd,
    )
