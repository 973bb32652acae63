"""ProviderTeacher.distill end to end: schema, Jupyter, refresh, bad input, and key hygiene."""

from __future__ import annotations

import asyncio
import logging
import traceback
import warnings
from pathlib import Path

import pytest
from datasets import Dataset

import tinyreason as tr
from tinyreason._async import run_sync
from tinyreason.data import S1K_COLUMNS, TRACE_COLUMNS
from tinyreason.teachers.cache import CACHE_ENV, ReplyCache
from tinyreason.teachers.summary import RunStopped
from tinyreason.teachers.teacher import ProviderTeacher
from tinyreason.testing import FakeProviderTeacher


@pytest.fixture(autouse=True)
def _own_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "default-cache.sqlite"))


def _problems(n: int = 5) -> list[tr.Problem]:
    return [tr.Problem(f"p{i}", f"What is {i} * 7?", answer=str(7 * i)) for i in range(n)]


def test_builtin_returns_an_s1k_dataset_with_teacher_columns() -> None:
    teacher = tr.teacher("fake-api")
    assert isinstance(teacher, FakeProviderTeacher) and isinstance(teacher, tr.Teacher)
    ds = teacher.distill(_problems(), progress=False)  # the default cache ($TINYREASON_CACHE)
    assert isinstance(ds, Dataset) and len(ds) == 5
    assert set(S1K_COLUMNS) | set(TRACE_COLUMNS) <= set(ds.column_names)
    row = ds[3]
    assert row["question"] == "What is 3 * 7?" and row["answer"] == "21"
    assert row["teacher"] == "fake-api" and row["teacher_model"] == "fake-reasoner"
    assert row["thinking_kind"] == "raw" and row["finish_reason"] == "stop"
    assert row["thinking_trajectories"][0].startswith("step0")
    assert row["usage"]["thinking_tokens"] == 20 and row["cost_usd"] > 0
    summary = teacher.last_summary
    assert summary is not None and summary.done == 5 and summary.requests == 5
    assert "<table>" in summary._repr_html_()
    # The default cache made the second run free.
    again = tr.teacher("fake-api")
    again.distill(_problems(), progress=False)
    assert again.stats.total == 0 and again.last_summary.cached == 5  # type: ignore[union-attr]


def test_progress_bar_and_summary_are_shown(capsys: pytest.CaptureFixture[str]) -> None:
    teacher = FakeProviderTeacher()
    teacher.distill(_problems(), cache=False, progress=True)
    out = capsys.readouterr()
    text = out.out + out.err
    assert "fake-api/fake-reasoner" in text and "spent" in text and "projected" in text
    assert "RunSummary" in text


def test_distill_inside_a_running_event_loop() -> None:
    """Jupyter runs an event loop already: distill still works (in a helper thread)."""
    teacher = FakeProviderTeacher(latency=0.001)

    async def notebook_cell() -> Dataset:
        asyncio.get_running_loop()  # a loop is running, as in Jupyter
        return teacher.distill(_problems(), cache=False, progress=False)

    ds = asyncio.run(notebook_cell())
    assert len(ds) == 5 and all(e is None for e in ds["error"])
    # The async API, for async code.
    ds = asyncio.run(FakeProviderTeacher().adistill(_problems(), cache=False, progress=False))
    assert len(ds) == 5


def test_run_sync_raises_the_coroutines_error_in_a_running_loop() -> None:
    async def fails() -> None:
        raise tr.ConfigError("boom")

    async def cell() -> None:
        run_sync(fails)

    with pytest.raises(tr.ConfigError, match="boom"):
        asyncio.run(cell())


def test_refresh_truncated_with_a_larger_budget(tmp_path: Path) -> None:
    cache = tmp_path / "c.sqlite"
    problems = _problems(4)
    short = FakeProviderTeacher(max_output_tokens=10, replies={})
    ds = short.distill(problems, cache=cache, progress=False)
    assert set(ds["finish_reason"]) == {"length"} and short.last_summary.truncated == 4  # type: ignore[union-attr]
    assert "refresh=('truncated',)" in str(short.last_summary)
    # Without refresh, the cached (truncated) replies come back and nothing is asked.
    longer = FakeProviderTeacher(max_output_tokens=100, stats=short.stats)
    assert set(longer.distill(problems, cache=cache, progress=False)["finish_reason"]) == {"length"}
    assert short.stats.total == 4
    # refresh=("truncated",) re-asks exactly those, with the larger budget.
    ds = longer.distill(problems, cache=cache, refresh=("truncated",), progress=False)
    assert set(ds["finish_reason"]) == {"stop"} and short.stats.total == 8
    assert longer.distill(problems, cache=cache, refresh="truncated", progress=False)
    assert short.stats.total == 8  # nothing truncated any more: nothing asked


def test_identical_questions_are_asked_once() -> None:
    teacher = FakeProviderTeacher()
    problems = [tr.Problem("a", "Same?"), tr.Problem("b", "Same?"), tr.Problem("c", "Other?")]
    ds = teacher.distill(problems, cache=False, progress=False)
    assert teacher.stats.total == 2 and ds["attempt"][0] == ds["attempt"][1]
    assert teacher.last_summary.unique == 2 and teacher.last_summary.problems == 3  # type: ignore[union-attr]


