"""Kill a distilling process with SIGKILL three times; the resumed run re-pays nothing stored.

Each run is a subprocess distilling through a FakeProvider with latency, which appends every call
(with its process id) to a log file with fsync. Between runs we read which questions the cache
holds; no later run may call any of them again.
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
    import json, sys
    import tinyreason as tr
    from tinyreason.testing import FakeProviderTeacher

    cache, log, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    problems = [tr.Problem(f"p{i}", f"Question {i}?") for i in range(n)]
    teacher = FakeProviderTeacher(latency=0.05, concurrency=CONCURRENCY, call_log=log)
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
    finally:
        conn.close()
    return {json.loads(r[0])["question"] for r in rows}


def _calls(log: Path) -> list[tuple[int, str]]:
    if not log.exists():
        return []
    lines = log.read_text().splitlines()
    return [(entry["pid"], entry["question"]) for entry in map(json.loads, lines)]


def test_sigkill_three_times_then_resume_without_repaying(tmp_path: Path) -> None:
    script, cache, log = tmp_path / "run.py", tmp_path / "cache.sqlite", tmp_path / "calls.jsonl"
    script.write_text(SCRIPT)
    command = [sys.executable, str(script), str(cache), str(log), str(N)]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")

    stored_before: dict[int, set[str]] = {}
    for fraction in (0.15, 0.45, 0.75):  # kill at different points of the whole job
        before = _stored_questions(cache)
        proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stored_before[proc.pid] = before
        target = int(fraction * N)
        deadline = time.monotonic() + 60
        while len(before) + sum(pid == proc.pid for pid, _ in _calls(log)) < target:
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the run did not progress"
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert proc.returncode == -signal.SIGKILL
        after = _stored_questions(cache)
        assert before < after and len(after) < N  # killed mid-run, after progress was saved

    before = _stored_questions(cache)
    final = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert final.returncode == 0, final.stderr
    summary = json.loads(final.stdout.strip().splitlines()[-1])
    pids = {pid for pid, _ in _calls(log)}
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
        repaid = {q for p, q in calls if p == pid} & stored
        assert not repaid, f"run {pid} paid again for {sorted(repaid)[:3]}"
    # A question was paid more than once only if a kill caught it in flight, or back but not yet
    # committed (the engine allows one such reply per worker while its next call runs).
    per_question = Counter(q for _, q in calls)
    assert len(per_question) == N
    extra = sum(per_question.values()) - N
    assert extra <= 3 * 2 * CONCURRENCY
    assert len(calls) == len(set(calls))  # and no run asked one question twice
