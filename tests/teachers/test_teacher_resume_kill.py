"""Kill a distilling process with SIGKILL three times; the resumed run re-pays nothing stored.

Each run is a subprocess distilling through a FakeProvider, which appends every call (with its
process id) to a log file with fsync. A killed run is stopped at a known point, not at a moment
picked by a clock: its provider answers the first ``gate`` calls and holds every later one, the
test waits (for events in the files, not for time) until those ``gate`` replies are committed, and
kills it with the next calls in flight. Between runs we read which questions the cache holds; no
later run may call any of them again.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

N = 240
CONCURRENCY = 8

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from dataclasses import fields
    import tinyreason as tr
    from tinyreason.testing import FakeProviderTeacher
    from tinyreason.testing.fake_provider import FakeProvider

    cache, log, n, gate = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])

    class Gated(FakeProvider):
        # Answers `gate` calls, then holds each later call (logged: it is paid) until the kill.
        async def complete(self, request):
            if 0 <= gate <= self.stats.total:
                self.stats.calls[request.question] += 1
                self._log(request.question, -1)
                await asyncio.Event().wait()
            return await super().complete(request)

    class GatedTeacher(FakeProviderTeacher):
        def make_provider(self):
            base = super().make_provider()
            return Gated(**{f.name: getattr(base, f.name) for f in fields(base)})

    problems = [tr.Problem(f"p{i}", f"Question {i}?") for i in range(n)]
    teacher = GatedTeacher(latency=0.002, concurrency=CONCURRENCY, call_log=log)
    ds = teacher.distill(problems, cache=cache, progress=False)
    s = teacher.last_summary
    print(json.dumps({"done": s.done, "cached": s.cached, "requests": s.requests,
                      "errors": sum(e is not None for e in ds["error"])}))
    """
).replace("CONCURRENCY", str(CONCURRENCY))


def _stored_questions(cache: Path) -> set[str]:
    if not cache.exists():
        return set()
    conn = sqlite3.connect(f"file:{cache}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT request FROM replies WHERE status = 'ok'").fetchall()
    except sqlite3.OperationalError:  # the run has created the file, not yet its tables
        return set()
    finally:
        conn.close()
    return {json.loads(r[0])["question"] for r in rows}


def _calls(log: Path) -> list[tuple[int, str, bool]]:
    """Every call logged: (process id, question, whether it was held at the gate)."""
    if not log.exists():
        return []
    lines = log.read_text().splitlines()
    return [(e["pid"], e["question"], e["n"] < 0) for e in map(json.loads, lines)]


def test_sigkill_three_times_then_resume_without_repaying(tmp_path: Path) -> None:
    script, cache, log = tmp_path / "run.py", tmp_path / "cache.sqlite", tmp_path / "calls.jsonl"
    script.write_text(SCRIPT)
    command = [sys.executable, str(script), str(cache), str(log), str(N)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")

    stored_before: dict[int, set[str]] = {}
    held = 0
    for fraction in (0.15, 0.45, 0.75):  # kill at different points of the whole job
        before = _stored_questions(cache)
        gate = int(fraction * N) - len(before)  # replies this run gets before the gate closes
        proc = subprocess.Popen(
            [*command, str(gate)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        stored_before[proc.pid] = before
        # Wait for the event (the gate's replies all committed), with a guard against a hang.
        deadline = time.monotonic() + 300
        while len(_stored_questions(cache)) < len(before) + gate:
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the run did not progress"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        after = _stored_questions(cache)
        # Killed mid-run at a known point: exactly the replies before the gate are saved.
        assert before < after and len(after) == len(before) + gate < N
        in_flight = [q for pid, q, at_gate in _calls(log) if pid == proc.pid and at_gate]
        assert 1 <= len(in_flight) <= CONCURRENCY and not set(in_flight) & after
        held += len(in_flight)

    before = _stored_questions(cache)
    final = subprocess.run([*command, "-1"], env=env, capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    summary = json.loads(final.stdout.strip().splitlines()[-1])
    pids = {pid for pid, _, _ in _calls(log)}
    final_pid = (pids - set(stored_before)).pop()
    stored_before[final_pid] = before

    assert summary == {"done": N, "cached": len(before), "requests": N - len(before), "errors": 0}
    assert _stored_questions(cache) == {f"Question {i}?" for i in range(N)}
    conn = sqlite3.connect(cache)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0] == N
    conn.close()

    # No run called a question whose reply was already stored when it started.
    calls = _calls(log)
    for pid, stored in stored_before.items():
        repaid = {q for p, q, _ in calls if p == pid} & stored
        assert not repaid, f"run {pid} paid again for {sorted(repaid)[:3]}"
    # A question was paid twice only if a kill caught it in flight: exactly those held at a gate.
    per_question = Counter(q for _, q, _ in calls)
    assert len(per_question) == N
    assert sum(per_question.values()) - N == held
    assert len(calls) == len({(p, q) for p, q, _ in calls})  # and no run asked one twice
