"""Sustained rate limits: a provider that serves 8 calls at once and refuses the rest with 429.

A run started at concurrency 64 must finish every row, pay for each question once and keep the
429s bounded: the adaptive window (AIMD) settles at the provider's limit instead of being refused
again and again. Checked in-process (FakeProvider on a FakeClock) and over TCP with the real
``openai`` SDK against the loopback server's in-flight limit. The assertions are counts, never
wall-clock times; the time it takes is measured by ``benchmarks/teacher_rate_limits.py``.
"""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

import pytest

import tinyreason as tr
from tinyreason.teachers.cache import CACHE_ENV, ReplyCache
from tinyreason.teachers.engine import EngineSettings, TeacherEngine
from tinyreason.teachers.pricing import Price
from tinyreason.testing import FakeClock, FakeProvider, FakeProviderTeacher, ProviderServer

LIMIT, CONCURRENCY = 8, 64


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "default-cache.sqlite"))


def _problems(n: int) -> list[tr.Problem]:
    return [tr.Problem(f"p{i}", f"Question {i}: what is {i} squared?") for i in range(n)]


def test_in_process_every_row_finishes_and_each_question_is_paid_once() -> None:
    n = 200
    clock = FakeClock()
    provider = FakeProvider(latency=0.001, max_in_flight=LIMIT, retry_after=1.0, clock=clock)
    pairs = FakeProviderTeacher().requests(_problems(n))
    with ReplyCache.temporary() as cache:
        engine = TeacherEngine(
            provider,
            provider_name="fake-api",
            model="fake-reasoner",
            cache=cache,
            # One retry only: a 429 while other calls get replies does not use it up, so no row
            # is lost to the provider sharing out its limit.
            settings=EngineSettings(concurrency=CONCURRENCY, max_retries=1),
            price=Price(1.0, 2.0, 2.0),
            clock=clock,
            rng=random.Random(0),
        )
        outcomes = asyncio.run(engine.run(pairs))
    stats, summary, window = provider.stats, engine.summary, engine.window
    assert summary is not None and window is not None
    assert summary.done == n and summary.failed == {} and all(o.ok for o in outcomes.values())
    # Paid once: every question's calls are one reply plus its refusals.
    assert stats.successes == n
    assert all(stats.calls[q] - stats.faults[q] == 1 for q in stats.calls)
    assert stats.total == summary.requests == n + stats.refused
    # The window came down to the provider's limit: the first burst of 64 is refused (56), and
    # a few probes above the limit after that; without the window it is thousands.
    assert window.decreases >= 1 and window.limit < CONCURRENCY
    assert stats.refused <= CONCURRENCY + n // 2, stats.refused
    assert summary.retries == stats.refused


def test_over_http_every_row_finishes_nothing_is_charged_twice(tmp_path: Path) -> None:
    n = 120
    with ProviderServer(latency=0.02) as server:
        server.limit_in_flight(LIMIT, retry_after="0.05")
        teacher = tr.teacher(
            "openai-compatible",
            model="limited-model",
            base_url=server.base_url + "/v1",
            api_key="sk-rate-limit-test-0123456789",
            concurrency=CONCURRENCY,
            max_retries=2,
            prices={"limited-model": {"input": 1.0, "output": 1.0}},
        )
        ds = teacher.distill(_problems(n), cache=tmp_path / "c.sqlite", progress=False)
        limit, served, received = server.limit_stats, server.successes, len(server.requests)
    summary = teacher.last_summary
    assert summary is not None and limit is not None
    # Every row finished, none lost to 429s.
    assert len(ds) == n and all(e is None for e in ds["error"]) and summary.done == n
    # Nothing charged twice: the server served (and would bill) each question exactly once.
    assert len(served) == n and set(served.values()) == {1}
    # Every request is accounted for: one reply per question, plus the refusals.
    assert received == summary.requests == n + limit.refused
    assert limit.peak == LIMIT  # the server's limit was reached (and never passed)
    # Bounded: the first burst (at most 64 - 8), a few epochs while the window halves down to 8,
    # then about one probe per window of replies. A window that never shrinks gets 140-190 here.
    assert 1 <= limit.refused <= CONCURRENCY + n // 2, limit.refused


def test_a_rerun_after_a_rate_limited_run_asks_nothing(tmp_path: Path) -> None:
    problems = _problems(60)
    first = FakeProviderTeacher(latency=0.001, max_in_flight=4, retry_after=0.0, concurrency=32)
    first.distill(problems, cache=tmp_path / "c.sqlite", progress=False)
    again = FakeProviderTeacher(max_in_flight=4, concurrency=32)
    ds = again.distill(problems, cache=tmp_path / "c.sqlite", progress=False)
    assert again.stats.total == 0 and all(e is None for e in ds["error"])
    assert first.stats.successes == 60 and first.stats.refused >= 1
