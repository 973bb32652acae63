"""The adaptive concurrency window on its own: AIMD, epochs, bounds, holds, order, cancellation.

Everything runs on a FakeClock and counts: no wall-clock time decides anything here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from tinyreason.teachers.adaptive import ConcurrencyWindow, Slot
from tinyreason.testing import FakeClock

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(main)


async def fill(window: ConcurrencyWindow, n: int) -> list[Slot]:
    return [await window.acquire() for _ in range(n)]


def test_a_burst_of_refusals_halves_the_window_once() -> None:
    async def main() -> ConcurrencyWindow:
        window = ConcurrencyWindow(64, FakeClock())
        slots = await fill(window, 64)
        for slot in slots[8:]:  # the provider served 8 and refused the other 56
            window.release(slot, limited=True, wait=1.0)
        return window

    window = run(main())
    assert (window.decreases, window.refusals, window.in_flight) == (1, 56, 8)
    assert window.limit == 32 and window.epoch == 1


def test_a_refusal_of_a_newer_epoch_halves_again() -> None:
    async def main() -> ConcurrencyWindow:
        window = ConcurrencyWindow(64, FakeClock())
        first = await fill(window, 64)
        window.release(first[0], limited=True)  # 64 -> 32
        for slot in first[1:40]:
            window.release(slot, ok=True)
        again = await window.acquire()  # started under the halved window
        window.release(again, limited=True)  # 32-ish -> 16-ish
        return window

    window = run(main())
    assert window.decreases == 2 and 16 <= window.limit < 17


def test_a_refusal_bounds_the_window_by_the_calls_in_flight() -> None:
    # A call refused while at most 5 were in flight: the provider serves at most 4 at once.
    async def main() -> ConcurrencyWindow:
        window = ConcurrencyWindow(16, FakeClock())
        slots = await fill(window, 5)
        window.release(slots[4], limited=True)
        return window

    window = run(main())
    assert window.limit == 4 and window.allowed == 4


def test_replies_grow_the_window_additively() -> None:
    async def main() -> list[float]:
        window = ConcurrencyWindow(16, FakeClock())
        slots = await fill(window, 16)
        window.release(slots[0], limited=True)  # 16 -> 8, no stable level known yet
        limits = []
        for slot in slots[1:]:
            window.release(slot, ok=True)
            limits.append(window.limit)
        return limits

    limits = run(main())
    # +1/limit a reply: one more call in flight per window of replies, never a jump.
    steps = [b - a for a, b in zip([8.0, *limits], limits, strict=False)]
    assert all(0 < step <= 1 / 8 for step in steps)
    assert 9.0 < limits[-1] < 10.0


def test_after_a_probe_is_refused_the_window_regrows_fast_to_the_stable_level() -> None:
    async def main() -> tuple[float, float, list[float]]:
        window = ConcurrencyWindow(64, FakeClock())
        window.limit = 8.0  # settled at the provider's limit
        for _ in range(3):  # whole windows of replies with 8 in flight, no 429
            for slot in await fill(window, 8):
                window.release(slot, ok=True)
        stable = window.stable
        window.limit = 9.0
        probe = await fill(window, 9)
        window.release(probe[8], limited=True)  # the 9th is refused: halve
        halved = window.limit
        grown = []
        for slot in probe[:8]:
            window.release(slot, ok=True)
            grown.append(window.limit)
        return stable, halved, grown

    stable, halved, grown = run(main())
    assert stable == 8 and halved == 4.5
    assert grown[:4] == [5.5, 6.5, 7.5, 8.0]  # +1 a reply back to the stable level
    assert all(8.0 <= g < 8.6 for g in grown[4:])  # then additive again


def test_waiting_calls_start_in_order_one_per_free_place() -> None:
    async def main() -> list[int]:
        window = ConcurrencyWindow(2, FakeClock())
        held = await fill(window, 2)
        order: list[int] = []

        async def wait_for(i: int) -> None:
            slot = await window.acquire()
            order.append(i)
            window.release(slot, ok=True)

        waiting = [asyncio.ensure_future(wait_for(i)) for i in range(5)]
        await asyncio.sleep(0)
        assert order == []  # the window is full
        for slot in held:
            window.release(slot, ok=True)
        await asyncio.gather(*waiting)
        return order

    assert run(main()) == [0, 1, 2, 3, 4]


def test_refused_at_one_call_the_window_holds_then_one_call_probes() -> None:
    async def main() -> tuple[list[tuple[float, int]], ConcurrencyWindow]:
        clock = FakeClock()
        window = ConcurrencyWindow(8, clock)
        window.limit = 1.0
        started: list[tuple[float, int]] = []
        [slot] = await fill(window, 1)
        window.release(slot, limited=True, wait=30.0)  # even one call is refused: hold 30 s

        async def call() -> None:
            slot = await window.acquire()
            started.append((clock.now(), window.in_flight))
            await asyncio.sleep(0)  # the reply comes back a moment later
            window.release(slot, ok=True)

        await asyncio.gather(*(call() for _ in range(6)))
        return started, window

    started, window = run(main())
    assert window.holds == 1
    assert all(when >= 30.0 for when, _ in started)  # nobody started during the hold
    assert started[0][1] == 1  # one probe first, alone
    assert max(n for _, n in started) <= 3  # then one more per reply, never all six at once


def test_a_cancelled_waiter_takes_no_place() -> None:
    async def main() -> ConcurrencyWindow:
        window = ConcurrencyWindow(1, FakeClock())
        [slot] = await fill(window, 1)
        waiter = asyncio.ensure_future(window.acquire())
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        window.release(slot, ok=True)
        again = await window.acquire()  # the place went to nobody in between
        window.release(again, ok=True)
        window.release(again, ok=True)  # a second release is ignored
        return window

    window = run(main())
    assert window.in_flight == 0


def test_close_stops_a_pending_hold_timer() -> None:
    async def main() -> tuple[bool, bool]:
        window = ConcurrencyWindow(1, FakeClock())
        [slot] = await fill(window, 1)
        window.release(slot, limited=True, wait=60.0)  # hold
        waiter = asyncio.ensure_future(window.acquire())
        await asyncio.sleep(0)
        timer = window._timer
        assert timer is not None and not timer.done()  # a timer ends the hold
        window.close()
        waiter.cancel()
        await asyncio.gather(waiter, timer, return_exceptions=True)
        return timer.cancelled(), window._timer is None

    assert run(main()) == (True, True)


async def _replies_until(window: ConcurrencyWindow, allowed: int, in_flight: int) -> int:
    """Replies (with ``in_flight`` calls kept in flight) until ``allowed`` calls may run."""
    slots = await fill(window, in_flight)
    replies = 0
    while window.allowed < allowed:
        window.release(slots.pop(0), ok=True)
        replies += 1
        slots.append(await window.acquire())
        assert replies < 10_000
    for slot in slots:
        window.release(slot, ok=True)
    return replies


def test_a_probe_refused_again_at_the_same_level_waits_twice_as_long() -> None:
    async def main() -> list[int]:
        window = ConcurrencyWindow(64, FakeClock())
        window.limit = 8.0
        await _replies_until(window, 8, 8)
        for _ in range(3):  # whole windows of replies at 8: the stable level
            for slot in await fill(window, 8):
                window.release(slot, ok=True)
        assert window.stable == 8
        gaps = []
        for _ in range(3):
            gaps.append(await _replies_until(window, 9, 8))  # the probe: a 9th call
            probe = await fill(window, 9)
            window.release(probe[8], limited=True)  # refused: the provider serves 8
            for slot in probe[:8]:
                window.release(slot, ok=True)
        return gaps

    _, second, third = run(main())  # the first probe came at once: no refusal before it
    # After one refused probe the next waits about 2 windows of replies, then about 4.
    assert second >= 8 and third >= 2 * second - 2, (second, third)


def test_a_window_never_full_is_cut_to_what_was_used() -> None:
    async def main() -> float:
        window = ConcurrencyWindow(32, FakeClock())
        slots = await fill(window, 8)  # only 8 calls want to run, for a whole window of replies
        for _ in range(8):
            window.release(slots.pop(0), ok=True)
            slots.append(await window.acquire())
        for slot in slots:
            window.release(slot, ok=True)
        return window.limit

    # Not 32: calls coming back together cannot burst into it (then additive growth again).
    assert 9.0 <= run(main()) < 10.0
