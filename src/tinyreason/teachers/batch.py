"""Batch distillation: half-price provider batch APIs that survive crashes and never pay twice.

``teacher.distill(problems, batch=True)`` sends the uncached questions through the provider's
batch API instead of one call each. The machinery here is provider-neutral; a teacher that sells
batches returns a :class:`BatchBackend` from ``make_batch_backend()`` (OpenAI's ``/v1/batches``:
:mod:`.openai_batch`). Teachers without one refuse ``batch=True`` before anything is sent.

Crash safety (the :mod:`.batch_journal` records each step before the next one starts):

1. the requests of a batch (``custom_id`` = the cache key) are recorded before upload;
2. the provider's batch id is committed right after create; the local id travels in the batch's
   metadata, so a batch created just before a crash is found again by listing the batches;
3. results are matched by ``custom_id``, never by position; a download that does not parse is
   fetched again, never half-used; every result row is committed to the reply cache before the
   batch counts as collected;
4. failed, expired and cancelled requests are resubmitted up to ``max_resubmits`` times, then
   stored as failures (``refresh=("failed",)`` asks them again).

A rerun (after a kill at any point) resumes the journal's open batches instead of submitting
their requests again, and never asks what the cache holds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, TinyReasonError
from .base import ProviderError, TeacherReply, TeacherRequest
from .batch_journal import BatchJournal, JournalBatch, journal_path
from .batch_types import (
    BATCH_DISCOUNT,
    BatchBackend,
    BatchReport,
    BatchStatus,
    BatchTimeout,
    DamagedDownload,
    batch_entry,
    batch_price,
    batch_summary,
)
from .cache import CacheEntry, ReplyCache
from .planning import CacheArg, RunPlan, estimate_run, plan_run
from .summary import Outcome

if TYPE_CHECKING:
    from datasets import Dataset

    from .teacher import ProviderTeacher

__all__ = [
    "BATCH_DISCOUNT",
    "BatchBackend",
    "BatchRun",
    "BatchStatus",
    "BatchTimeout",
    "DamagedDownload",
    "batch_price",
    "start_batch",
]

logger = logging.getLogger("tinyreason.teachers")


# The records and the provider Protocol live in .batch_types; re-exported here.
def _checkpoint(point: str) -> None:
    """A named point of a batch run: a seam for crash tests, which kill the process there.

    The points: ``journal``, ``uploaded``, ``created``, ``polling`` and ``committing``.
    """


class BatchRun:
    """A batch distillation in progress: poll it, collect it, or cancel it.

    Returned by ``teacher.distill(problems, batch=True, wait=False)``. Everything it needs is in
    the reply cache and its journal, so ``distill(..., batch=True)`` with the same problems and
    cache, in another process, picks the same batches up.

    Example:
        >>> import tinyreason as tr
        >>> from tinyreason.testing.batch_server import OpenAIBatchServer
        >>> import tempfile, pathlib
        >>> cache = pathlib.Path(tempfile.mkdtemp()) / "cache.sqlite"
        >>> with OpenAIBatchServer() as server:
        ...     teacher = tr.teacher("openai-compatible", model="m", base_url=server.base_url,
        ...                          prices={"m": {"input": 1, "output": 2}})
        ...     run = teacher.distill([tr.Problem("p1", "What is 6 * 7?")], cache=cache,
        ...                           batch=True, wait=False, progress=False)
        ...     ds = run.collect(poll_interval=0)
        >>> ds[0]["attempt"], run.report.batches_created
        ('42', 1)
    """

    def __init__(
        self,
        teacher: ProviderTeacher,
        problems: Any,
        *,
        cache: CacheArg,
        max_cost_usd: float | None,
        refresh: Any,
        progress: bool,
        max_resubmits: int = 2,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.teacher, self.problems = teacher, problems
        self.cache_arg, self.max_cost_usd, self.refresh = cache, max_cost_usd, refresh
        self.progress, self.max_resubmits, self.sleep = progress, max_resubmits, sleep
        self.report = BatchReport()
        self._plan: RunPlan | None = None
        self._journal: BatchJournal | None = None
        self._backend: BatchBackend | None = None
        self._budget: dict[str, Outcome] = {}
        self._before: set[str] = set()

    # -- opening -------------------------------------------------------------------------------

    def _open(self) -> tuple[RunPlan, BatchJournal, BatchBackend]:
        if self._plan is None:
            # First: a teacher without a batch API refuses before a cache file is even opened.
            backend = self._backend or self.teacher.make_batch_backend()
            # The cap is checked here at batch prices, not by plan_run at the synchronous ones.
            plan = plan_run(self.teacher, self.problems, self.cache_arg, None, self.refresh)
            try:
                if plan.cache._temporary_dir is not None:
                    raise ConfigError(
                        "distill(batch=True) needs a cache that outlives the run (its results "
                        "and journal are kept there): pass cache=PATH, not cache=False."
                    )
                plan.price = batch_price(plan.price)
                plan.max_cost_usd = self.max_cost_usd
                self._backend = backend
                self._journal = BatchJournal(journal_path(plan.cache.path))
            except BaseException:
                plan.close()
                getattr(backend, "close", lambda: None)()
                raise
            self._plan = plan
        assert self._journal is not None and self._backend is not None
        return self._plan, self._journal, self._backend

    def close(self) -> None:
        """Close the cache, the journal and the API client (the batches go on at the provider)."""
        backend, self._backend = self._backend, None
        closer = getattr(backend, "close", None)
        if callable(closer):
            closer()
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        if self._plan is not None:
            self._plan.close()
            self._plan = None

    def _ident(self) -> tuple[str, str, str]:
        t = self.teacher
        return t.name, t.model or "", t.endpoint()

    # -- submitting ----------------------------------------------------------------------------

    def submit(self) -> BatchRun:
        """Submit what the cache and the journal's open batches do not already cover."""
        plan, journal, _ = self._open()
        wanted = self._to_ask(plan)
        covered: set[str] = set()
        for batch in journal.open_batches(*self._ident(), wanted):
            covered.update(journal.keys(batch.local_id))
            self.report.resumed += 1
            if batch.batch_id is None:
                self._send(batch.local_id)
        new = [key for key in wanted if key not in covered]
        new = self._within_cap(plan, new)
        self._submit_keys(new)
        return self

    def _to_ask(self, plan: RunPlan) -> list[str]:
        unique = dict(plan.pairs)
        cached = plan.cache.get_many(unique)
        self._before = {k for k, e in cached.items() if not e.matches(plan.refresh)}
        return [k for k in unique if k not in self._before]

    def _within_cap(self, plan: RunPlan, keys: list[str]) -> list[str]:
        """The keys the cap allows (in order, at batch prices); the rest fail with ``budget``."""
        if self.max_cost_usd is None or not keys:
            return keys
        if plan.price is None:
            raise ConfigError(
                f"max_cost_usd needs a price for {self.teacher.name} model "
                f"{self.teacher.model!r}: pass prices={{model: {{'input': ..., 'output': ...}}}}."
            )
        requests = dict(plan.pairs)
        allowed, total = [], 0.0
        for key in keys:
            request = requests[key]
            one = estimate_run(self.teacher, [], [(key, request)], None, frozenset())
            usd = (one.usd_expected or 0.0) * BATCH_DISCOUNT
            if total + usd > self.max_cost_usd:
                message = (
                    f"max_cost_usd=${self.max_cost_usd:,.4f} reached before submission (batch "
                    "prices); distil again with a higher cap to ask the rest."
                )
                self._budget[key] = Outcome(None, "budget", message)
                continue
            allowed.append(key)
            total += usd
        if not allowed:
            raise ConfigError(
                f"max_cost_usd=${self.max_cost_usd:,.4f} covers none of the "
                f"{len(keys):,} questions at batch prices; raise the cap."
            )
        return allowed

    def _submit_keys(self, keys: Sequence[str]) -> None:
        plan, _journal, backend = self._open()
        requests = dict(plan.pairs)
        chunk: list[str] = []
        size = 0
        for key in keys:
            line = backend.line(key, requests[key])
            if chunk and (
                len(chunk) >= backend.max_requests or size + len(line) > backend.max_bytes
            ):
                self._submit_chunk(chunk)
                chunk, size = [], 0
            chunk.append(key)
            size += len(line)
        if chunk:
            self._submit_chunk(chunk)

    def _submit_chunk(self, keys: Sequence[str]) -> None:
        plan, journal, _ = self._open()
        requests = dict(plan.pairs)
        local_id = journal.prepare(*self._ident(), [(k, requests[k].problem_id) for k in keys])
        _checkpoint("journal")
        self._send(local_id, fresh=True)

    def _send(self, local_id: str, *, fresh: bool = False) -> None:
        """Upload and create a prepared batch, unless the provider already has it.

        A batch prepared by an earlier process may have been created just before a crash:
        ``find`` lists the provider's batches for it first. A ``fresh`` one cannot have been.
        """
        plan, journal, backend = self._open()
        found = None if fresh else backend.find(local_id)
        if found is not None:  # created before a crash, never recorded
            journal.submitted(local_id, found)
            return
        requests = dict(plan.pairs)
        keys = journal.keys(local_id)
        missing = [k for k in keys if k not in requests]
        if missing:
            raise TinyReasonError(
                f"the batch journal {str(journal.path)!r} holds an unsubmitted batch with "
                f"{len(missing)} request(s) that these problems do not make; distil the same "
                "problems with the same teacher to finish it."
            )
        file_id = backend.upload(local_id, [backend.line(k, requests[k]) for k in keys])
        journal.uploaded(local_id, file_id)
        _checkpoint("uploaded")
        batch_id = backend.create(file_id, local_id)
        _checkpoint("created")
        journal.submitted(local_id, batch_id)
        self.report.batches_created += 1

    # -- polling and collecting ----------------------------------------------------------------

    def status(self) -> dict[str, BatchStatus]:
        """Each open batch's state, by provider batch id (one poll each)."""
        plan, journal, backend = self._open()
        found = {}
        for batch in journal.open_batches(*self._ident(), dict(plan.pairs)):
            if batch.batch_id is not None:
                found[batch.batch_id] = backend.status(batch.batch_id)
                self.report.polls += 1
                self.report.states[batch.batch_id] = found[batch.batch_id].state
        return found

    def cancel(self) -> int:
        """Cancel every open batch of these problems; returns how many were asked to stop.

        What they answered before stopping is still collected by :meth:`collect`.
        """
        plan, journal, backend = self._open()
        count = 0
        for batch in journal.open_batches(*self._ident(), dict(plan.pairs)):
            if batch.batch_id is None:
                journal.finished(batch.local_id, "cancelled")
            else:
                backend.cancel(batch.batch_id)
            count += 1
        return count

    def collect(
        self,
        *,
        poll_interval: float = 30.0,
        max_poll_interval: float = 600.0,
        max_wait_s: float | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> Dataset:
        """Wait for every batch, commit the results to the cache, resubmit failures; the Dataset.

        Args:
            poll_interval: Seconds before the first re-poll; doubled after each poll that finds
                nothing new, up to ``max_poll_interval``.
            max_poll_interval: The polling back-off's ceiling.
            max_wait_s: Give up (raise :class:`BatchTimeout`) after waiting this long in total;
                the batches go on, and a later ``collect`` or ``distill(batch=True)`` resumes.
            sleep: How to wait between polls (default: the run's, ``time.sleep``); tests pass
                a fake clock's.

        Raises:
            BatchTimeout: the batches did not finish within ``max_wait_s``.
        """
        try:
            plan, journal, backend = self._open()
            waited, delay = 0.0, poll_interval
            while True:
                pending = journal.open_batches(*self._ident(), dict(plan.pairs))
                if not pending:
                    break
                progressed = False
                for batch in pending:
                    if batch.batch_id is None:
                        self._send(batch.local_id)
                        progressed = True
                        continue
                    _checkpoint("polling")
                    status = backend.status(batch.batch_id)
                    self.report.polls += 1
                    self.report.states[batch.batch_id] = status.state
                    logger.info(
                        "batch %s: %s, %d of %d done, %d failed",
                        batch.batch_id,
                        status.state,
                        status.done,
                        status.total,
                        status.failed,
                    )
                    if status.terminal:
                        self._collect_one(batch, status)
                        progressed = True
                if progressed:
                    delay = poll_interval
                    continue
                if max_wait_s is not None and waited + delay > max_wait_s:
                    raise BatchTimeout(
                        f"{len(pending)} batch(es) of {self.teacher.name} did not finish within "
                        f"max_wait_s={max_wait_s:g} s (states: "
                        f"{', '.join(sorted(set(self.report.states.values())))}). They go on at "
                        "the provider: collect later with distill(..., batch=True) on the same "
                        "problems and cache, or cancel them with BatchRun.cancel()."
                    )
                (sleep or self.sleep)(delay)
                waited += delay
                delay = min(delay * 2, max_poll_interval)
            return self._dataset(plan)
        finally:
            self.close()

    def _collect_one(self, batch: JournalBatch, status: BatchStatus) -> None:
        plan, journal, backend = self._open()
        results: dict[str, TeacherReply | ProviderError] = {}
        for attempt in range(3):
            try:
                results = backend.results(status)
                break
            except DamagedDownload as exc:
                logger.warning("batch %s: damaged download (%s), fetching again", status, exc)
                if attempt == 2:
                    raise TinyReasonError(
                        f"the results of batch {status.batch_id} did not download whole three "
                        "times; run again later to collect them (nothing was used)."
                    ) from None
        requests = dict(plan.pairs)
        price = plan.price
        full = self.teacher.models.price(self.teacher.name, self.teacher.model or "")
        entries, resubmit = [], []
        for key in journal.keys(batch.local_id):
            if key not in requests:
                continue
            result = results.get(key)
            if result is None:
                result = ProviderError(
                    f"no result in batch {status.batch_id} ({status.state})",
                    reason="server",
                    retryable=True,
                )
            if isinstance(result, ProviderError):
                if status.state == "cancelled" and result.retryable:
                    continue  # cancelled on purpose: nothing stored, a later run asks it again
                if result.retryable and journal.submissions(key) <= self.max_resubmits:
                    resubmit.append(key)
                    continue
                entries.append(self._entry(key, requests[key], None, result))
                continue
            cost = None if price is None else price.cost(result.usage)
            self.report.billed += 1
            self.report.usage += result.usage
            self.report.cost_usd += cost or 0.0
            if full is not None:
                self.report.sync_cost_usd += full.cost(result.usage)
            entries.append(self._entry(key, requests[key], result, None, cost))
        _checkpoint("committing")
        _commit(plan.cache, entries)
        journal.finished(batch.local_id)
        if resubmit:
            self.report.resubmitted += len(resubmit)
            self._submit_keys(resubmit)

    def _entry(
        self,
        key: str,
        request: TeacherRequest,
        reply: TeacherReply | None,
        error: ProviderError | None,
        cost: float | None = None,
    ) -> CacheEntry:
        return batch_entry(self.teacher, key, request, reply, error, cost)

    def _dataset(self, plan: RunPlan) -> Dataset:
        unique = dict(plan.pairs)
        stored = plan.cache.get_many(unique)
        outcomes: dict[str, Outcome] = {}
        for key in unique:
            entry = stored.get(key)
            if key in self._budget and (entry is None or key not in self._before):
                outcomes[key] = self._budget[key]
            elif entry is not None:
                outcome = Outcome.from_entry(entry)
                outcomes[key] = replace(outcome, cached=key in self._before)
            else:
                outcomes[key] = Outcome(
                    None, "server", "no batch result (the batch was cancelled); distil again"
                )
        self._summarise(plan, outcomes)
        dataset = self.teacher._dataset(plan, outcomes, self.progress)
        if self.progress:
            from tqdm.auto import tqdm

            tqdm.write(str(self.report))
        return dataset

    def _summarise(self, plan: RunPlan, outcomes: Mapping[str, Outcome]) -> None:
        summary = batch_summary(self.teacher, plan, outcomes, self.report, self.max_cost_usd)
        object.__setattr__(self.teacher, "last_summary", summary)


def _commit(cache: ReplyCache, entries: list[CacheEntry]) -> None:
    """Store ``entries`` in one committed transaction before any of them is used."""
    if entries:  # the writer thread's one transaction, as ReplyCache.delete/rekey use it
        cache._rewrite(entries, [])


def start_batch(
    teacher: ProviderTeacher,
    problems: Any,
    *,
    cache: CacheArg,
    max_cost_usd: float | None,
    refresh: Any,
    progress: bool,
    wait: bool,
    poll_interval: float = 30.0,
    max_wait_s: float | None = None,
    max_resubmits: int = 2,
) -> BatchRun | Dataset:
    """``teacher.distill(..., batch=True)``: submit, then collect (``wait``) or return the run."""
    run = BatchRun(
        teacher,
        problems,
        cache=cache,
        max_cost_usd=max_cost_usd,
        refresh=refresh,
        progress=progress,
        max_resubmits=max_resubmits,
    )
    try:
        run.submit()
    except BaseException:
        run.close()
        raise
    if not wait:
        run.close()  # collect() opens them again, in this process or another
        return run
    return run.collect(poll_interval=poll_interval, max_wait_s=max_wait_s)
