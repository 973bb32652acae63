"""The engine: concurrency, RPM/TPM limits, retries and backoff, permanent errors, auth, budget.

Rate limits and backoff run on a FakeClock (virtual time), so they are exact and instant.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
from pathlib import Path
from typing import Any

import pytest

import tinyreason as tr
from tinyreason.records import Usage
from tinyreason.teachers.base import ProviderError, TeacherReply, TeacherRequest
from tinyreason.teachers.cache import CACHE_ENV, ReplyCache
from tinyreason.teachers.engine import EngineSettings, TeacherEngine
from tinyreason.teachers.pacing import TokenBucket, backoff_delay
from tinyreason.teachers.pricing import Price
from tinyreason.teachers.summary import Outcome, RunStopped
from tinyreason.testing import FakeClock, FakeProvider, FakeProviderTeacher


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "default-cache.sqlite"))


PRICE = Price(1.0, 2.0, 2.0)


def _pairs(n: int, prefix: str = "Question") -> list[tuple[str, TeacherRequest]]:
    teacher = FakeProviderTeacher()
    return teacher.requests([tr.Problem(f"p{i}", f"{prefix} {i}?") for i in range(n)])


def _run(
    provider: FakeProvider,
    pairs: list[tuple[str, TeacherRequest]],
    *,
    clock: FakeClock | None = None,
    cache: ReplyCache | None = None,
    price: Price | None = PRICE,
    **settings: Any,
) -> tuple[dict[str, Outcome], TeacherEngine]:
    own = cache is None
    if cache is None:  # not `cache or ...`: an empty cache has len() 0
        cache = ReplyCache.temporary()
    settings.setdefault("retry_base_delay", 0.5)
    engine = TeacherEngine(
        provider,
        provider_name="fake-api",
        model="fake-reasoner",
        cache=cache,
        settings=EngineSettings(**settings),
        price=price,
        clock=clock,
        rng=random.Random(0),
    )
    try:
        return asyncio.run(engine.run(pairs)), engine
    finally:
        if own:
            cache.close()


def test_concurrency_bound_is_respected() -> None:
    provider = FakeProvider(latency=0.01)
    outcomes, engine = _run(provider, _pairs(40), concurrency=5)
    assert provider.stats.max_in_flight == 5
    assert provider.stats.total == 40 and all(o.ok for o in outcomes.values())
    assert engine.summary is not None and engine.summary.done == 40


def test_requests_per_minute_spaces_calls() -> None:
    clock = FakeClock()
    provider = FakeProvider(clock=clock)
    _run(provider, _pairs(10), clock=clock, concurrency=8, requests_per_minute=60)
    times = provider.stats.call_times
    assert len(times) == 10
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) >= 1.0 - 1e-9  # 60 RPM = one call a second, never a burst
    assert times[-1] == pytest.approx(9.0)


def test_tokens_per_minute_refunds_overestimates() -> None:
    # Charged 100 tokens before each call (input ~12 + max_output_tokens 88), 10 really used:
    # the refund lets calls go ~10x faster than the up-front charge alone would.
    clock = FakeClock()
    provider = FakeProvider(clock=clock, usage=Usage(5, 2, 3))
    _run(
        provider,
        _pairs(20, prefix="Q"),
        clock=clock,
        concurrency=1,
        tokens_per_minute=6000,  # 100 tokens a second
        max_output_tokens=88,
    )
    assert 1.0 < provider.stats.call_times[-1] < 3.0  # uncorrected it would take 19 s


def test_tokens_per_minute_charges_underestimates() -> None:
    # Charged ~20 tokens up front, 200 really used: the debt is paid before the next call, so
    # the real token rate stays within the limit.
    clock = FakeClock()
    provider = FakeProvider(clock=clock, usage=Usage(100, 50, 50))
    _run(
        provider,
        _pairs(10, prefix="Q"),
        clock=clock,
        concurrency=4,
        tokens_per_minute=6000,
        max_output_tokens=8,
    )
    times = provider.stats.call_times
    for i, t in enumerate(times):
        used_before = 200 * i
        assert used_before <= 100 + 100 * t + 200  # bucket + refill + one call's overrun
    assert times[-1] >= 15.0


def test_backoff_grows_with_full_jitter() -> None:
    rng = random.Random(1)
    means = []
    for attempt in range(6):
        bound = min(20.0, 1.0 * 2**attempt)
        samples = [backoff_delay(attempt, base=1.0, cap=20.0, rng=rng) for _ in range(400)]
        assert all(0.0 <= s <= bound for s in samples)
        assert max(samples) > 0.8 * bound and min(samples) < 0.2 * bound  # jitter spans it
        means.append(sum(samples) / len(samples))
    assert means == sorted(means)  # grows with the attempt (then flattens at the cap)
    assert means[4] == pytest.approx(8.0, rel=0.15)


def test_retries_back_off_then_succeed() -> None:
    clock = FakeClock()
    failures = {"n": 0}

    def flaky(request: TeacherRequest) -> TeacherReply:
        if failures["n"] < 4:
            failures["n"] += 1
            raise ProviderError("HTTP 503", reason="server", retryable=True, status=503)
        return TeacherReply("t", "a", "raw")

    provider = FakeProvider(replies={"Question 0?": flaky})
    outcomes, engine = _run(provider, _pairs(1), clock=clock, retry_base_delay=0.5)
    assert next(iter(outcomes.values())).ok
    assert provider.stats.total == 5 and engine.summary.retries == 4  # type: ignore[union-attr]
    assert len(clock.sleeps) == 4
    for attempt, slept in enumerate(clock.sleeps):
        assert 0.0 <= slept <= 0.5 * 2**attempt


def test_retry_after_is_honoured() -> None:
    clock = FakeClock()
    calls = {"n": 0}

    def limited(request: TeacherRequest) -> TeacherReply:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ProviderError("HTTP 429", reason="rate_limit", retryable=True, retry_after=7.5)
        return TeacherReply("t", "a", "raw")

    provider = FakeProvider(replies={"Question 0?": limited}, clock=clock)
    _run(provider, _pairs(3), clock=clock, concurrency=1)
    assert 7.5 <= clock.sleeps[0] <= 7.5 * 1.1
    assert provider.stats.call_times[1] >= 7.5


def test_permanent_errors_are_not_retried_and_are_cached(tmp_path: Path) -> None:
    refusal = ProviderError("HTTP 400: bad", reason="bad_request", retryable=False, status=400)
    blocked = ProviderError("blocked", reason="safety", retryable=False)
    provider = FakeProvider(replies={"Question 0?": refusal, "Question 1?": blocked})
    with ReplyCache(tmp_path / "c.sqlite") as cache:
        outcomes, engine = _run(provider, _pairs(3), cache=cache)
        by_question = {o.reason for o in outcomes.values()}
        assert by_question == {"bad_request", "safety", None}
        assert provider.stats.calls["Question 0?"] == 1 and provider.stats.calls["Question 1?"] == 1
        assert engine.summary.failed == {"bad_request": 1, "safety": 1}  # type: ignore[union-attr]
        # Cached as failures: a re-run asks nothing.
        again = FakeProvider()
        outcomes, engine = _run(again, _pairs(3), cache=cache)
        assert again.stats.total == 0 and engine.summary.cached == 3  # type: ignore[union-attr]


def test_exhausted_retries_fail_with_their_reason() -> None:
    down = ProviderError("HTTP 502", reason="server", retryable=True, status=502)
    provider = FakeProvider(replies={"Question 0?": down})
    outcomes, _ = _run(provider, _pairs(1), clock=FakeClock(), max_retries=3)
    outcome = next(iter(outcomes.values()))
    assert outcome.error == "server: HTTP 502" and outcome.attempts == 4
    assert provider.stats.total == 4


def test_hung_calls_time_out_and_are_retried() -> None:
    provider = FakeProvider(hang_rate=1.0, hang_seconds=30)
    outcomes, engine = _run(provider, _pairs(2), timeout=0.05, max_retries=1, retry_base_delay=0)
    assert {o.reason for o in outcomes.values()} == {"timeout"}
    assert provider.stats.total == 4 and engine.summary.failed == {"timeout": 2}  # type: ignore[union-attr]


def test_auth_error_stops_the_run_at_once(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TINYREASON_FAKE_API_KEY", "env-key-0123")
    cache = tmp_path / "c.sqlite"
    problems = [tr.Problem(f"p{i}", f"Question {i}?") for i in range(200)]
    teacher = FakeProviderTeacher(latency=0.002, auth_fail_after=10, concurrency=4)
    with pytest.raises(RunStopped) as caught:
        teacher.distill(problems, cache=cache, progress=False)
    message = str(caught.value)
    assert "fake-api rejected the API key" in message
    assert "$TINYREASON_FAKE_API_KEY" in message and "env-key-0123" not in message
    assert "saved in the cache" in message
    # At once: not 200 failed calls, only those already in flight.
    assert teacher.stats.total <= 10 + 4
    summary = caught.value.summary
    assert summary is not None and summary.stopped == "auth"
    assert teacher.last_summary is summary and summary.done == 10
    with ReplyCache(cache) as store:
        assert len(store) == 10  # what finished is saved; the auth failures are not
    # With a good key the run resumes: only the other 190 are asked.
    fixed = FakeProviderTeacher(concurrency=4)
    ds = fixed.distill(problems, cache=cache, progress=False)
    assert fixed.stats.total == 190 and all(e is None for e in ds["error"])


def test_a_provider_bug_stops_the_run() -> None:
    def broken(request: TeacherRequest) -> TeacherReply:
        raise KeyError("candidates")

    provider = FakeProvider(replies={"Question 3?": broken})
    with pytest.raises(RunStopped, match=r"failed unexpectedly \(KeyError: 'candidates'\)"):
        _run(provider, _pairs(5), concurrency=1)


def test_token_bucket_lets_big_requests_through() -> None:
    async def main() -> float:
        clock = FakeClock()
        bucket = TokenBucket(600, clock)  # 10 a second, capacity 10
        await bucket.acquire(
            50
        )  # larger than the bucket: goes into debt instead of waiting forever
        await bucket.acquire(1)
        return clock.now()

    assert asyncio.run(main()) == pytest.approx(4.1)


# -- max_cost_usd -------------------------------------------------------------------------------


def _priced_teacher(**kw: Any) -> FakeProviderTeacher:
    # 10 generated tokens at $1,000 per 1M = exactly $0.01 a call (input is free).
    return FakeProviderTeacher(
        prices={"fake-reasoner": {"input": 0.0, "output": 1000.0, "thinking": 1000.0}},
        usage=Usage(0, 5, 5),
        max_output_tokens=10,
        thinking_words=3,
        **kw,
    )


def test_max_cost_stops_cleanly_and_a_rerun_resumes_the_rest(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    problems = [tr.Problem(f"p{i}", f"Q{i}") for i in range(10)]
    teacher = _priced_teacher(concurrency=3)
    ds = teacher.distill(problems, cache=cache, max_cost_usd=0.045, progress=False)
    summary = teacher.last_summary
    assert summary is not None and summary.stopped == "budget"
    assert summary.done == 4 and summary.failed == {"budget": 6}
    assert summary.cost_usd == pytest.approx(0.04) and summary.cost_usd <= 0.045
    errors = [e for e in ds["error"] if e is not None]
    assert len(errors) == 6 and all(re.match(r"budget: max_cost_usd=\$0\.04", e) for e in errors)
    assert "higher cap" in str(summary)
    with ReplyCache(cache) as store:
        assert len(store) == 4  # budget stops are not cached as failures
    # A higher cap resumes only the rest; nothing is paid twice.
    again = _priced_teacher(concurrency=3, stats=teacher.stats)
    ds = again.distill(problems, cache=cache, max_cost_usd=1.0, progress=False)
    assert all(e is None for e in ds["error"])
    assert again.last_summary.cached == 4 and again.last_summary.cost_usd == pytest.approx(0.06)  # type: ignore[union-attr]
    assert set(teacher.stats.calls.values()) == {1} and teacher.stats.total == 10


def test_max_cost_below_the_minimum_is_refused_before_any_call() -> None:
    teacher = FakeProviderTeacher(prices={"fake-reasoner": {"input": 1000.0, "output": 1000.0}})
    problems = [tr.Problem(f"p{i}", f"{i:03d}" + "x" * 397) for i in range(10)]
    with pytest.raises(tr.ConfigError, match=r"below the least this run can cost: \$1\.0800"):
        teacher.distill(problems, cache=False, max_cost_usd=0.5, progress=False)
    assert teacher.stats.total == 0
    with pytest.raises(tr.ConfigError, match="max_cost_usd must be a number >= 0"):
        teacher.distill(problems, cache=False, max_cost_usd=-1, progress=False)
