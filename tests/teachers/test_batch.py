"""Batch distillation against a loopback fake of OpenAI's Batch API, driven by the real SDK."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tinyreason as tr
from tinyreason.errors import ConfigError
from tinyreason.teachers.batch import BatchRun, BatchTimeout
from tinyreason.teachers.batch_journal import BatchJournal, journal_path
from tinyreason.testing.batch_server import OpenAIBatchServer

PRICES = {"m": {"input": 1.0, "output": 2.0, "thinking": 2.0}}


@pytest.fixture
def server() -> Iterator[OpenAIBatchServer]:
    with OpenAIBatchServer() as s:
        yield s


def problems(n: int = 3) -> list[tr.Problem]:
    return [tr.Problem(f"p{i}", f"What is {i} + {i}?") for i in range(n)]


def teacher(server: OpenAIBatchServer, **kw: object) -> object:
    return tr.teacher("openai-compatible", model="m", base_url=server.base_url, prices=PRICES, **kw)


class Sleeps:
    """A fake clock's sleep: records every wait, never waits."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def run_batch(
    t: object, items: list[tr.Problem], cache: Path, **kw: object
) -> tuple[object, BatchRun]:
    run = t.distill(items, cache=cache, batch=True, wait=False, progress=False, **kw)  # type: ignore[attr-defined]
    assert isinstance(run, BatchRun)
    return run.collect(poll_interval=0, sleep=Sleeps()), run


def test_happy_path_half_price_and_rerun_asks_nothing(server, tmp_path):
    cache = tmp_path / "c.sqlite"
    t = teacher(server)
    ds, run = run_batch(t, problems(), cache)
    assert [r["attempt"] for r in ds] == ["42"] * 3
    assert all(r["error"] is None for r in ds)
    assert server.creates == 1 and server.uploads == 1
    assert sorted(server.billed.values()) == [1, 1, 1]
    assert run.report.billed == 3
    assert run.report.cost_usd == pytest.approx(run.report.sync_cost_usd / 2)
    assert t.last_summary.requests == 3
    assert sum(r["cost_usd"] for r in ds) == pytest.approx(run.report.cost_usd)
    # The same rows as a synchronous run would give: one JSONL line per request, custom_id keys.
    keys = {k for k, _ in t.requests(problems())}
    assert set(server.billed) == keys
    ds2, run2 = run_batch(t, problems(), cache)
    assert server.creates == 1 and run2.report.billed == 0
    assert [r["attempt"] for r in ds2] == ["42"] * 3
    assert t.last_summary.cached == 3


def test_partial_failures_are_resubmitted_and_permanent_ones_stored(server, tmp_path):
    items = problems(4)
    server.server_errors = {items[1].question}
    server.bad_questions = {items[2].question}
    t = teacher(server)
    ds, run = run_batch(t, items, tmp_path / "c.sqlite")
    rows = {r["id"]: r for r in ds}
    assert rows["p1"]["attempt"] == "42"  # the 500 was resubmitted
    assert rows["p2"]["error"].startswith("bad_request")  # the 400 was not
    assert run.report.resubmitted == 1
    assert server.creates == 2
    assert max(server.billed.values()) == 1


def test_expired_batch_resubmits_the_rest(server, tmp_path):
    server.expire_after = 1
    t = teacher(server)
    ds, run = run_batch(t, problems(3), tmp_path / "c.sqlite")
    assert all(r["attempt"] == "42" for r in ds)
    assert server.creates == 2 and run.report.resubmitted == 2
    assert sorted(server.billed.values()) == [1, 1, 1]


def test_resubmission_limit_then_failure_rows(server, tmp_path):
    items = problems(2)
    t = teacher(server)
    run = t.distill(items, cache=tmp_path / "c.sqlite", batch=True, wait=False, progress=False)
    run.max_resubmits = 1
    # Every round fails the first question with a 500 (re-armed after each batch finishes).
    question = items[0].question
    original = server._finish

    def finish(batch, status, answered):
        server.server_errors.add(question)
        original(batch, status, answered)

    server._finish = finish  # type: ignore[method-assign]
    ds = run.collect(poll_interval=0, sleep=Sleeps())
    rows = {r["id"]: r for r in ds}
    assert rows["p0"]["error"].startswith("server")
    assert rows["p1"]["attempt"] == "42"
    assert server.creates == 2


