"""Check that a function's work grows linearly with its input, by counting, not by timing.

"Extracting from 50,000 brackets takes under 2 s" is decided by how busy the machine is; the
number of bytecodes a call executes is not. Doubling a linear-time input about doubles the count;
a rescan per box or per line (what made such inputs slow) quadruples it. Work done inside one C
call (a regex backtracking, a ``str.find``) counts as one bytecode: the full-size inputs are timed
by ``benchmarks/answers_pathological.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from types import FrameType
from typing import Any


def bytecodes(func: Callable[[], object]) -> int:
    """Return how many bytecodes ``func()`` executes (in this thread)."""
    count = 0

    def tracer(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        frame.f_trace_opcodes, frame.f_trace_lines = True, False
        if event == "opcode":
            count += 1
        return tracer

    previous = sys.gettrace()
    sys.settrace(tracer)
    try:
        func()
    finally:
        sys.settrace(previous)
    return count


def assert_linear_work(work: Callable[[str], object], make: Callable[[int], str], n: int) -> None:
    """Assert that ``work(make(2 * n))`` executes at most about twice the bytecodes of ``make(n)``.

    ``make(n)`` builds an input of about ``n`` characters. The slack (x2.25, plus a constant)
    absorbs fixed costs and branches that only some sizes take; quadratic work gives x4.
    """
    small, large = make(n), make(2 * n)
    small_work = bytecodes(lambda: work(small))
    large_work = bytecodes(lambda: work(large))
    assert large_work <= 2.25 * small_work + 2_000, (
        f"{len(small)} -> {len(large)} characters: {small_work} -> {large_work} bytecodes, "
        "more than linear"
    )
