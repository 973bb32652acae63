"""One request's call, as the engine makes it: paced, timed out, classified and retried.

The retry policy lives here (:class:`Caller`): retryable failures (429, 5xx, timeouts, dropped
connections) are retried with exponential backoff and full jitter, waiting at least what
``Retry-After`` asked; permanent failures (400, safety blocks) are not retried; a rejected key
(``auth``) or a provider bug stops the whole run (:class:`StopRun`). Every message is scrubbed of
the key before it is kept.

Each attempt takes a place in the run's :class:`~.adaptive.ConcurrencyWindow`, which a 429 shrinks
and replies grow. A 429 that came while other calls of the run got replies (since this request's
previous attempt started) is the provider sharing out its limit, not this request failing: it does
not use up the request's ``max_retries`` (each such retry needs a reply elsewhere in between, so
they are bounded by the run's size). A 429 while nothing else gets through counts like any other
failure.
"""

from __future__ import annotations

import asyncio
import logging
import random
import sys
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from .._secrets import scrub
from ..records import THINKING_KINDS, Usage
from .adaptive import ConcurrencyWindow
from .base import Provider, ProviderError, TeacherReply, TeacherRequest
from .pacing import Clock, RateLimiter, backoff_delay
from .pricing import Price
from .summary import Outcome

__all__ = ["Caller", "EngineSettings", "Job", "StopRun", "Tally"]

logger = logging.getLogger("tinyreason.teachers")

T = TypeVar("T")

_MAX_MESSAGE = 500  # failure messages are cut here (a proxy may answer with a whole HTML page)


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

    Example:
        >>> EngineSettings(concurrency=4, max_output_tokens=1000).projected_output_tokens
        1000
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

    @property
    def projected_output_tokens(self) -> int:
        """Output + thinking tokens assumed per call: the expectation, capped by the output cap."""
        expected = self.expected_output_tokens
        if self.max_output_tokens:
            expected = min(expected, self.max_output_tokens)
        return expected


@dataclass
class Job:
    """One request to ask, with its cache key and what it is projected to cost.

    Example:
        >>> Job("k", TeacherRequest("p1", "What is 6 * 7?", "m"), input_tokens=4).projected_usd
        0.0
    """

    key: str
    request: TeacherRequest
    input_tokens: int
    projected_usd: float = 0.0


@dataclass
class Tally:
    """What a run has done so far: calls, retries, tokens and dollars (shared by its workers).

    Example:
        >>> Tally().requests
        0
    """

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    usage: Usage = field(default_factory=Usage)
    spent: float = 0.0
    in_flight_usd: float = 0.0
    in_flight: int = 0
    generated_tokens: int = 0
    replies: int = 0
    calls_done: int = 0
    failed: int = 0


class StopRun(Exception):
    """Raised inside a worker to stop the whole run (never shown to users: it becomes RunStopped).

    Args:
        kind: ``"auth"`` (a rejected key), ``"bug"`` (the provider failed unexpectedly) or
            ``"cache"`` (a reply could not be saved).
        message: What happened, already scrubbed.

    Example:
        >>> StopRun("auth", "auth: HTTP 401").kind
        'auth'
    """

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


