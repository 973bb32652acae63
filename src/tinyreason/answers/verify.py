"""math-verify under our own timeout, in a worker process that can be killed.

Why a process: sympy evaluates integer powers eagerly, so ``9^{9^{9^{9}}}`` makes CPython multiply
huge integers in C while holding the GIL. Neither a thread timeout nor ``signal.alarm`` (which only
fires between bytecodes, and only in the main thread) can interrupt that: the whole interpreter
freezes. A process can be killed. Used by :mod:`tinyreason.answers.grading`.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import IO, TypeVar

__all__ = ["math_verify_equivalent"]

_T = TypeVar("_T")

# --- math-verify in a worker process, under our own timeout ------------------------------------
#
# Why a process: sympy evaluates integer powers eagerly, so "9^{9^{9^{9}}}" makes CPython multiply
# huge integers in C while holding the GIL. Neither a thread timeout nor signal.alarm (which only
# fires between bytecodes) can interrupt that: the whole interpreter freezes. A process can be
# killed. The worker is a fresh interpreter running the code below (it needs only math_verify, not
# tinyreason, so it works however tinyreason was put on the path) and answers one line per pair.

_STARTUP_TIMEOUT = 60.0  # importing sympy on a loaded 2-core machine can take several seconds
_WORKER_MEMORY = 4 * 2**30  # bytes; a runaway power fails with MemoryError instead of swapping
_MAX_STUCK_THREADS = 4  # fallback only: threads still running a timed-out comparison

_WORKER_CODE = r"""
import json, logging, sys
try:
    import resource
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY, hard))
except Exception:
    pass
logging.disable(logging.CRITICAL)  # math-verify warns that its timeout is off; ours is on
protocol, sys.stdout = sys.stdout, sys.stderr  # a stray print must not corrupt the replies
from math_verify import parse, verify

def parsed(text):
    for wrapped in ("\\boxed{" + text + "}", "$" + text + "$"):
        result = parse(wrapped, parsing_timeout=None)
        if result:
            return result
    return []

protocol.write("ready\n")
protocol.flush()
for line in sys.stdin:
    a, b, full = json.loads(line)
    try:
        # full: `a` is a whole response, extracted as open-r1 and lighteval do (math-verify's
        # default LaTeX and expression extraction over the text), not one answer to wrap.
        gold, target = parsed(b), (parse(a, parsing_timeout=None) if full else parsed(a))
        same = bool(gold and target and verify(gold, target, timeout_seconds=None))
    except BaseException:
        same = False
    protocol.write("1\n" if same else "0\n")
    protocol.flush()
""".replace("MEMORY", str(_WORKER_MEMORY))


def _pump(stream: IO[str], replies: queue.Queue[str | None]) -> None:
    """Move the worker's reply lines into a queue (None at end of file), so reads can time out."""
    try:
        for line in stream:
            replies.put(line.strip())
    except (OSError, ValueError):
        pass
    replies.put(None)


