"""300 problems with ~10% faulty calls: every problem ends done or failed-with-reason, once."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

import tinyreason as tr
from tinyreason.teachers.base import FAILURE_REASONS, ProviderError
from tinyreason.teachers.cache import CACHE_ENV, ReplyCache
from tinyreason.testing import FakeProviderTeacher


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "default-cache.sqlite"))


def _problems() -> list[tr.Problem]:
    problems = [
        tr.Problem(f"p{i:03d}", f"Question number {i}: what is {i} + {i}?") for i in range(290)
    ]
    # Ten problems repeat an earlier question under another id: asked once, answered twice.
    problems += [tr.Problem(f"dup{i}", problems[i].question) for i in range(10)]
    return problems


def _teacher(**kw: object) -> FakeProviderTeacher:
    always_down = ProviderError("HTTP 503: overloaded", reason="server", retryable=True, status=503)
    return FakeProviderTeacher(
        latency=0.001,
        fault_rate=0.10,  # retryable: 429 (with Retry-After), 5xx, timeouts, resets, malformed
        permanent_rate=0.02,  # refused for good: 400 or a safety block
        hang_rate=0.01,  # hangs past the timeout
        hang_seconds=30.0,
        timeout=0.05,
        retry_after=0.001,
        retry_base_delay=0.001,
        retry_max_delay=0.01,
        max_retries=3,
        concurrency=32,
        seed=7,
        replies={"Question number 5: what is 5 + 5?": always_down},  # exhausts its retries
        **kw,  # type: ignore[arg-type]
    )


def test_three_hundred_problems_with_faults(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    problems = _problems()
    teacher = _teacher()
    ds = teacher.distill(problems, cache=cache, progress=False)
    stats, summary = teacher.stats, teacher.last_summary
    assert summary is not None

    # One row per problem, in order, no duplicates.
    assert ds["id"] == [p.id for p in problems]
    assert len(set(ds["id"])) == 300

    # Every row is done, or failed with a known reason and a message.
    failed_reasons: Counter[str] = Counter()
    for row in ds:
        if row["error"] is None:
            assert row["attempt"] and row["finish_reason"] == "stop"
        else:
            match = re.fullmatch(r"(\w+): (.+)", row["error"])
            assert match and match.group(1) in FAILURE_REASONS, row["error"]
            assert row["attempt"] == "" and row["finish_reason"] == "error"
            failed_reasons[match.group(1)] += 1
    assert summary.done + summary.failed_total == 300
    assert dict(failed_reasons) == dict(summary.failed)
    assert failed_reasons["server"] >= 1  # the question that is always down
    assert {"bad_request", "safety"} & set(failed_reasons)  # permanent refusals
    assert summary.retries > 0 and sum(stats.faults.values()) >= 25  # faults did happen

    # Calls: every provider call is accounted for, and no question was asked more often than
    # its faults explain (the 10 repeated questions were asked once, not twice).
    assert stats.total == summary.requests
    assert len(stats.calls) == 290
    ok_by_question = {row["question"]: row["error"] is None for row in ds}
    for question, n in stats.calls.items():
        # At most 1 + max_retries calls, besides the 429s that came while other calls got
        # replies (the provider sharing out its limit: they do not use up the retries).
        assert n - stats.rate_limits[question] <= teacher.max_retries + 1
        # A done question was paid exactly once (its other calls were failures or timed out).
        assert n - stats.faults[question] == (1 if ok_by_question[question] else 0), question
    for i in range(10):
        assert ds[290 + i]["attempt"] == ds[i]["attempt"]
        assert ds[290 + i]["error"] == ds[i]["error"]

    # Re-running the same call asks nothing.
    again = _teacher(stats=stats)
    before = stats.total
    ds2 = again.distill(problems, cache=cache, progress=False)
    assert stats.total == before and again.last_summary.requests == 0  # type: ignore[union-attr]
    assert ds2["attempt"] == ds["attempt"] and ds2["error"] == ds["error"]
    assert again.last_summary.cached == 300  # type: ignore[union-attr]

    # refresh=("failed",) re-asks only the failed questions (here without faults).
    failed_questions = {row["question"] for row in ds if row["error"] is not None}
    clean = FakeProviderTeacher(concurrency=8)
    ds3 = clean.distill(problems, cache=cache, refresh=("failed",), progress=False)
    assert set(clean.stats.calls) == failed_questions
    assert all(n == 1 for n in clean.stats.calls.values())
    assert all(e is None for e in ds3["error"])
    with ReplyCache(cache) as store:
        assert store.stats() == {"ok": 290}
