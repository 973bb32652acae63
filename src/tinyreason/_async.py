"""Run a coroutine to completion from synchronous code, even where an event loop already runs.

Jupyter (and IPython with autoawait, and some web frameworks) run an event loop in the main
thread, so ``asyncio.run`` fails there with "cannot be called from a running event loop". Rather
than patching the loop (``nest_asyncio`` changes global state and breaks other libraries), we run
the coroutine in a fresh thread with its own loop and wait for it. The caller's loop is blocked
meanwhile, exactly as it is during any long synchronous cell.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["run_sync"]

T = TypeVar("T")


def run_sync(coro_factory: Callable[[], Awaitable[T]]) -> T:
    """Run ``coro_factory()`` to completion and return its result (or raise its exception).

    Without a running loop in this thread it is ``asyncio.run``. With one (Jupyter), the coroutine
    runs in a new thread with a new loop. A factory, not a coroutine, is taken so that the
    coroutine (and any client objects it makes, which bind to a loop) is created in the thread
    that runs it.

    Interrupting the wait (Ctrl-C, Jupyter's stop button) cancels the coroutine (so it can clean
    up and save what finished, and its requests are dropped rather than left running), waits for
    it to finish, then re-raises ``KeyboardInterrupt``.

    Args:
        coro_factory: A callable returning an awaitable, e.g. ``lambda: main(x)``.

    Returns:
        What the awaitable returned.

    Example:
        >>> import asyncio
        >>> async def answer() -> int:
        ...     await asyncio.sleep(0)
        ...     return 42
        >>> run_sync(answer)
        42
        >>> async def in_a_notebook() -> int:  # a loop already runs, as in Jupyter
        ...     return run_sync(answer)
        >>> asyncio.run(in_a_notebook())
        42
    """
    if _loop_running():
        return _run_in_thread(coro_factory)
    # Outside the `except` that found no loop: an error from the work must not carry a spurious
    # "no running event loop" RuntimeError as its context in the user's traceback.
    return asyncio.run(_as_coroutine(coro_factory))


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


async def _as_coroutine(coro_factory: Callable[[], Awaitable[T]]) -> T:
    return await coro_factory()


def _run_in_thread(coro_factory: Callable[[], Awaitable[T]]) -> T:
    loop = asyncio.new_event_loop()  # here, so that a failure to make one is raised here
    box: dict[str, Any] = {}
    # An Event, not Thread.join(): a join interrupted by Ctrl-C marks a running thread as
    # stopped (CPython 3.11), and the cancellation below would never be waited for.
    done = threading.Event()

    def target() -> None:
        try:
            box["task"] = loop.create_task(_as_coroutine(coro_factory))
            box["result"] = loop.run_until_complete(box["task"])
        except BaseException as exc:  # handed to the caller's thread, re-raised there
            box["error"] = exc
        finally:
            try:
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()
                done.set()

    thread = threading.Thread(target=target, name="tinyreason-run-sync", daemon=True)
    try:
        thread.start()  # inside the try: the coroutine may run (and be interrupted) at once
        while not done.wait(0.1):  # timed waits, so an interrupt reaches this thread
            pass
    except KeyboardInterrupt:
        # Ask the coroutine to stop once its task exists (it saves what finished), wait for it
        # to clean up, then re-raise.
        cancelled = False
        while not done.wait(0.05):
            if not cancelled and "task" in box:
                # RuntimeError: the loop closed meanwhile, so the coroutine had already finished.
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(box["task"].cancel)
                cancelled = True
        raise
    if "error" in box:
        raise box["error"]
    return box["result"]