class _Worker:
    """The math-verify worker process: started on first use, killed and replaced on a timeout."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._replies: queue.Queue[str | None] = queue.Queue()
        self._pid = os.getpid()
        self.unavailable = False  # it cannot start here: callers fall back to a thread

    def compare(self, a: str, b: str, timeout: float, full_text: bool = False) -> bool | None:
        """Return math-verify's verdict, or None when it did not answer within ``timeout``."""
        # Comparisons from several threads take turns; the wait is bounded, so nothing hangs.
        if not self._lock.acquire(timeout=_STARTUP_TIMEOUT + 4 * timeout):
            return None
        try:
            if os.getpid() != self._pid:  # forked: that process is the parent's, not ours
                self._proc, self._pid = None, os.getpid()
            if (self._proc is None or self._proc.poll() is not None) and not self._start():
                return None
            assert self._proc is not None and self._proc.stdin is not None
            try:
                self._proc.stdin.write(json.dumps([a, b, full_text]) + "\n")
                self._proc.stdin.flush()
                reply = self._replies.get(timeout=timeout)
            except (OSError, ValueError, queue.Empty):
                reply = None
            if reply is None:  # too slow, or crashed: the next comparison gets a fresh worker
                self.close()
                return None
            return reply == "1"
        finally:
            self._lock.release()

    def _start(self) -> bool:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", _WORKER_CODE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                encoding="utf-8",
            )
        except (OSError, ValueError):  # no executable (embedded Python), or a sandbox
            self.unavailable = True
            return False
        replies: queue.Queue[str | None] = queue.Queue()
        assert proc.stdout is not None
        threading.Thread(target=_pump, args=(proc.stdout, replies), daemon=True).start()
        try:
            ready = replies.get(timeout=_STARTUP_TIMEOUT)
        except queue.Empty:
            ready = None
        if ready != "ready":  # math_verify missing in that interpreter, or it cannot run
            proc.kill()
            self.unavailable = True
            return False
        self._proc, self._replies = proc, replies
        return True

    def close(self) -> None:
        """Kill the worker process, if any."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()


_WORKER = _Worker()
atexit.register(_WORKER.close)


@functools.lru_cache(maxsize=1)
def _math_verify() -> ModuleType | None:
    """Import math_verify in this process (fallback path only), or return None without it."""
    try:
        math_verify = importlib.import_module("math_verify")
    except Exception:  # ImportError, or a broken sympy/antlr install
        return None
    for name in ("math_verify.parser", "math_verify.grader"):
        logging.getLogger(name).addFilter(_DropTimeoutWarning())
    return math_verify


class _DropTimeoutWarning(logging.Filter):
    """math-verify warns that its timeout is off; ours is on, so the warning is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Timeout is disabled")


_stuck_lock = threading.Lock()
_stuck_threads: list[threading.Thread] = []


def _run_with_timeout(func: Callable[[], _T], timeout: float) -> tuple[bool, _T | None]:
    """Run ``func`` in a daemon thread: (True, result) if it finished in time, else (False, None).

    The fallback when no worker process can start. Unlike ``signal.alarm`` it works in any
    thread, but it cannot stop a computation that holds the GIL, and a timed-out thread keeps
    running; while ``_MAX_STUCK_THREADS`` of those are alive, nothing new is started.
    """
    with _stuck_lock:
        _stuck_threads[:] = [t for t in _stuck_threads if t.is_alive()]
        if len(_stuck_threads) >= _MAX_STUCK_THREADS:
            return False, None
    value: list[_T] = []  # func's result, once it returns
    done = threading.Event()

    def work() -> None:
        try:
            value.append(func())
        except BaseException:  # sympy/antlr raise anything, RecursionError included
            pass
        finally:
            done.set()

    thread = threading.Thread(target=work, name="tinyreason-math-verify", daemon=True)
    thread.start()
    if not done.wait(timeout):
        with _stuck_lock:
            _stuck_threads.append(thread)
        return False, None
    if not value:  # it raised
        return False, None
    return True, value[0]


def _math_verify_in_process(math_verify: ModuleType, a: str, b: str, full_text: bool) -> bool:
    """Compare with math-verify in this process (what the worker does, for the fallback)."""

    def parsed(text: str) -> list[object]:
        for wrapped in (f"\\boxed{{{text}}}", f"${text}$"):
            result = math_verify.parse(wrapped, parsing_timeout=None)
            if result:
                return list(result)
        return []

    target = list(math_verify.parse(a, parsing_timeout=None)) if full_text else parsed(a)
    gold = parsed(b)
    return bool(gold and target and math_verify.verify(gold, target, timeout_seconds=None))


def math_verify_equivalent(a: str, b: str, timeout: float, *, full_text: bool = False) -> bool:
    """Return math-verify's verdict on ``a`` against reference ``b``; False on timeout or error.

    With ``full_text``, ``a`` is a whole response and math-verify extracts its answer itself (its
    default LaTeX and expression extraction, as open-r1 and lighteval grade); otherwise ``a`` is
    one extracted answer.
    """
    if not _WORKER.unavailable:
        verdict = _WORKER.compare(a, b, timeout, full_text)
        if verdict is not None or not _WORKER.unavailable:
            return bool(verdict)
    math_verify = _math_verify()
    if math_verify is None:
        return False
    finished, verdict = _run_with_timeout(
        lambda: _math_verify_in_process(math_verify, a, b, full_text), timeout
    )
    return bool(verdict) if finished else False
