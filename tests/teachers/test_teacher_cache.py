"""The SQLite reply cache: WAL, round trips, commit before yield, refresh selection, keys."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

import tinyreason as tr
from tinyreason.records import Usage
from tinyreason.teachers.base import TeacherReply
from tinyreason.teachers.cache import (
    CACHE_ENV,
    CacheEntry,
    ReplyCache,
    check_refresh,
    default_cache_path,
)
from tinyreason.teachers.engine import EngineSettings, TeacherEngine
from tinyreason.teachers.pricing import Price, UnknownPriceWarning
from tinyreason.teachers.summary import Outcome
from tinyreason.testing import FakeProvider, FakeProviderTeacher


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "default-cache.sqlite"))


def _ok(key: str, finish: str = "stop", **kw: object) -> CacheEntry:
    reply = TeacherReply("think", "42", "raw", finish, Usage(3, 1, 5), "m-2025")
    return CacheEntry(key, "fake-api", "m", reply=reply, cost_usd=0.001, **kw)  # type: ignore[arg-type]


def _failed(key: str, reason: str) -> CacheEntry:
    return CacheEntry(key, "fake-api", "m", reason=reason, message=f"{reason} happened")


def test_wal_mode_and_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "cache.sqlite"
    with ReplyCache(path) as cache:
        assert cache.journal_mode() == "wal"
        cache.put(_ok("a", request={"question": "q?", "settings": {"temperature": 0.5}}))
        cache.put(_failed("b", "safety"))
        got = cache.get("a")
        assert got is not None and got.ok
        assert got.reply == TeacherReply("think", "42", "raw", "stop", Usage(3, 1, 5), "m-2025")
        assert got.cost_usd == 0.001 and got.request["settings"] == {"temperature": 0.5}
        failed = cache.get("b")
        assert failed is not None and not failed.ok
        assert (failed.reason, failed.message, failed.finish_reason) == (
            "safety",
            "safety happened",
            "error",
        )
        assert cache.get("missing") is None
        cache.put(_ok("b"))  # a refreshed entry replaces the old one
        assert cache.get("b").ok and len(cache) == 2  # type: ignore[union-attr]
    # Another connection sees WAL mode and the committed rows.
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0] == 2
    conn.close()


def test_many_concurrent_writes_are_all_committed(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"

    async def main() -> None:
        with ReplyCache(path) as cache:
            await asyncio.gather(*(cache.aput(_ok(f"k{i}")) for i in range(300)))
            assert len(cache) == 300

    asyncio.run(main())
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0] == 300
    conn.close()


def test_get_many_beyond_sqlite_parameter_limit(tmp_path: Path) -> None:
    with ReplyCache(tmp_path / "c.sqlite", durable=False) as cache:
        for i in range(0, 1200, 300):
            asyncio.run(_put_range(cache, i, i + 300))
        found = cache.get_many([f"k{i}" for i in range(1300)])
        assert len(found) == 1200


async def _put_range(cache: ReplyCache, start: int, stop: int) -> None:
    await asyncio.gather(*(cache.aput(_ok(f"k{i}")) for i in range(start, stop)))


def test_refresh_selection() -> None:
    ok, truncated = _ok("a"), _ok("b", finish="length")
    safety, server = _failed("c", "safety"), _failed("d", "server")
    entries = [ok, truncated, safety, server]

    def chosen(*refresh: str) -> list[str]:
        return [e.key for e in entries if e.matches(check_refresh(refresh))]

    assert chosen() == []
    assert chosen("truncated") == ["b"]
    assert chosen("failed") == ["c", "d"]
    assert chosen("truncated", "failed") == ["b", "c", "d"]
    assert chosen("server") == ["d"]
    assert chosen("all") == ["a", "b", "c", "d"]
    assert check_refresh("failed") == frozenset({"failed"})
    with pytest.raises(tr.ConfigError, match="truncated"):
        check_refresh(("truncatd",))


def test_stats_and_mean_output(tmp_path: Path) -> None:
    with ReplyCache(tmp_path / "c.sqlite") as cache:
        cache.put(_ok("a"))
        cache.put(_ok("b", finish="length"))
        cache.put(_failed("c", "safety"))
        assert cache.stats() == {"ok": 2, "truncated": 1, "failed:safety": 1}
        assert cache.mean_output_tokens("fake-api", "m") == (6.0, 2)
        assert [e.key for e in cache.entries("fake-api", "m")] == ["a", "b", "c"]


def test_temporary_cache_is_deleted() -> None:
    cache = ReplyCache.temporary()
    cache.put(_ok("a"))
    folder = cache.path.parent
    assert folder.exists()
    cache.close()
    assert not folder.exists()


def test_default_path_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert default_cache_path() == tmp_path / "default-cache.sqlite"
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_path() == tmp_path / "xdg" / "tinyreason" / "teachers.sqlite"


def test_commit_before_yield(tmp_path: Path) -> None:
    """When the engine counts an outcome done, its row is already readable by another process."""
    path = tmp_path / "c.sqlite"
    seen: list[str] = []

    class CheckingEngine(TeacherEngine):
        def _advance(self, key: str, outcome: Outcome) -> None:
            conn = sqlite3.connect(path)  # an independent reader, as a restarted process would be
            row = conn.execute("SELECT status FROM replies WHERE key = ?", (key,)).fetchone()
            conn.close()
            assert row is not None, f"{key} was counted before it was committed"
            seen.append(key)
            super()._advance(key, outcome)

    teacher = FakeProviderTeacher(latency=0.002, permanent_rate=0.2, seed=3)
    pairs = teacher.requests([tr.Problem(f"p{i}", f"Question {i}?") for i in range(40)])
    with ReplyCache(path) as cache:
        engine = CheckingEngine(
            FakeProvider(latency=0.002, permanent_rate=0.2, seed=3),
            provider_name="fake-api",
            model="fake-reasoner",
            cache=cache,
            settings=EngineSettings(concurrency=8),
            price=Price(1.0, 2.0, 2.0),
        )
        outcomes = asyncio.run(engine.run(pairs))
    assert len(seen) == 40 and len(outcomes) == 40
    assert any(not o.ok for o in outcomes.values())  # failures are committed before use too


def test_cache_key_holds_only_output_settings() -> None:
    base = FakeProviderTeacher(temperature=0.7, system_prompt="Think.")
    problem = [tr.Problem("p1", "What is 6 * 7?")]
    key = base.requests(problem)[0][0]
    same = [
        FakeProviderTeacher(
            temperature=0.7,
            system_prompt="Think.",
            concurrency=99,
            requests_per_minute=5,
            tokens_per_minute=10_000,
            max_retries=1,
            timeout=3.0,
            api_key="other-key",
            # Budgets are left out on purpose: raising them and refreshing "truncated" re-asks
            # only the truncated replies (the cached complete ones stay valid).
            max_output_tokens=123,
            thinking_budget=456,
        ),
    ]
    different = [
        FakeProviderTeacher(temperature=0.2, system_prompt="Think."),
        FakeProviderTeacher(temperature=0.7, system_prompt="Think harder."),
    ]
    with pytest.warns(UnknownPriceWarning):
        different.append(FakeProviderTeacher(temperature=0.7, model="other-model"))
    assert all(t.requests(problem)[0][0] == key for t in same)
    assert all(t.requests(problem)[0][0] != key for t in different)
    # The problem id is not in the key: the same question under two ids is one paid answer.
    assert base.requests([tr.Problem("other-id", "What is 6 * 7?")])[0][0] == key
