"""Adaptive concurrency: how many calls a run may have in flight, learnt from the provider's 429s.

A provider's limits (requests in flight, per minute, tokens per minute) are rarely known to the
client, and a run started at ``concurrency=64`` against a key that may have 8 calls in flight gets
a 429 for most of them. :class:`ConcurrencyWindow` finds the limit the way TCP finds a network's
capacity (AIMD: additive increase, multiplicative decrease):

* a call starts only while fewer than ``limit`` calls are in flight (``limit`` starts at the
  run's ``concurrency``, its ceiling); waiting calls start first come, first served;
* a 429 halves ``limit``, once per *epoch*: only a call started under the current window counts,
  so the 56 refusals of one burst of 64 halve it once, not 56 times. Every 429 also bounds the
  provider's limit: it refused a call while at most ``n`` of ours were in flight (the most there
  were during that call), so it serves at most ``n - 1`` at once, and the window keeps below that;
* replies grow ``limit`` back: by 1 each up to the *stable* level (the most calls that were in
  flight for a whole window of replies without a 429, within the bounds above), so a halving
  costs a short dip rather than a slow climb; past it by ``1 / limit`` each (one more call per
  window of replies: additive increase), probing, so the window finds out when the provider's
  limit rises. A probe refused again at the same level makes the next one wait twice as many
  windows of replies (back to one when a probe holds), so a long run pays few 429s for probing;
* a window that was never full for a whole window of replies is cut to just above what was used
  (congestion window validation, RFC 7661): the calls refused by a burst and waiting out their
  ``Retry-After`` then come back into a window the provider has shown it takes, not into the
  halved-but-still-too-large one;
* ``Retry-After`` is honoured by the call that got it (the engine waits that long before asking
  again, with up to 10% jitter, so the refused calls do not return together); when even one call
  at a time is refused, the limit is the provider's whole quota: the window holds every call until
  the ``Retry-After``, then one call probes first and the others follow one per reply.

Time comes from the engine's :class:`~.pacing.Clock`, so the window runs on a fake clock in tests.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass

from .pacing import Clock

__all__ = ["ConcurrencyWindow", "Slot"]


@dataclass(eq=False)
class Slot:
    """A call's place in the window; give it back with :meth:`ConcurrencyWindow.release`.

    Attributes:
        epoch: The window's epoch when the call started (a 429 of an older epoch is old news).
        in_flight: Calls in flight when it started, itself included.
        started: How many calls the window had started before it (to count those since).
        released: Whether it was given back (a second release is ignored).
    """

    epoch: int = 0
    in_flight: int = 1
    started: int = 0
    released: bool = False


class ConcurrencyWindow:
    """How many calls may be in flight now: AIMD on the provider's 429s, up to ``ceiling``.

    Args:
        ceiling: The most calls in flight (the run's ``concurrency``); the window starts there.
        clock: The clock holds are timed on.
        decrease: What a 429 multiplies the limit by.

    Attributes:
        limit: Calls allowed in flight now (a float: it grows by fractions).
        in_flight: Calls in flight now.
        decreases: How many times a 429 shrank the window.
        holds: How many times the window held every call until a ``Retry-After``.
        refusals: 429s seen.

    Example:
        >>> import asyncio
        >>> from tinyreason.teachers.pacing import RealClock
        >>> async def demo():
        ...     window = ConcurrencyWindow(16, RealClock())
        ...     slots = [await window.acquire() for _ in range(16)]
        ...     window.release(slots[0], limited=True, wait=1.0)  # a 429: halve the window
        ...     window.release(slots[1], limited=True, wait=1.0)  # same burst: no decrease
        ...     window.release(slots[2], ok=True)  # a reply: +1/limit (additive increase)
        ...     return window.limit, window.in_flight, window.decreases
        >>> asyncio.run(demo())
        (8.125, 13, 1)
    """

    def __init__(self, ceiling: int, clock: Clock, *, decrease: float = 0.5):
        self.ceiling = max(1, int(ceiling))
        self.clock = clock
        self.decrease = decrease
        self.limit = float(self.ceiling)
        self.in_flight = 0
        self.epoch = 0
        self.hold_until = 0.0
        self.decreases = self.holds = self.refusals = 0
        # Below the threshold a reply adds 1 (regrowth to a proven level), above it 1 / limit.
        self._threshold = float(self.ceiling)
        # The most calls seen in flight for a whole window of replies without a 429 (0: none
        # yet), capped by what 429s have shown: the level regrowth may hurry back to.
        self.stable = 0.0
        self._clean_replies, self._clean_peak = 0, 0
        # Windows of replies between probes past the stable level: doubled each time a probe is
        # refused there, back to 1 when one holds, so a long run pays few 429s for probing.
        self._probe_gap = 1
        self._waiters: deque[asyncio.Future[Slot]] = deque()
        self._timer: asyncio.Task[None] | None = None
        self._started = 0  # calls started so far
        # Calls in flight after each start, from the start numbered _base on: the most in flight
        # during any call's life is the largest since its own start (forgotten when all are done).
        self._levels: list[int] = []
        self._base = 0

    @property
    def allowed(self) -> int:
        """Calls that may be in flight now: the limit, rounded down, at least one."""
        return max(1, int(self.limit))

    def _open(self) -> bool:
        return self.in_flight < self.allowed and self.clock.now() >= self.hold_until

    def _take(self) -> Slot:
        self.in_flight += 1
        if self.in_flight > self._clean_peak:  # a new level: its window of replies starts now
            self._clean_peak, self._clean_replies = self.in_flight, 0
        self._started += 1
        self._levels.append(self.in_flight)
        return Slot(self.epoch, self.in_flight, self._started)

    async def acquire(self) -> Slot:
        """Wait for a place in the window (first come, first served), and take it."""
        if not self._waiters and self._open():
            return self._take()
        waiter: asyncio.Future[Slot] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._grant()
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # granted as it was cancelled
                self.release(waiter.result())
            else:
                with contextlib.suppress(ValueError):
                    self._waiters.remove(waiter)
            raise

    def release(
        self, slot: Slot, *, ok: bool = False, limited: bool = False, wait: float = 0.0
    ) -> None:
        """Give back ``slot``: after a reply (``ok``), a 429 (``limited``), or anything else.

        Args:
            slot: What :meth:`acquire` returned.
            ok: The call got a reply: the window grows.
            limited: The call was refused with a 429: the window shrinks (once per epoch).
            wait: How long the refused call will wait before asking again (its
                ``Retry-After``): the hold, when even one call at a time is refused.
        """
        if slot.released:  # given back already
            return
        slot.released = True
        self.in_flight -= 1
        # The most calls in flight during its life (only a 429 needs it: its life is short).
        peak = 0 if not limited else max(self._levels[slot.started - 1 - self._base :], default=1)
        if self.in_flight == 0:
            self._levels.clear()
            self._base = self._started
        if ok:
            self._replied()
        elif limited:
            self._refused(slot, wait, bound=max(1.0, peak - 1.0))
        self._grant()

    def _replied(self) -> None:
        self._clean_replies += 1
        if self._clean_replies >= self._clean_peak > self.stable:  # a whole window, no 429
            self.stable, self._probe_gap = float(self._clean_peak), 1  # a probe that held
        elif (
            not self._waiters
            and self._clean_replies >= self._clean_peak
            and self.limit > self._clean_peak + 1
        ):
            # A whole window of replies and the window was never full: its size was never
            # shown to be safe (RFC 7661). Keep it just above what was used, so that calls
            # coming back together (after a Retry-After) cannot burst into it.
            self.limit = self._clean_peak + 1.0
            self._threshold = min(self._threshold, max(self.limit, self.stable))
        if self.limit < self._threshold:
            self.limit = min(self._threshold, self.limit + 1.0)
        else:  # additive: one more call per `_probe_gap` windows of replies
            step = 1.0 / (self.limit * self._probe_gap)
            self.limit = min(float(self.ceiling), self.limit + step)

    def _refused(self, slot: Slot, wait: float, bound: float) -> None:
        """A 429 while at most ``bound + 1`` were in flight: the provider serves <= ``bound``."""
        self.refusals += 1
        self.stable = min(self.stable, bound)
        self._clean_replies, self._clean_peak = 0, self.in_flight
        if slot.epoch != self.epoch:  # started before the last decrease: already reacted to
            self.limit = max(1.0, min(self.limit, bound))
            self._threshold = max(self.limit, min(self._threshold, bound))
            return
        self.epoch += 1
        if self.allowed <= 1:
            # Even one call at a time is refused: the limit is the provider's whole quota, not
            # our share of it. Hold everything until Retry-After, then let one call probe.
            self.holds += 1
            self.hold_until = max(self.hold_until, self.clock.now() + max(0.0, wait))
            self.limit, self._threshold = 1.0, max(1.0, self.stable)
            return
        self.decreases += 1
        if self.stable and bound <= self.stable:  # a probe past the stable level failed again:
            self._probe_gap = min(2 * self._probe_gap, 64)  # probe there half as often
        self.limit = max(1.0, min(self.limit * self.decrease, bound))
        self._threshold = max(self.limit, self.stable)

    def _grant(self) -> None:
        """Start waiting calls while there is room, in order; wake them after a hold."""
        while self._waiters and self._open():
            waiter = self._waiters.popleft()
            if waiter.done():  # cancelled while it waited
                continue
            waiter.set_result(self._take())
        if self._waiters and self.clock.now() < self.hold_until and self._timer is None:
            self._timer = asyncio.ensure_future(self._end_hold())

    async def _end_hold(self) -> None:
        try:
            while (left := self.hold_until - self.clock.now()) > 0:
                await self.clock.sleep(left)
        finally:
            self._timer = None
        self._grant()

    def close(self) -> None:
        """Stop the hold's timer (at the end of a run)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
