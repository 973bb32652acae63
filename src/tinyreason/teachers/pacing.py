"""Pacing for the teacher engine: the clock, the run's rate limits and retry backoff.

Time comes from an injectable :class:`Clock`, so tests of rate limits and backoff run on a fake
clock (:class:`tinyreason.testing.FakeClock`): exact and instant.
"""

from __future__ import annotations

import asyncio
import random
import time
from typing import Protocol

__all__ = ["Clock", "RateLimiter", "RealClock", "TokenBucket", "backoff_delay"]


class Clock(Protocol):
    """Where the engine gets time from (:class:`RealClock`, or a fake one in tests)."""

    def now(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""
        ...


class RealClock:
    """The real monotonic clock and ``asyncio.sleep``.

    Example:
        >>> RealClock().now() > 0
        True
    """

    def now(self) -> float:
        """``time.monotonic()``."""
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep(seconds)``."""
        await asyncio.sleep(max(0.0, seconds))


class TokenBucket:
    """A token bucket that paces requests (RPM) or tokens (TPM).

    It refills at ``per_minute / 60`` per second up to one second's worth (at least one unit), so
    calls are spread evenly rather than sent in a burst the provider might reject. A request larger
    than the bucket waits for a full bucket and then leaves it in debt, so big prompts are never
    stuck forever. :meth:`refund` corrects an estimate afterwards (a negative amount charges more).

    Args:
        per_minute: The limit, per minute.
        clock: The clock to pace on.

    Example:
        >>> bucket = TokenBucket(60, RealClock())
        >>> bucket.capacity
        1.0
    """

    def __init__(self, per_minute: float, clock: Clock):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.clock = clock
        self.updated = clock.now()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self.clock.now()
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    async def acquire(self, amount: float = 1.0) -> None:
        """Wait until ``amount`` may be spent, then spend it. Waiters are served in order."""
        async with self._lock:
            need = min(amount, self.capacity)
            while True:
                self._refill()
                if self.level >= need - 1e-9:
                    self.level -= amount
                    return
                await self.clock.sleep((need - self.level) / self.rate)

    def refund(self, amount: float) -> None:
        """Give back ``amount`` (an over-estimate), or charge more when it is negative."""
        self._refill()
        self.level = min(self.capacity, self.level + amount)


class RateLimiter:
    """The limits one run shares: requests per minute, tokens per minute, and a pause after a 429.

    TPM is charged an estimate before a call (:meth:`acquire`) and corrected with the real usage
    after (:meth:`refund`). A rate limit with ``Retry-After`` holds every new call (:meth:`pause`),
    since the limit belongs to the whole run, not to the one call that met it.

    Args:
        clock: The clock to pace on.
        requests_per_minute: RPM limit, or None.
        tokens_per_minute: TPM limit, or None.

    Example:
        >>> import asyncio
        >>> limiter = RateLimiter(RealClock(), requests_per_minute=600, tokens_per_minute=6000)
        >>> asyncio.run(limiter.acquire(50))
        >>> limiter.refund(50)  # the call was rejected: its tokens were not used
        >>> limiter.pause(0.0)
    """

    def __init__(
        self,
        clock: Clock,
        requests_per_minute: float | None = None,
        tokens_per_minute: float | None = None,
    ):
        self.clock = clock
        self.rpm = TokenBucket(requests_per_minute, clock) if requests_per_minute else None
        self.tpm = TokenBucket(tokens_per_minute, clock) if tokens_per_minute else None
        self.paused_until = 0.0

    async def acquire(self, tokens: float) -> None:
        """Wait out any pause, then take one request and ``tokens`` tokens from the limits."""
        while (wait := self.paused_until - self.clock.now()) > 0:
            await self.clock.sleep(wait)
        if self.rpm is not None:
            await self.rpm.acquire(1)
        if self.tpm is not None:
            await self.tpm.acquire(tokens)

    def refund(self, tokens: float) -> None:
        """Give back TPM ``tokens`` charged but not used (a negative amount charges more)."""
        if self.tpm is not None:
            self.tpm.refund(tokens)

    def pause(self, seconds: float) -> None:
        """Hold every new call until ``seconds`` from now (or longer, if already paused longer)."""
        self.paused_until = max(self.paused_until, self.clock.now() + seconds)


def backoff_delay(
    attempt: int,
    *,
    base: float,
    cap: float,
    rng: random.Random,
    retry_after: float | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt + 1``: full jitter, or ``Retry-After``.

    Full jitter (uniform between 0 and ``min(cap, base * 2**attempt)``) spreads retries of many
    concurrent calls apart instead of synchronising them. When the provider said how long to wait,
    that wait is honoured, plus up to 10% so the calls it rejected together do not return together.

    Example:
        >>> rng = random.Random(0)
        >>> 0 <= backoff_delay(3, base=1.0, cap=60.0, rng=rng) <= 8.0
        True
        >>> 5.0 <= backoff_delay(0, base=1.0, cap=60.0, rng=rng, retry_after=5.0) <= 5.5
        True
    """
    if retry_after is not None and retry_after > 0:
        return retry_after * (1.0 + 0.1 * rng.random())
    return rng.uniform(0.0, min(cap, base * 2.0**attempt))
