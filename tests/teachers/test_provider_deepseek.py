"""The deepseek teacher end to end: real ``openai`` SDK, real engine, loopback server with faults.

Run: ``.venv/bin/python -m pytest tests/teachers/test_provider_deepseek.py`` (the 300-problem run
is marked slow).
"""

from __future__ import annotations

import asyncio
import logging
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

import tinyreason as tr
from tinyreason.teachers.base import FAILURE_REASONS, ProviderError, TeacherReply, TeacherRequest
from tinyreason.teachers.deepseek import DEEPSEEK_BASE_URL, DeepSeekProvider, DeepSeekTeacher
from tinyreason.testing.provider_server import RANDOM_FAULT_KINDS, ProviderServer, ScriptedReply

KEY = "sk-deepseek-FAKE-KEY-e2e-0123456789abcdef"

# Fast retries and a short timeout, so faults cost milliseconds rather than seconds.
FAST = {
    "timeout": 0.5,
    "retry_base_delay": 0.01,
    "retry_max_delay": 0.05,
    "max_retries": 4,
    "concurrency": 16,
}


def teacher(server: ProviderServer, **kwargs: Any) -> DeepSeekTeacher:
    options = {**FAST, **kwargs}
    return tr.teacher("deepseek", base_url=server.base_url, api_key=KEY, **options)  # type: ignore[return-value]


def problems(n: int) -> list[tr.Problem]:
    return [tr.Problem(f"p{i}", f"What is {i} + {i}?", answer=str(2 * i)) for i in range(n)]


def test_provider_defaults_and_reasoning_content() -> None:
    p = DeepSeekProvider(api_key=KEY)
    assert (p.name, p.model, p.base_url, p.thinking_kind) == (
        "deepseek",
        "deepseek-reasoner",
        DEEPSEEK_BASE_URL,
        "raw",
    )
    assert KEY not in repr(p)
    reply_ = ScriptedReply("1+1=2", "2", input_tokens=5, output_tokens=1, thinking_tokens=30)
    with ProviderServer({"What is 1 + 1?": reply_}) as server:
        p = DeepSeekProvider(api_key=KEY, base_url=server.base_url, timeout=2)

        async def go() -> TeacherReply:
            try:
                return await p.complete(TeacherRequest("p", "What is 1 + 1?", "deepseek-reasoner"))
            finally:
                await p.aclose()

        reply = asyncio.run(go())
        assert server.requests[0].path == "/chat/completions"
    assert (reply.thinking, reply.answer, reply.thinking_kind) == ("1+1=2", "2", "raw")
    assert (reply.usage.output_tokens, reply.usage.thinking_tokens) == (1, 30)


def test_auth_error_names_the_deepseek_variable() -> None:
    with ProviderServer() as server:
        server.inject("unauthorized")
        p = DeepSeekProvider(api_key=KEY, base_url=server.base_url)

        async def go() -> None:
            try:
                await p.complete(TeacherRequest("p", "Q", "deepseek-reasoner"))
            finally:
                await p.aclose()

        with pytest.raises(ProviderError, match="DEEPSEEK_API_KEY") as info:
            asyncio.run(go())
    assert info.value.reason == "auth" and KEY not in str(info.value)


def test_teacher_settings_and_the_request_it_sends() -> None:
    with ProviderServer() as server:
        t = teacher(server, model="deepseek-chat", system_prompt="Reason.", temperature=0.6,
                    max_output_tokens=1000)  # fmt: skip
        ds = t.distill(problems(2), cache=False, progress=False)
        body = server.requests[0].body
    assert body["model"] == "deepseek-chat" and body["max_tokens"] == 1000
    assert body["temperature"] == 0.6 and body["messages"][0] == {
        "role": "system",
        "content": "Reason.",
    }
    assert ds["thinking_kind"] == ["raw", "raw"] and ds["teacher"] == ["deepseek", "deepseek"]
    assert ds["error"] == [None, None] and ds["attempt"] == ["42", "42"]


def test_a_thinking_budget_is_refused_with_the_fix() -> None:
    with pytest.raises(tr.ConfigError, match="max_output_tokens"):
        tr.teacher("deepseek", thinking_budget=1000)


