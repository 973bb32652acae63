"""The openai-compatible provider with the real ``openai`` SDK against the loopback server.

Run: ``.venv/bin/python -m pytest tests/teachers/test_provider_openai_compatible.py``
"""

from __future__ import annotations

import contextlib
from typing import Any

import pytest

from tinyreason.teachers.base import ProviderError, TeacherReply, TeacherRequest
from tinyreason.teachers.openai_compatible import OpenAICompatibleProvider, split_think_tags
from tinyreason.testing.provider_server import Fault, ProviderServer, ScriptedReply

from .conftest import call, check_fault

KEY = "sk-tinyreason-FAKE-openai-KEY-0123456789"


def provider(server: ProviderServer, **kwargs: Any) -> OpenAICompatibleProvider:
    return OpenAICompatibleProvider(
        "qwq", api_key=KEY, base_url=f"{server.base_url}/v1", timeout=1.0, **kwargs
    )


def request(question: str = "Q", **settings: Any) -> TeacherRequest:
    return TeacherRequest("p1", question, "qwq", settings=settings)


def test_request_shape(server: ProviderServer) -> None:
    r = TeacherRequest(
        "p1",
        "What is 6*7?",
        "qwq-32b",
        system="Think step by step.",
        settings={
            "temperature": 0.6,
            "top_p": 0.95,
            "max_output_tokens": 2048,
            "seed": 3,
            "extra_body": {"chat_template_kwargs": {"enable_thinking": True}},
        },
    )
    call(provider(server), r)
    [seen] = server.requests
    assert (seen.method, seen.path) == ("POST", "/v1/chat/completions")
    assert seen.body == {
        "model": "qwq-32b",
        "messages": [
            {"role": "system", "content": "Think step by step."},
            {"role": "user", "content": "What is 6*7?"},
        ],
        "temperature": 0.6,
        "top_p": 0.95,
        "max_tokens": 2048,
        "seed": 3,
        "chat_template_kwargs": {"enable_thinking": True},
    }
    assert "authorization" in seen.header_names


def test_request_without_settings_sends_only_model_and_messages(server: ProviderServer) -> None:
    call(provider(server), request())
    assert set(server.requests[0].body) == {"model", "messages"}


@pytest.mark.parametrize("style", ["reasoning_content", "reasoning", "think_tags"])
def test_reasoning_from_each_place(server: ProviderServer, style: str) -> None:
    server.script("Q", ScriptedReply("6*7 is 42.", "42", reasoning_style=style))
    [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply)
    assert (reply.thinking, reply.answer) == ("6*7 is 42.", "42")
    assert (reply.thinking_kind, reply.finish_reason, reply.model) == ("raw", "stop", "qwq")


def test_truncated_think_tags_are_all_thinking(server: ProviderServer) -> None:
    server.script("Q", ScriptedReply("so far", "", "length", reasoning_style="think_tags"))
    [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply)
    assert (reply.thinking, reply.answer, reply.finish_reason) == ("so far", "", "length")


def test_usage_splits_reasoning_tokens_out_of_completion_tokens(server: ProviderServer) -> None:
    server.script(
        "Q", ScriptedReply("t", "a", input_tokens=11, output_tokens=4, thinking_tokens=90)
    )
    [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply)
    assert reply.usage.input_tokens == 11
    assert (reply.usage.output_tokens, reply.usage.thinking_tokens) == (4, 90)


def test_usage_without_reasoning_tokens_is_estimated_from_the_texts() -> None:
    # vLLM reports only completion_tokens: split in proportion to the characters.
    reply_ = ScriptedReply("x" * 300, "y" * 100, output_tokens=25, thinking_tokens=75)
    with ProviderServer({"Q": reply_}, report_thinking_tokens=False) as server:
        [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply)
    assert (reply.usage.output_tokens, reply.usage.thinking_tokens) == (25, 75)


def test_reported_model_version_is_kept() -> None:
    with ProviderServer(model_version="qwq-32b-2025-03-05") as server:
        [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply) and reply.model == "qwq-32b-2025-03-05"


# (fault, reason, retryable, status, retry_after)
FAULTS = [
    ("rate_limit", "rate_limit", True, 429, 1.0),
    (Fault("rate_limit", retry_after="0.25"), "rate_limit", True, 429, 0.25),
    (
        Fault("rate_limit", retry_after="Wed, 21 Oct 2015 07:28:00 GMT"),
        "rate_limit",
        True,
        429,
        0.0,
    ),
    (Fault("rate_limit", retry_after=""), "rate_limit", True, 429, None),
    ("server_error", "server", True, 500, None),
    ("unavailable", "server", True, 503, None),
    ("drop", "connection", True, None, None),
    ("slow", "timeout", True, None, None),
    ("malformed", "malformed", True, None, None),
    ("empty", "empty", True, None, None),
    ("safety", "safety", False, None, None),
    ("unauthorized", "auth", False, 401, None),
    ("bad_request", "bad_request", False, 400, None),
]


@pytest.mark.parametrize(("fault", "reason", "retryable", "status", "retry_after"), FAULTS)
def test_faults_map_to_provider_errors(
    server: ProviderServer,
    fault: str | Fault,
    reason: str,
    retryable: bool,
    status: int | None,
    retry_after: float | None,
) -> None:
    expected = (reason, retryable, status, retry_after)
    check_fault(
        server, provider(server), request(), fault, expected, name="openai-compatible", key=KEY
    )