class Caller:
    """Makes one request's call with the run's limits and retry policy; returns its outcome.

    Args:
        provider: The provider to call.
        settings: Retries, backoff, timeout and the TPM charge.
        limiter: The run's shared rate limits.
        price: The model's price, or None when unknown (costs are then None).
        tally: The run's counters: calls, retries and the tokens of replies are booked here.
        secrets: Strings (the API key) scrubbed from every message.
        clock: Time source of the backoff waits.
        rng: Randomness of the backoff jitter.
        window: The run's adaptive concurrency window; None: one of ``settings.concurrency``.

    Example:
        >>> import asyncio
        >>> from tinyreason.testing import FakeProvider
        >>> from tinyreason.teachers.pacing import RealClock
        >>> clock, tally = RealClock(), Tally()
        >>> caller = Caller(FakeProvider(), EngineSettings(), RateLimiter(clock), price=None,
        ...                 tally=tally, secrets=(), clock=clock, rng=random.Random(0))
        >>> job = Job("k", TeacherRequest("p1", "What is 6 * 7?", "m"), input_tokens=4)
        >>> outcome = asyncio.run(caller.call(job))
        >>> outcome.reply.answer, outcome.attempts, tally.requests
        ('Answer: What is 6 * 7?', 1, 1)
    """

    def __init__(
        self,
        provider: Provider,
        settings: EngineSettings,
        limiter: RateLimiter,
        *,
        price: Price | None,
        tally: Tally,
        secrets: Sequence[str],
        clock: Clock,
        rng: random.Random,
        window: ConcurrencyWindow | None = None,
    ):
        self.provider, self.settings, self.limiter = provider, settings, limiter
        self.price, self.tally, self.secrets = price, tally, tuple(secrets)
        self.clock, self.rng = clock, rng
        self.window = window or ConcurrencyWindow(settings.concurrency, clock)

    async def call(self, job: Job) -> Outcome:
        """The request's outcome after at most ``1 + max_retries`` counted attempts.

        Raises:
            StopRun: the key was rejected, or the provider failed unexpectedly.
        """
        settings, tally, window = self.settings, self.tally, self.window
        tpm_charge = job.input_tokens + (
            settings.max_output_tokens or settings.projected_output_tokens
        )
        attempts = counted = 0  # every call made; the failures that use up max_retries
        since = -1  # the run's replies when this request's previous attempt started
        while True:
            slot = await window.acquire()
            since, replies_at_start = (tally.replies if since < 0 else since), tally.replies
            try:
                await self.limiter.acquire(tpm_charge)
                tally.requests += 1
                attempts += 1
                result = await self._attempt(job)
            except BaseException:  # cancelled, or StopRun: the place is free again
                window.release(slot)
                raise
            if isinstance(result, TeacherReply):
                window.release(slot, ok=True)
                return self._replied(result, tpm_charge, attempts)
            error = result
            self.limiter.refund(tpm_charge)  # a rejected call used no tokens
            limited = error.reason == "rate_limit"
            delay = backoff_delay(
                counted,
                base=settings.retry_base_delay,
                cap=settings.retry_max_delay,
                rng=self.rng,
                retry_after=error.retry_after,
            )
            window.release(slot, limited=limited, wait=delay)
            message = short(scrub(str(error), self.secrets))
            if error.reason == "auth":
                raise StopRun("auth", f"{error.reason}: {message}")
            tally.rate_limited += limited
            # Refused while other calls got replies since this request last tried: the provider
            # is sharing out its limit, and the smaller window will get this one through. Not a
            # failure of this request. (Each such retry needs a reply in between: bounded.)
            if not (limited and tally.replies > since):
                counted += 1
            since = replies_at_start
            if not error.retryable or counted > settings.max_retries:
                logger.debug("failed %s after %d attempt(s): %s", job.key[:12], attempts, message)
                return Outcome(None, error.reason, message, attempts=attempts)
            logger.debug(
                "retrying %s in %.2f s (attempt %d, %d of %d counted) after %s: %s",
                job.key[:12],
                delay,
                attempts + 1,
                counted,
                settings.max_retries + 1,
                error.reason,
                message,
            )
            tally.retries += 1
            await self.clock.sleep(delay)

    def _replied(self, reply: TeacherReply, tpm_charge: int, attempts: int) -> Outcome:
        """Book a reply's real tokens (TPM and the tally) and cost."""
        self.limiter.refund(tpm_charge - reply.usage.total_tokens)
        cost = None if self.price is None else self.price.cost(reply.usage)
        tally = self.tally
        tally.usage += reply.usage
        tally.generated_tokens += reply.usage.output_tokens + reply.usage.thinking_tokens
        tally.replies += 1
        return Outcome(reply, cost_usd=cost, attempts=attempts)

    async def _attempt(self, job: Job) -> TeacherReply | ProviderError:
        """One call: the reply, or the error to handle (unexpected ones stop the run)."""
        timeout = self.settings.timeout
        try:
            reply = await with_timeout(self.provider.complete(job.request), timeout)
        except ProviderError as exc:
            return exc
        except asyncio.TimeoutError:
            return ProviderError(
                f"no reply within timeout={timeout:g} s", reason="timeout", retryable=True
            )
        except (ConnectionError, OSError) as exc:  # a provider that let a socket error through
            return ProviderError(
                f"{type(exc).__name__}: {exc}", reason="connection", retryable=True
            )
        except Exception as exc:
            text = short(scrub(f"{type(exc).__name__}: {exc}", self.secrets))
            raise StopRun("bug", text) from None
        # A malformed reply is the provider's bug: stop now rather than pay for every row and
        # fail when the Dataset is built.
        if not isinstance(reply, TeacherReply):
            raise StopRun("bug", f"complete() returned {type(reply).__name__}, not a TeacherReply")
        if reply.thinking_kind not in THINKING_KINDS or not isinstance(reply.usage, Usage):
            raise StopRun("bug", f"complete() returned thinking_kind={reply.thinking_kind!r}")
        return reply


if sys.version_info >= (3, 11):

    async def with_timeout(awaitable: Awaitable[T], seconds: float) -> T:
        """Await ``awaitable`` for at most ``seconds`` (:class:`asyncio.TimeoutError` after)."""
        # Runs the call in this task (wait_for makes a task per call on 3.11): less overhead,
        # and the call starts exactly when its rate-limit slot is granted.
        async with asyncio.timeout(seconds):
            return await awaitable

else:  # pragma: no cover - Python 3.10

    async def with_timeout(awaitable: Awaitable[T], seconds: float) -> T:
        """Await ``awaitable`` for at most ``seconds`` (:class:`asyncio.TimeoutError` after)."""
        return await asyncio.wait_for(awaitable, seconds)


def short(text: str, limit: int = _MAX_MESSAGE) -> str:
    """``text`` on one line, cut to ``limit`` characters.

    Example:
        >>> short("a\\n  b", 10), short("x" * 20, 5)
        ('a b', 'xxxx…')
    """
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
