"""The teacher engine: every provider's calls go through here.

It turns a list of requests into outcomes, spending as little as possible and never paying twice:

* answers already in the cache are not asked again (``refresh=`` re-asks chosen ones);
* identical requests (same cache key) are asked once and shared;
* at most ``concurrency`` calls are in flight, paced by requests-per-minute and tokens-per-minute
  token buckets (TPM charges an estimate before a call and corrects it with the real usage after);
* retryable failures (429, 5xx, timeouts, dropped connections) are retried with exponential
  backoff and full jitter, waiting at least what ``Retry-After`` asked; a 429 with ``Retry-After``
  also pauses every new call, since the limit is shared by the whole run;
* permanent failures (400, safety blocks) are not retried; an ``auth`` failure (a bad or revoked
  key) stops the whole run at once, because it would fail every remaining row;
* each outcome is committed to the cache before it is counted done;
* ``max_cost_usd``: a call starts only if what was spent, plus the projected cost of the calls in
  flight, plus its own projected cost, stays within the cap; otherwise the run stops cleanly and
  the rest are marked ``"budget"`` (not cached, so a re-run with a higher cap resumes them).

Time comes from an injectable :class:`~.pacing.Clock`, so tests of limits and backoff run
instantly. Outcomes and the run summary are in :mod:`.summary`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import sys
import time
from collections import deque
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ..errors import ConfigError
from ..records import THINKING_KINDS, Usage
from .base import Provider, ProviderError, TeacherReply, TeacherRequest
from .cache import CacheEntry, ReplyCache
from .pacing import Clock, RealClock, TokenBucket, backoff_delay
from .pricing import Price, estimate_tokens
from .summary import Outcome, RunStopped, RunSummary

__all__ = [
    "EngineSettings",
    "Outcome",  # re-exported from .summary, with the other names callers meet in a run
    "RunStopped",
    "RunSummary",
    "TeacherEngine",
    "scrub",
]

logger = logging.getLogger("tinyreason.teachers")

T = TypeVar("T")

_MAX_MESSAGE = 500  # failure messages are cut here (a proxy may answer with a whole HTML page)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret replaced by ``***`` (SDK errors sometimes echo the key).

    Example:
        >>> scrub("Incorrect API key provided: sk-123456789", ["sk-123456789"])
        'Incorrect API key provided: ***'
    """
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return text


# -- the engine --------------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineSettings:
    """How the engine calls a provider (none of it changes the replies, so none is in the key).

    Args:
        concurrency: Calls in flight at most.
        requests_per_minute: RPM limit, or None.
        tokens_per_minute: TPM limit (input + output + thinking), or None.
        max_retries: Retries after the first attempt, for retryable failures.
        timeout: Seconds one call may take before it counts as a (retryable) timeout.
        retry_base_delay: Backoff before the first retry, doubled each retry (then jittered).
        retry_max_delay: The backoff's ceiling.
        expected_output_tokens: Output + thinking tokens a call is assumed to use until real
            replies say otherwise (for TPM pacing and the budget projection).
        max_output_tokens: The output cap, when set: what TPM charges before a call.
    """

    concurrency: int = 16
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    max_retries: int = 6
    timeout: float = 600.0
    retry_base_delay: float = 1.0
    retry_max_delay: float = 60.0
    expected_output_tokens: int = 4000
    max_output_tokens: int | None = None


@dataclass
class _Job:
    key: str
    request: TeacherRequest
    input_tokens: int
    projected_usd: float = 0.0


