"""A batch run SIGKILLed at each crash point, then rerun: nothing submitted or paid twice.

The fake Batch API runs in this process; the batch run runs in a subprocess that kills itself
(SIGKILL: no cleanup, no flush) the first time it reaches the named point. The rerun must collect
the batch that was submitted, create no second batch for the same requests, and every request
must be billed exactly once at the fake.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import tinyreason as tr
from tinyreason.testing.batch_server import OpenAIBatchServer

SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    import tinyreason as tr
    import tinyreason.teachers.batch as batch

    base_url, cache, point = sys.argv[1], sys.argv[2], sys.argv[3]

    def checkpoint(name):
        if name == point:
            os.kill(os.getpid(), signal.SIGKILL)

    batch._checkpoint = checkpoint
    teacher = tr.teacher("openai-compatible", model="m", base_url=base_url,
                         prices={"m": {"input": 1, "output": 2}})
    problems = [tr.Problem(f"p{i}", f"What is {i} + {i}?") for i in range(5)]
    run = teacher.distill(problems, cache=cache, batch=True, wait=False, progress=False)
    ds = run.collect(poll_interval=0)
    print("finished", sum(r["error"] is None for r in ds))
    """
)

POINTS = ("journal", "uploaded", "created", "polling", "committing")


def run_child(base_url: str, cache: Path, point: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-c", SCRIPT, base_url, str(cache), point],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize("point", POINTS)
def test_killed_then_rerun_submits_nothing_twice(point, tmp_path):
    cache = tmp_path / "c.sqlite"
    with OpenAIBatchServer() as server:
        killed = run_child(server.base_url, cache, point)
        assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
        rerun = run_child(server.base_url, cache, "none")
        assert rerun.returncode == 0, rerun.stderr[-2000:]
        assert "finished 5" in rerun.stdout
        assert server.creates == 1  # one batch, created once, whatever the crash point
        assert len(server.billed) == 5 and set(server.billed.values()) == {1}
        # A third run finds everything in the cache: no call at all beyond the first two.
        calls = server.uploads, server.creates, server.retrieves
        again = run_child(server.base_url, cache, "none")
        assert "finished 5" in again.stdout
        assert (server.uploads, server.creates, server.retrieves) == calls


def test_the_crash_points_are_reached(tmp_path):
    """Each point names a real step: a run that dies there never reaches the next one."""
    import tinyreason.teachers.batch as batch

    seen: list[str] = []
    original = batch._checkpoint
    batch._checkpoint = seen.append  # type: ignore[assignment]
    try:
        with OpenAIBatchServer() as server:
            t = tr.teacher(
                "openai-compatible",
                model="m",
                base_url=server.base_url,
                prices={"m": {"input": 1, "output": 2}},
            )
            run = t.distill(
                [tr.Problem("p", "q?")],
                cache=tmp_path / "c.sqlite",
                batch=True,
                wait=False,
                progress=False,
            )
            run.collect(poll_interval=0, sleep=lambda s: None)
    finally:
        batch._checkpoint = original
    assert [p for p in dict.fromkeys(seen)] == list(POINTS)