def test_a_batch_that_never_finishes_times_out_then_resumes(server, tmp_path):
    server.never_finish = True
    cache = tmp_path / "c.sqlite"
    t = teacher(server)
    run = t.distill(problems(), cache=cache, batch=True, wait=False, progress=False)
    sleeps = Sleeps()
    with pytest.raises(BatchTimeout, match="did not finish within max_wait_s=100"):
        run.collect(poll_interval=1, max_poll_interval=16, max_wait_s=100, sleep=sleeps)
    assert sleeps.waits == [1, 2, 4, 8, 16, 16, 16, 16, 16]  # backs off, capped; 95 s
    assert server.retrieves == len(sleeps.waits) + 1
    server.never_finish = False
    ds, _ = run_batch(t, problems(), cache)
    assert server.creates == 1  # the same batch was collected, not submitted again
    assert all(r["attempt"] == "42" for r in ds)


def test_damaged_download_is_fetched_again_never_half_used(server, tmp_path):
    server.damage_downloads = 1
    ds, _ = run_batch(teacher(server), problems(4), tmp_path / "c.sqlite")
    assert all(r["attempt"] == "42" for r in ds)
    assert server.creates == 1


def test_status_and_cancel(server, tmp_path):
    server.polls_to_finish = 5
    cache = tmp_path / "c.sqlite"
    t = teacher(server)
    run = t.distill(problems(), cache=cache, batch=True, wait=False, progress=False)
    states = run.status()
    assert [s.state for s in states.values()] == ["in_progress"]
    assert run.cancel() == 1
    ds = run.collect(poll_interval=0, sleep=Sleeps())
    assert all(r["error"].startswith("server") for r in ds)
    assert not server.billed and server.creates == 1
    with BatchJournal(journal_path(cache)) as journal:
        assert journal.open_batches("openai-compatible", "m", t.endpoint()) == []


def test_cap_applies_before_submission_at_batch_prices(server, tmp_path):
    t = teacher(server, max_output_tokens=1000)
    # Expected per call: ~4 prompt tokens + 1000 output at $2/1M = ~$0.002; batch: ~$0.001.
    ds, _run = run_batch(t, problems(3), tmp_path / "c.sqlite", max_cost_usd=0.0021)
    errors = [r["error"] for r in ds]
    assert sum(e is None for e in errors) == 2
    assert errors[2].startswith("budget")
    assert len(server.billed) == 2


def test_teachers_without_a_batch_api_refuse_before_sending(server, tmp_path):
    cache = tmp_path / "c.sqlite"
    deepseek = tr.teacher("deepseek", api_key="k", base_url=server.base_url)
    with pytest.raises(ConfigError, match="has no batch API"):
        deepseek.distill(problems(), cache=cache, batch=True, progress=False)
    assert server.uploads == 0 and server.creates == 0
    assert not cache.exists()


def test_batch_needs_a_lasting_cache(server):
    with pytest.raises(ConfigError, match="cache that outlives"):
        teacher(server).distill(problems(), cache=False, batch=True, progress=False)
    assert server.uploads == 0


def test_distill_waits_by_default_and_splits_to_the_provider_limit(server, tmp_path, monkeypatch):
    from tinyreason.teachers.openai_batch import OpenAIBatchBackend

    monkeypatch.setattr(OpenAIBatchBackend, "max_requests", 2)
    server.polls_to_finish = 0  # done at the first poll: wait=True never sleeps
    t = teacher(server)
    ds = t.distill(problems(5), cache=tmp_path / "c.sqlite", batch=True, progress=False)
    assert [r["attempt"] for r in ds] == ["42"] * 5
    assert server.creates == 3
    assert [b["request_counts"]["total"] for b in server.batches.values()] == [2, 2, 1]
    assert t.last_summary.requests == 5 and t.last_summary.new == 5


def test_a_journal_of_another_layout_is_refused(tmp_path):
    import sqlite3

    from tinyreason.errors import ArtifactError

    path = tmp_path / "c.sqlite.batches"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(ArtifactError, match="layout 99"):
        BatchJournal(path)


def test_progress_prints_the_summary_and_the_sync_price(server, tmp_path, capsys):
    server.polls_to_finish = 0
    teacher(server).distill(problems(2), cache=tmp_path / "c.sqlite", batch=True)
    out = capsys.readouterr().out
    assert "RunSummary openai-compatible/m" in out
    assert "batch: 1 created, 0 resumed, 1 polls, 0 resubmitted, 2 billed" in out
    assert "(sync: $" in out