class _Stop(Exception):
    """Raised inside a worker to stop the whole run (never shown to users)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


@dataclass
class _Tally:
    requests: int = 0
    retries: int = 0
    usage: Usage = field(default_factory=Usage)
    spent: float = 0.0
    in_flight_usd: float = 0.0
    in_flight: int = 0
    generated_tokens: int = 0
    replies: int = 0
    calls_done: int = 0
    failed: int = 0


class TeacherEngine:
    """Runs requests through one provider with the cache, limits, retries and budget.

    Args:
        provider: The provider to call (its ``complete`` is called concurrently).
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
        provider: Provider,
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
    ):
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
        self.summary: RunSummary | None = None

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
        self._tally = _Tally()
        self._budget_hit = False
        self._pause_until = 0.0
        self._rpm = self._tpm = None
        if self.settings.requests_per_minute:
            self._rpm = TokenBucket(self.settings.requests_per_minute, self.clock)
        if self.settings.tokens_per_minute:
            self._tpm = TokenBucket(self.settings.tokens_per_minute, self.clock)
        self._settled = asyncio.Condition()
        self._commits: list[asyncio.Future[None]] = []  # every commit of this run
        self._cache_failure: _Stop | None = None

        unique: dict[str, TeacherRequest] = {}
        for key, request in requests:
            unique.setdefault(key, request)
        outcomes: dict[str, Outcome] = {}
        for key, entry in self.cache.get_many(unique).items():
            if not entry.matches(refresh):
                outcomes[key] = Outcome.from_entry(entry)
        jobs = deque(
            _Job(key, req, estimate_tokens((req.system or "") + req.question))
            for key, req in unique.items()
            if key not in outcomes
        )
        self._jobs_total = len(jobs)
        self._bar = self._open_bar(len(unique), len(outcomes))
        stop: _Stop | None = None
        try:
            stop = await self._run_workers(jobs, outcomes)
        finally:
            if self._bar is not None:
                self._bar.close()
            self.summary = self._summarise(requests, outcomes, stop)
        if stop is not None:  # raised here, outside any except block: no chained SDK error
            raise RunStopped(self._stop_message(stop, outcomes), self.summary)
        return outcomes

    # -- workers -------------------------------------------------------------------------------

    async def _run_workers(self, jobs: deque[_Job], outcomes: dict[str, Outcome]) -> _Stop | None:
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
            if isinstance(error, _Stop):
                return error
            if error is not None:
                raise error
        return self._cache_failure

    async def _worker(self, jobs: deque[_Job], outcomes: dict[str, Outcome]) -> None:
        previous: asyncio.Future[None] | None = None
        while jobs:
            if self._cache_failure is not None:  # replies that cannot be saved: stop paying
                raise self._cache_failure
            job = jobs.popleft()
            if not await self._admit(job):
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
            if previous is not None and not previous.done():
                # At most one uncommitted reply per worker, so a crash loses little even on a
                # slow disk. (asyncio.wait: cancelling this worker must not cancel the commit.)
                await asyncio.wait([previous])
            self._tally.in_flight += 1
            outcome = await self._call(job)
            # Committed by the writer thread while this worker starts its next call; the outcome
            # counts as done only once committed (_committed). A stop waits for pending commits.
            previous = self.cache.submit([self._entry(job, outcome)])
            previous.add_done_callback(functools.partial(self._committed, job, outcome, outcomes))
            self._commits.append(previous)

    def _committed(
        self,
        job: _Job,
        outcome: Outcome,
        outcomes: dict[str, Outcome],
        commit: asyncio.Future[None],
    ) -> None:
        """The outcome is on disk (or could not be saved): only now does it count as done."""
        if commit.cancelled():
            return
        error = commit.exception()
        if error is not None:
            self._cache_failure = _Stop(
                "cache", f"could not save to {str(self.cache.path)!r}: {error}"
            )
            return
        outcomes[job.key] = outcome
        self._advance(job.key, outcome)

    async def _admit(self, job: _Job) -> bool:
        """Whether the budget allows this call; waits for calls in flight to settle first."""
        if self.max_cost_usd is None or self.price is None:
            return True
        job.projected_usd = self._projected_cost(job)
        async with self._settled:
            while not self._budget_hit:
                tally = self._tally
                if tally.spent + tally.in_flight_usd + job.projected_usd <= self.max_cost_usd:
                    tally.in_flight_usd += job.projected_usd
                    return True
                if tally.in_flight == 0:
                    self._budget_hit = True
                    break
                await self._settled.wait()  # real costs may come in under their projection
        return False

    def _projected_cost(self, job: _Job) -> float:
        assert self.price is not None
        tally = self._tally
        generated = (
            tally.generated_tokens / tally.replies
            if tally.replies
            else self._expected_output_tokens()
        )
        return (job.input_tokens * self.price.input + generated * self.price.generated) / 1e6

    def _expected_output_tokens(self) -> int:
        expected = self.settings.expected_output_tokens
        if self.settings.max_output_tokens:
            expected = min(expected, self.settings.max_output_tokens)
        return expected

    async def _settle(self, job: _Job, cost: float | None) -> None:
        """A call finished: book its real cost in place of its projection."""
        tally = self._tally
        tally.in_flight -= 1
        tally.calls_done += 1
        tally.in_flight_usd -= job.projected_usd
        tally.spent += cost or 0.0
        if self.max_cost_usd is not None:  # calls may be waiting for the budget to settle
            async with self._settled:
                self._settled.notify_all()

    async def _call(self, job: _Job) -> Outcome:
        """One request, with retries; returns its outcome or raises :class:`_Stop`."""
        settings, tally = self.settings, self._tally
        tpm_charge = job.input_tokens + (
            settings.max_output_tokens or self._expected_output_tokens()
        )
        attempt = 0
        while True:
            while (wait := self._pause_until - self.clock.now()) > 0:
                await self.clock.sleep(wait)
            if self._rpm is not None:
                await self._rpm.acquire(1)
            if self._tpm is not None:
                await self._tpm.acquire(tpm_charge)
            tally.requests += 1
            result = await self._attempt(job)
            if isinstance(result, TeacherReply):
                reply = result
                if self._tpm is not None:
                    self._tpm.refund(tpm_charge - reply.usage.total_tokens)
                cost = None if self.price is None else self.price.cost(reply.usage)
                tally.usage += reply.usage
                tally.generated_tokens += reply.usage.output_tokens
                tally.generated_tokens += reply.usage.thinking_tokens
                tally.replies += 1
                await self._settle(job, cost)
                return Outcome(reply, cost_usd=cost, attempts=attempt + 1)
            error = result
            if self._tpm is not None:
                self._tpm.refund(tpm_charge)  # a rejected call used no tokens
            message = _short(scrub(str(error), self.secrets))
            if error.reason == "auth":
                raise _Stop("auth", f"{error.reason}: {message}")
            if not error.retryable or attempt >= settings.max_retries:
                logger.debug(
                    "failed %s after %d attempt(s): %s", job.key[:12], attempt + 1, message
                )
                await self._settle(job, 0.0)
                return Outcome(None, error.reason, message, attempts=attempt + 1)
            delay = backoff_delay(
                attempt,
                base=settings.retry_base_delay,
                cap=settings.retry_max_delay,
                rng=self.rng,
                retry_after=error.retry_after,
            )
            if error.reason == "rate_limit" and error.retry_after:
                # The limit is shared by the whole run: hold every new call, not just this one.
                self._pause_until = max(self._pause_until, self.clock.now() + delay)
            logger.debug(
                "retrying %s in %.2f s (attempt %d of %d) after %s: %s",
                job.key[:12],
                delay,
                attempt + 2,
                settings.max_retries + 1,
                error.reason,
                message,
            )
            tally.retries += 1
            attempt += 1
            await self.clock.sleep(delay)

    async def _attempt(self, job: _Job) -> TeacherReply | ProviderError:
        """One call: the reply, or the error to handle (unexpected ones stop the run)."""
        try:
            reply = await _with_timeout(self.provider.complete(job.request), self.settings.timeout)
        except ProviderError as exc:
            return exc
        except asyncio.TimeoutError:
            return ProviderError(
                f"no reply within timeout={self.settings.timeout:g} s",
                reason="timeout",
                retryable=True,
            )
        except (ConnectionError, OSError) as exc:  # a provider that let a socket error through
            return ProviderError(
                f"{type(exc).__name__}: {exc}", reason="connection", retryable=True
            )
        except Exception as exc:
            text = _short(scrub(f"{type(exc).__name__}: {exc}", self.secrets))
            raise _Stop("bug", text) from None
        # A malformed reply is the provider's bug: stop now rather than pay for every row and
        # fail when the Dataset is built.
        if not isinstance(reply, TeacherReply):
            raise _Stop("bug", f"complete() returned {type(reply).__name__}, not a TeacherReply")
        if reply.thinking_kind not in THINKING_KINDS or not isinstance(reply.usage, Usage):
            raise _Stop("bug", f"complete() returned thinking_kind={reply.thinking_kind!r}")
        return reply

    # -- bookkeeping ---------------------------------------------------------------------------

    def _entry(self, job: _Job, outcome: Outcome) -> CacheEntry:
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
        stop: _Stop | None,
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
            stopped="budget" if self._budget_hit else (stop.kind if stop else None),
            max_cost_usd=self.max_cost_usd,
        )

    def _stop_message(self, stop: _Stop, outcomes: Mapping[str, Outcome]) -> str:
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


if sys.version_info >= (3, 11):

    async def _with_timeout(awaitable: Awaitable[T], seconds: float) -> T:
        # Runs the call in this task (wait_for makes a task per call on 3.11): less overhead,
        # and the call starts exactly when its rate-limit slot is granted.
        async with asyncio.timeout(seconds):
            return await awaitable

else:  # pragma: no cover - Python 3.10

    async def _with_timeout(awaitable: Awaitable[T], seconds: float) -> T:
        return await asyncio.wait_for(awaitable, seconds)


def _usd(value: float) -> str:
    return f"${value:,.2f}" if value >= 10 else f"${value:,.4f}"


def _short(text: str, limit: int = _MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
