"""The teacher engine: every provider's calls go through here.

It turns a list of requests into outcomes, spending as little as possible and never paying twice:

* answers already in the cache are not asked again (``refresh=`` re-asks chosen ones);
* identical requests (same cache key) are asked once and shared;
* at most ``concurrency`` calls are in flight, fewer while the provider answers 429: an adaptive
  window (:mod:`.adaptive`, AIMD) halves on a 429 and grows back with the replies, so a run
  started far above the provider's limit settles at it instead of being refused again and again;
* calls are paced by requests-per-minute and tokens-per-minute token buckets (TPM charges an
  estimate before a call and corrects it with the real usage after);
* retryable failures (429, 5xx, timeouts, dropped connections) are retried with exponential
  backoff and full jitter, waiting at least what ``Retry-After`` asked (a 429 while other calls
  get replies does not use up ``max_retries``: see :mod:`.calls`);
* permanent failures (400, safety blocks) are not retried; an ``auth`` failure (a bad or revoked
  key) stops the whole run at once, because it would fail every remaining row;
* each outcome is committed to the cache before it is counted done;
* ``max_cost_usd``: a call starts only if what was spent, plus the projected cost of the calls in
  flight, plus its own projected cost, stays within the cap; otherwise the run stops cleanly and
  the rest are marked ``"budget"`` (not cached, so a re-run with a higher cap resumes them).

This module is the run loop (dedupe, cache, workers, commits, progress, summary). One call's
pacing, timeout and retries are in :mod:`.calls` (:class:`~.calls.Caller`), the shared rate
limits in :mod:`.pacing` (:class:`~.pacing.RateLimiter`), the adaptive concurrency window in
:mod:`.adaptive` (:class:`~.adaptive.ConcurrencyWindow`), the cost cap in :mod:`.budget`
(:class:`~.budget.CostBudget`). Time comes from an injectable :class:`~.pacing.Clock`, so tests
of limits and backoff run instantly. Outcomes and the run summary are in :mod:`.summary`.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from .._secrets import scrub
from ..errors import ConfigError
from .adaptive import ConcurrencyWindow
from .base import Provider, TeacherRequest
from .budget import CostBudget
from .cache import CacheEntry, ReplyCache
from .calls import Caller, EngineSettings, Job, StopRun, Tally
from .pacing import Clock, RateLimiter, RealClock
from .pricing import Price, estimate_tokens
from .summary import Outcome, RunStopped, RunSummary

__all__ = [
    "EngineSettings",  # re-exported from .calls, where the retry policy that reads it lives
    "Outcome",  # re-exported from .summary, with the other names callers meet in a run
    "RunStopped",
    "RunSummary",
    "TeacherEngine",
    "scrub",  # re-exported from tinyreason._secrets, the one scrubber of keys
]


class TeacherEngine:
    """Runs requests through one provider with the cache, limits, retries and budget.

    Args:
        provider: The provider to call (its ``complete`` is called concurrently), or None to
            have ``make_provider`` build one when a run has something to ask.
        provider_name: Its name, as stored in the cache and the rows.
        model: The model asked.
        cache: Where outcomes are committed.
        settings: Concurrency, limits, retries, timeouts.
        price: The model's price, or None when unknown (costs are then None).
        max_cost_usd: Stop starting calls once this much would be spent, or None.
        secrets: Strings (the API key) scrubbed from every stored, logged or raised message.
        key_hint: How to fix a rejected key, e.g. "check $GEMINI_API_KEY".
        progress: Show a tqdm progress bar with the spend and the projected total.
        clock: Time source (tests pass a fake one).
        rng: Randomness of the backoff jitter.
        endpoint: The server asked, without credentials (``""``: the provider's default), as
            stored with each reply (see :func:`~.keys.endpoint`).
        before_calls: Called with the ``(key, request)`` pairs about to be asked (those not
            cached), before any call: it may raise to stop the run before anything is paid.
        make_provider: Builds the provider when ``provider`` is None, only if a run has
            something to ask (a fully cached run builds no SDK client).

    Example:
        >>> import asyncio
        >>> from tinyreason.testing import FakeProvider
        >>> cache = ReplyCache.temporary()
        >>> engine = TeacherEngine(FakeProvider(), provider_name="fake-api", model="fake-reasoner",
        ...                        cache=cache, settings=EngineSettings(concurrency=4),
        ...                        price=Price(1.0, 2.0, 2.0))
        >>> request = TeacherRequest("p1", "What is 6 * 7?", "fake-reasoner")
        >>> outcomes = asyncio.run(engine.run([(request.cache_key("fake-api"), request)]))
        >>> [o.ok for o in outcomes.values()], engine.summary.requests
        ([True], 1)
        >>> cache.close()
    """

    def __init__(
        self,
        provider: Provider | None,
        *,
        provider_name: str,
        model: str,
        cache: ReplyCache,
        settings: EngineSettings,
        price: Price | None,
        max_cost_usd: float | None = None,
        secrets: Sequence[str] = (),
        key_hint: str = "",
        progress: bool = False,
        clock: Clock | None = None,
        rng: random.Random | None = None,
        endpoint: str = "",
        before_calls: Callable[[list[tuple[str, TeacherRequest]]], None] | None = None,
        make_provider: Callable[[], Provider] | None = None,
    ):
        if provider is None and make_provider is None:
            raise ConfigError("TeacherEngine needs a provider, or make_provider to build one.")
        if max_cost_usd is not None and price is None:
            raise ConfigError(
                f"max_cost_usd needs a price for {provider_name} model {model!r}; give one with "
                "prices={...} (USD per 1M input/output/thinking tokens)."
            )
        self.provider, self.provider_name, self.model = provider, provider_name, model
        self.cache, self.settings, self.price = cache, settings, price
        self.max_cost_usd = max_cost_usd
        self.secrets = tuple(s for s in secrets if s)
        self.key_hint = key_hint
        self.progress = progress
        self.clock: Clock = clock or RealClock()
        self.rng = rng or random.Random()
        self.endpoint, self.before_calls = endpoint, before_calls
        self.make_provider = make_provider
        self.summary: RunSummary | None = None
        self.window: ConcurrencyWindow | None = None  # the last run's, for inspection

    # -- public --------------------------------------------------------------------------------

    async def run(
        self,
        requests: Sequence[tuple[str, TeacherRequest]],
        *,
        refresh: frozenset[str] = frozenset(),
    ) -> dict[str, Outcome]:
        """Get an outcome for every ``(cache_key, request)``; sets :attr:`summary`.

        Args:
            requests: One pair per problem; pairs that share a key are asked once.
            refresh: Cached entries to ask again (see :func:`~.cache.check_refresh`).

        Returns:
            The outcome of every key, the cached ones included.

        Raises:
            RunStopped: the provider rejected the key, or failed unexpectedly; every outcome
                that finished before is in the cache, and :attr:`summary` says how far it got.
        """
        self._started = self.clock.now()
        self._tally = tally = Tally()
        self._budget = CostBudget(
            self.max_cost_usd,
            self.price,
            tally,
            expected_output_tokens=self.settings.projected_output_tokens,
        )
        limiter = RateLimiter(
            self.clock, self.settings.requests_per_minute, self.settings.tokens_per_minute
        )
        self.window = ConcurrencyWindow(self.settings.concurrency, self.clock)
        self._commits: list[asyncio.Future[None]] = []  # every commit of this run
        self._cache_failure: StopRun | None = None

        unique: dict[str, TeacherRequest] = {}
        for key, request in requests:
            unique.setdefault(key, request)
        outcomes: dict[str, Outcome] = {}
        for key, entry in self.cache.get_many(unique).items():
            if not entry.matches(refresh):
                outcomes[key] = Outcome.from_entry(entry)
        jobs = deque(
            Job(key, req, estimate_tokens((req.system or "") + req.question))
            for key, req in unique.items()
            if key not in outcomes
        )
        if self.before_calls is not None and jobs:
            self.before_calls([(job.key, job.request) for job in jobs])
        if self.provider is None and jobs:  # built only when there is something to ask
            assert self.make_provider is not None
            self.provider = self.make_provider()
        self._caller = Caller(
            self.provider,  # type: ignore[arg-type]  # None only when there are no jobs
            self.settings,
            limiter,
            price=self.price,
            tally=tally,
            secrets=self.secrets,
            clock=self.clock,
            rng=self.rng,
            window=self.window,
        )
        self._jobs_total = len(jobs)
        self._bar = self._open_bar(len(unique), len(outcomes))
        stop: StopRun | None = None
        try:
            stop = await self._run_workers(jobs, outcomes)
        finally:
            self.window.close()
            if self._bar is not None:
                self._bar.close()
            self.summary = self._summarise(requests, outcomes, stop)
        if stop is not None:  # raised here, outside any except block: no chained SDK error
            raise RunStopped(self._stop_message(stop, outcomes), self.summary)
        return outcomes

    # -- workers -------------------------------------------------------------------------------

    async def _run_workers(self, jobs: deque[Job], outcomes: dict[str, Outcome]) -> StopRun | None:
        workers = [
            asyncio.ensure_future(self._worker(jobs, outcomes))
            for _ in range(min(self.settings.concurrency, len(jobs)))
        ]
        if not workers:
            return None
        try:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            # Reached at the end, on a stop, or when this run itself is cancelled (Ctrl-C):
            # calls in flight are abandoned, but every reply that came back is saved first.
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            await asyncio.gather(*self._commits, return_exceptions=True)
        for worker in done:
            error = worker.exception()
            if isinstance(error, StopRun):
                return error
            if error is not None:
                raise error
        return self._cache_failure

    async def _worker(self, jobs: deque[Job], outcomes: dict[str, Outcome]) -> None:
        previous: asyncio.Future[None] | None = None
        while jobs:
            if self._cache_failure is not None:  # replies that cannot be saved: stop paying
                raise self._cache_failure
            job = jobs.popleft()
            if not await self._budget.admit(job):
                outcomes[job.key] = Outcome(
                    None,
                    reason="budget",
                    message=(
                        f"max_cost_usd=${self.max_cost_usd:,.2f} reached before this call "
                        f"(spent ${self._tally.spent:,.4f}); re-run with a higher max_cost_usd "
                        "to ask it"
                    ),
                )
                self._advance(job.key, outcomes[job.key])
                continue
            self._tally.in_flight += 1
            outcome = await self._call(job)
            # Handed to the writer thread at once, with no await in between: a stop or a Ctrl-C
            # can cancel this worker anywhere, but never between a paid reply and its commit.
            # The outcome counts as done only once committed (_committed); a stop waits for the
            # pending commits.
            commit = self.cache.submit([self._entry(job, outcome)])
            commit.add_done_callback(functools.partial(self._committed, job, outcome, outcomes))
            self._commits.append(commit)
            if previous is not None and not previous.done():
                # At most two uncommitted replies per worker, so a crash loses little even on a
                # slow disk. The one waited for was handed over a whole call ago: the worker
                # does not idle for the disk. (asyncio.wait: cancelling this worker must not
                # cancel the commit.)
                await asyncio.wait([previous])
            previous = commit

    def _committed(
        self,
        job: Job,
        outcome: Outcome,
        outcomes: dict[str, Outcome],
        commit: asyncio.Future[None],
    ) -> None:
        """The outcome is on disk (or could not be saved): only now does it count as done."""
        if commit.cancelled():
            return
        error = commit.exception()
        if error is not None:
            self._cache_failure = StopRun(
                "cache", f"could not save to {str(self.cache.path)!r}: {error}"
            )
            return
        outcomes[job.key] = outcome
        self._advance(job.key, outcome)

    async def _call(self, job: Job) -> Outcome:
        """One request, with retries (or :class:`StopRun`); its cost is then booked."""
        outcome = await self._caller.call(job)
        await self._budget.settle(job, outcome.cost_usd)
        return outcome

    # -- bookkeeping ---------------------------------------------------------------------------

    def _entry(self, job: Job, outcome: Outcome) -> CacheEntry:
        request = job.request
        return CacheEntry(
            key=job.key,
            provider=self.provider_name,
            model=request.model,
            reply=outcome.reply,
            reason=outcome.reason,
            message=outcome.message,
            cost_usd=outcome.cost_usd,
            attempts=outcome.attempts,
            request={
                "question": request.question,
                "system": request.system,
                "settings": dict(request.settings),
            },
            created=time.time(),
            endpoint=self.endpoint,
        )

    def _open_bar(self, total: int, initial: int) -> Any:
        if not self.progress:
            return None
        from tqdm.auto import tqdm

        return tqdm(
            total=total,
            initial=initial,
            desc=f"{self.provider_name}/{self.model}",
            unit="q",
            dynamic_ncols=True,
        )

    def _advance(self, key: str, outcome: Outcome) -> None:
        """An outcome is final (and, unless it is a budget stop, committed): show it."""
        tally = self._tally
        tally.failed += not outcome.ok
        if self._bar is None:
            return
        postfix = f"failed {tally.failed:,}"
        if self.price is not None:
            remaining = self._jobs_total - tally.calls_done
            per_call = tally.spent / tally.replies if tally.replies else 0.0
            projected = tally.spent + remaining * per_call
            postfix = f"{_usd(tally.spent)} spent, ~{_usd(projected)} projected, {postfix}"
        self._bar.set_postfix_str(postfix, refresh=False)
        self._bar.update(1)

    def _summarise(
        self,
        requests: Sequence[tuple[str, TeacherRequest]],
        outcomes: Mapping[str, Outcome],
        stop: StopRun | None,
    ) -> RunSummary:
        failed: dict[str, int] = {}
        done = cached = cached_failed = truncated = 0
        for key, _ in requests:
            outcome = outcomes.get(key)
            if outcome is None:
                continue
            cached += outcome.cached
            if outcome.ok:
                done += 1
                truncated += outcome.reply.finish_reason == "length"  # type: ignore[union-attr]
            else:
                cached_failed += outcome.cached
                failed[outcome.reason or "error"] = failed.get(outcome.reason or "error", 0) + 1
        tally = self._tally
        return RunSummary(
            provider=self.provider_name,
            model=self.model,
            problems=len(requests),
            unique=len({key for key, _ in requests}),
            done=done,
            cached=cached,
            failed=failed,
            truncated=truncated,
            requests=tally.requests,
            retries=tally.retries,
            usage=tally.usage,
            cost_usd=None if self.price is None else round(tally.spent, 10),
            elapsed_s=round(self.clock.now() - self._started, 3),
            cached_failed=cached_failed,
            stopped="budget" if self._budget.hit else (stop.kind if stop else None),
            max_cost_usd=self.max_cost_usd,
        )

    def _stop_message(self, stop: StopRun, outcomes: Mapping[str, Outcome]) -> str:
        saved = sum(1 for o in outcomes.values() if not o.cached and o.reason != "budget")
        tail = (
            f" The run stopped at once; the {saved:,} replies that finished before are saved "
            "in the cache, so re-running resumes where it stopped."
        )
        if stop.kind == "auth":
            return (
                f"{self.provider_name} rejected the API key ({stop.message}). "
                f"{self.key_hint or 'Check the API key.'}{tail}"
            )
        if stop.kind == "cache":
            return (
                f"{stop.message}. The run stopped rather than pay for replies it cannot keep: "
                f"free some disk space, or pass another cache=...{tail}"
            )
        return (
            f"the {self.provider_name} provider failed unexpectedly ({stop.message}): a bug in "
            f"the provider rather than in your data; please report it.{tail}"
        )


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 10 else f"${value:,.4f}"