def test_unknown_model_fails_each_row_with_a_reason_naming_it() -> None:
    with ProviderServer(models=["deepseek-reasoner"]) as server:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # no price for the misspelt model
            t = teacher(server, model="deepseek-reasonr")
        ds = t.distill(problems(3), cache=False, progress=False)
        assert len(server.requests) == 3  # a 404 is not retried
    for error in ds["error"]:
        assert error.startswith("bad_request") and "'deepseek-reasonr'" in error


def test_a_rejected_key_stops_the_run_and_the_message_has_no_key(tmp_path: Path) -> None:
    from tinyreason.teachers.engine import RunStopped

    with ProviderServer(fault_rate=1.0, fault_kinds=("unauthorized",)) as server:
        with pytest.raises(RunStopped) as info:
            teacher(server).distill(problems(20), cache=tmp_path / "c.sqlite", progress=False)
        assert len(server.requests) < 20  # stopped early, not one 401 per row
    assert "auth" in str(info.value) and KEY not in str(info.value)


@pytest.mark.slow
def test_300_problems_with_10_percent_faults_end_done_or_failed_with_reason_once_each(
    tmp_path: Path,
) -> None:
    cache = tmp_path / "traces.sqlite"
    items = problems(300)
    with ProviderServer(fault_rate=0.1, seed=11, retry_after="0.05", slow_seconds=3) as server:
        t = teacher(server)
        ds = t.distill(items, cache=cache, progress=False)
        summary = t.last_summary
        first_requests = len(server.requests)
        served = Counter(r.fault for r in server.requests)

        again = t.distill(items, cache=cache, progress=False)
        assert len(server.requests) == first_requests  # the second run asks nothing
        counts, successes = server.counts, server.successes

    # Mixed faults really happened (seeded): transient and permanent ones.
    injected = {k for k in served if k is not None}
    assert len(injected) >= 5 and injected <= set(RANDOM_FAULT_KINDS)
    assert sum(served[k] for k in injected) >= 20

    # One row per problem, in order; each either done or failed with a known reason.
    assert ds["id"] == [p.id for p in items]
    done = failed = 0
    for row in ds:
        if row["error"] is None:
            done += 1
            assert row["attempt"] == "42" and row["thinking_trajectories"][0].startswith("Let me")
            assert row["thinking_kind"] == "raw" and row["finish_reason"] == "stop"
        else:
            failed += 1
            reason = row["error"].split(":", 1)[0]
            assert reason in FAILURE_REASONS and row["finish_reason"] == "error"
    assert done + failed == 300 and done >= 270

    # Nothing duplicated: every done question was answered exactly once by the server, every
    # failed one never; all requests for a question beyond its success were retries of faults.
    for row in ds:
        expected = 1 if row["error"] is None else 0
        assert successes.get(row["question"], 0) == expected, row["id"]
    assert sum(counts.values()) == first_requests
    assert summary is not None and summary.requests == first_requests

    # The second run returns the same rows from the cache.
    assert again["attempt"] == ds["attempt"] and again["error"] == ds["error"]


def test_the_key_is_not_in_the_cache_logs_reprs_or_dataset(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, SDKs and httpx2 included
    cache = tmp_path / "traces.sqlite"
    kinds = (*RANDOM_FAULT_KINDS, "bad_request")
    with ProviderServer(fault_rate=0.4, seed=5, fault_kinds=kinds, retry_after="0",
                        slow_seconds=2) as server:  # fmt: skip
        t = teacher(server)
        ds = t.distill(problems(40), cache=cache, progress=True)
        log_repr = repr(server.requests)
    out, err = capsys.readouterr()
    assert any(e is not None for e in ds["error"])  # failures were recorded too
    texts = {
        "cache": b"".join(f.read_bytes() for f in tmp_path.iterdir()).decode("latin-1"),
        "logs": caplog.text,
        "stdout": out,
        "stderr": err,
        "teacher repr": repr(t),
        "summary": str(t.last_summary),
        "dataset": ds.to_pandas().to_json(),
        "server log": log_repr,
    }
    for where, text in texts.items():
        assert KEY not in text, f"the API key leaked into the {where}"
    assert caplog.text  # the logs were really captured