def test_auth_error_says_where_the_key_comes_from(server: ProviderServer) -> None:
    server.inject("unauthorized")
    [err] = call(provider(server, key_hint="OPENROUTER_API_KEY"), request())
    assert isinstance(err, ProviderError) and "OPENROUTER_API_KEY" in str(err)


def test_unknown_model_is_a_bad_request_naming_the_model() -> None:
    with ProviderServer(models=["qwq"]) as server:
        err, ok = call(provider(server), TeacherRequest("p", "Q", "qwen-typo"), request())
    assert isinstance(err, ProviderError) and isinstance(ok, TeacherReply)
    assert (err.reason, err.status, err.retryable) == ("bad_request", 404, False)
    assert "'qwen-typo'" in str(err)


def test_repr_never_shows_the_key(server: ProviderServer) -> None:
    p = provider(server)
    assert KEY not in repr(p) and KEY not in str(vars(p).get("model"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("<think>\na\n</think>\n\nb", ("a", "b")),
        ("  <THINK>a</THINK>b", ("a", "b")),
        ("<think>unfinished", ("unfinished", "")),
        ("reasoning</think>answer", ("reasoning", "answer")),
        ("just an answer", ("", "just an answer")),
        ("", ("", "")),
        ("<think></think>b", ("", "b")),
    ],
)
def test_split_think_tags(content: str, expected: tuple[str, str]) -> None:
    assert split_think_tags(content) == expected


# -- every shape servers use for reasoning, and what leaks through ----------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        # llama.cpp without a reasoning parser, Qwen3 / R1-distill templates open <think> in the
        # prompt: the reasoning arrives without its opening tag.
        ("6*7 is 42.</think>\n\n42", ("6*7 is 42.", "42")),
        # llama-server --special: the end of turn (and what follows, when it did not stop) leaks.
        ("<think>\n6*7 is 42.\n</think>\n\n42<|im_end|>", ("6*7 is 42.", "42")),
        ("6*7 is 42.</think>42<|im_end|>\n<|im_start|>user\nmore", ("6*7 is 42.", "42")),
        ("<think>6*7 is 42.</think>42<｜end▁of▁sentence｜>", ("6*7 is 42.", "42")),
        ("<|begin_of_text|>42<|eot_id|>", ("", "42")),
    ],
)
def test_reasoning_in_the_content_of_servers_without_a_parser(
    server: ProviderServer, content: str, expected: tuple[str, str]
) -> None:
    server.script("Q", ScriptedReply("", content, reasoning_style="think_tags"))
    warns = pytest.warns(RuntimeWarning, match="no thinking")
    with contextlib.nullcontext() if expected[0] else warns:
        [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply)
    assert (reply.thinking, reply.answer) == expected


def test_a_reasoning_field_and_tags_left_in_the_content_are_both_read() -> None:
    # A parser that took part of the reasoning out, and left a tail of it in the content.
    style = "reasoning_content"
    with ProviderServer(reasoning_style=style) as server:
        server.script("Q", ScriptedReply("first part<|im_end|>", "more</think>42<|im_end|>"))
        [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply)
    assert (reply.thinking, reply.answer) == ("first part\n\nmore", "42")


def test_an_empty_thinking_from_a_reasoning_model_warns_once(server: ProviderServer) -> None:
    server.script("Q", ScriptedReply("", "42"))
    server.script("Q2", ScriptedReply("", "43"))
    p = provider(server)
    with pytest.warns(RuntimeWarning, match="no thinking") as seen:
        first, second = call(p, request(), request("Q2"))
    assert len([w for w in seen if "no thinking" in str(w.message)]) == 1
    assert isinstance(first, TeacherReply) and isinstance(second, TeacherReply)
    assert (first.thinking, first.answer, second.answer) == ("", "42", "43")


def test_a_reply_of_zero_tokens_is_a_reply_with_its_usage() -> None:
    # A model that ends its turn at once: no text, but the server answered and counted it.
    with (
        ProviderServer({"Q": ScriptedReply("", "", input_tokens=9)}) as server,
        pytest.warns(RuntimeWarning, match="no thinking"),
    ):
        [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply)
    assert (reply.thinking, reply.answer, reply.finish_reason) == ("", "", "stop")
    assert reply.usage.input_tokens == 9 and reply.usage.total_tokens == 9


def test_zero_token_replies_appear_in_the_run_summary() -> None:
    import tinyreason as tr

    replies = {"Q": ScriptedReply("", "", input_tokens=9), "R": ScriptedReply("t", "a")}
    with ProviderServer(replies, models=["qwq"]) as server:
        teacher = tr.teacher(
            "openai-compatible",
            model="qwq",
            base_url=f"{server.base_url}/v1",
            prices={"qwq": {"input": 0, "output": 0}},
        )
        with pytest.warns(RuntimeWarning, match="no thinking"):
            ds = teacher.distill(
                [tr.Problem("q", "Q"), tr.Problem("r", "R")], cache=False, progress=False
            )
    summary = teacher.last_summary
    assert summary is not None and (summary.done, summary.failed_total) == (2, 0)
    assert summary.usage.input_tokens >= 9
    rows = {row["id"]: row for row in ds}
    assert rows["q"]["thinking_trajectories"] == [""] and rows["q"]["error"] is None
    assert rows["q"]["usage"]["input_tokens"] == 9