# -- bad input ----------------------------------------------------------------------------------


class KeyedFake(FakeProviderTeacher):
    needs_key = True


def test_missing_key_names_the_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TINYREASON_FAKE_API_KEY", raising=False)
    teacher = KeyedFake()
    with pytest.raises(tr.ConfigError, match=r"\$TINYREASON_FAKE_API_KEY.*api_key="):
        teacher.distill(_problems(), cache=False, progress=False)
    assert teacher.stats.total == 0
    monkeypatch.setenv("TINYREASON_FAKE_API_KEY", "from-env-123")
    assert teacher.resolve_api_key() == "from-env-123"
    assert KeyedFake(api_key="explicit-456").resolve_api_key() == "explicit-456"


def test_empty_and_questionless_problems() -> None:
    teacher = FakeProviderTeacher()
    with pytest.raises(tr.DataError, match="no problems given"):
        teacher.distill([], cache=False, progress=False)
    with pytest.raises(tr.DataError, match="no question column"):
        teacher.distill([{"id": 1, "answer": "2"}], cache=False, progress=False)
    with pytest.raises(tr.DataError, match="row 1 has no question text"):
        teacher.distill([{"question": "ok?"}, {"question": "  "}], cache=False, progress=False)
    with pytest.raises(tr.DataError, match="no problems given"):
        teacher.estimate([], cache=False)
    assert teacher.stats.total == 0


def test_bad_settings_are_reported_together() -> None:
    with pytest.raises(tr.ConfigError) as caught:
        FakeProviderTeacher(concurrency=0, timeout=-1, max_output_tokens=1.5)  # type: ignore[arg-type]
    problems = caught.value.problems
    assert len(problems) == 3 and any("concurrency" in p for p in problems)
    with pytest.raises(tr.ConfigError, match="refresh="):
        FakeProviderTeacher().distill(_problems(), cache=False, refresh=("everything",))
    with pytest.raises(tr.ConfigError, match="cache="):
        FakeProviderTeacher().distill(_problems(), cache=3)  # type: ignore[arg-type]


def test_a_subclass_needs_a_name_and_a_model() -> None:
    class Nameless(ProviderTeacher):
        pass

    with pytest.raises(tr.ConfigError, match="name") as caught:
        Nameless()
    assert any("no default model" in p for p in caught.value.problems)


# -- key hygiene --------------------------------------------------------------------------------

KEY = "sk-tinyreason-SECRET-5f3a9c2e7b1d"


def test_the_key_appears_nowhere(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """The fake quotes the key in its errors (as some SDKs do): it must not leak anywhere."""
    caplog.set_level(logging.DEBUG)
    cache = tmp_path / "c.sqlite"
    texts: list[str] = []
    with warnings.catch_warnings(record=True) as caught_warnings:
        warnings.simplefilter("always")
        teacher = FakeProviderTeacher(
            api_key=KEY,
            leak_key_in_errors=True,
            fault_rate=0.3,
            permanent_rate=0.3,
            retry_base_delay=0.0,
            seed=1,
        )
        ds = teacher.distill(_problems(20), cache=cache, progress=False)
        assert any(e is not None for e in ds["error"])  # errors were stored (scrubbed)
        texts += [repr(teacher), str(teacher), repr(teacher.last_summary)]
        texts += [teacher.last_summary._repr_html_(), repr(ds), str(ds.to_list())]  # type: ignore[union-attr]
        texts.append(repr(teacher.make_provider()))
        # A rejected key stops the run: its message, cause chain and traceback are clean too.
        bad = FakeProviderTeacher(api_key=KEY, accept_key="the-right-key", leak_key_in_errors=True)
        with pytest.raises(RunStopped) as caught:
            bad.distill(_problems(3), cache=cache, refresh="all", progress=False)
        error: BaseException | None = caught.value
        assert "rejected the API key" in str(error) and "***" in str(error)
        texts.append("".join(traceback.format_exception(caught.value)))
        while error is not None:
            texts += [str(error), repr(error)]
            error = error.__cause__ or error.__context__
        texts.append(repr(bad.last_summary))
        estimate = teacher.estimate(_problems(20), cache=cache)
        texts += [repr(estimate), str(estimate)]
    texts += [str(w.message) for w in caught_warnings]
    texts += [record.getMessage() for record in caplog.records]
    assert caplog.records  # the retries were logged
    for text in texts:
        assert KEY not in text
    # The SQLite file (and its WAL and shared-memory files) hold no trace of it, in any encoding.
    for path in tmp_path.iterdir():
        data = path.read_bytes()
        for needle in (KEY.encode(), KEY.encode("utf-16-le"), KEY[8:].encode()):
            assert needle not in data, path
    with ReplyCache(cache) as store:
        assert any(e.message and "***" in e.message for e in store.entries())
