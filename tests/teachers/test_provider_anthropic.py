"""The anthropic provider with the real ``anthropic`` SDK against the loopback server.

Run: ``.venv/bin/python -m pytest tests/teachers/test_provider_anthropic.py``
"""

from __future__ import annotations

from typing import Any

import pytest

from tinyreason.teachers.anthropic import AnthropicProvider, estimate_tokens
from tinyreason.teachers.base import ProviderError, TeacherReply, TeacherRequest
from tinyreason.testing.provider_server import Fault, ProviderServer, ScriptedReply

from .conftest import call, check_fault

KEY = "sk-ant-api03-tinyreason-FAKE-anthropic-KEY-0123456789"


def provider(server: ProviderServer, **kwargs: Any) -> AnthropicProvider:
    return AnthropicProvider(
        "claude-sonnet-4-6", api_key=KEY, base_url=server.base_url, timeout=1.0, **kwargs
    )


def request(
    question: str = "Q", model: str = "claude-sonnet-4-6", **settings: Any
) -> TeacherRequest:
    settings.setdefault("thinking_budget", 2048)
    settings.setdefault("max_output_tokens", 8000)
    return TeacherRequest("p1", question, model, settings=settings)


def test_request_shape(server: ProviderServer) -> None:
    r = TeacherRequest(
        "p1",
        "What is 6*7?",
        "claude-opus-4-8",
        system="Be brief.",
        settings={
            "max_output_tokens": 20_000,
            "thinking_budget": 10_000,
            "temperature": 1,
            "effort": "high",
        },
    )
    call(provider(server), r)
    [seen] = server.requests
    assert (seen.method, seen.path) == ("POST", "/v1/messages")
    assert {"authorization", "anthropic-version"} <= set(seen.header_names)
    assert seen.body == {
        "model": "claude-opus-4-8",
        "max_tokens": 20_000,
        "messages": [{"role": "user", "content": "What is 6*7?"}],
        "system": "Be brief.",
        "thinking": {"type": "enabled", "budget_tokens": 10_000, "display": "summarized"},
        "output_config": {"effort": "high"},
        "temperature": 1,  # in the body: this SDK's create() has no sampling parameters
    }


def test_thinking_off_and_adaptive(server: ProviderServer) -> None:
    off = TeacherRequest("p", "Q", "c", settings={"thinking_budget": 0, "temperature": 0.2})
    adaptive = TeacherRequest("p", "Q", "c", settings={})
    call(provider(server), off, adaptive)
    first, second = (r.body for r in server.requests)
    assert "thinking" not in first and first["temperature"] == 0.2
    assert first["max_tokens"] == 32_000  # the API requires one: the default
    assert second["thinking"] == {"type": "adaptive", "display": "summarized"}


@pytest.mark.parametrize(
    ("settings", "match"),
    [
        ({"thinking_budget": 512}, ">= 1024"),
        ({"thinking_budget": 9000, "max_output_tokens": 8000}, "below max_output_tokens"),
        ({"temperature": 0.5}, "temperature=1"),
    ],
)
def test_settings_the_api_would_reject_fail_before_any_request(
    server: ProviderServer, settings: dict[str, Any], match: str
) -> None:
    [err] = call(provider(server), request(**settings))
    assert isinstance(err, ProviderError)
    assert (err.reason, err.retryable) == ("bad_request", False) and match in str(err)
    assert server.requests == []


def test_thinking_blocks_are_a_summary_and_usage_uses_the_reported_split(
    server: ProviderServer,
) -> None:
    reply_ = ScriptedReply("Multiply.", "42", input_tokens=9, output_tokens=2, thinking_tokens=400)
    server.script("Q", reply_)
    [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply)
    assert (reply.thinking, reply.answer, reply.thinking_kind) == ("Multiply.", "42", "summary")
    assert (reply.finish_reason, reply.model) == ("stop", "claude-sonnet-4-6")
    # output_tokens (402) includes thinking; output_tokens_details.thinking_tokens gives the split.
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (9, 2)
    assert reply.usage.thinking_tokens == 400


def test_without_a_reported_split_the_answer_is_estimated_and_the_rest_is_thinking() -> None:
    answer = "The answer is 42, since six sevens are forty-two."
    reply_ = ScriptedReply("short summary", answer, output_tokens=12, thinking_tokens=5000)
    with ProviderServer({"Q": reply_}, report_thinking_tokens=False) as server:
        [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply)
    expected_answer = estimate_tokens(answer)
    assert reply.usage.output_tokens == expected_answer
    assert reply.usage.thinking_tokens == 5012 - expected_answer  # nothing lost, nothing doubled


def test_no_thinking_means_all_output_tokens_are_answer() -> None:
    reply_ = ScriptedReply("", "42", output_tokens=3, thinking_tokens=0)
    with ProviderServer({"Q": reply_}, report_thinking_tokens=False) as server:
        [reply] = call(provider(server), request(thinking_budget=0))
    assert isinstance(reply, TeacherReply)
    assert (reply.thinking, reply.usage.output_tokens, reply.usage.thinking_tokens) == ("", 3, 0)


def test_redacted_thinking_is_left_out_of_the_text(server: ProviderServer) -> None:
    server.script("Q", ScriptedReply("visible", "42", redacted=True, thinking_tokens=100))
    [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply)
    assert (reply.thinking, reply.answer) == ("visible", "42")
    assert "ZW5j" not in reply.thinking  # the encrypted data never becomes "thinking"
    assert reply.usage.thinking_tokens == 100


def test_only_redacted_thinking_is_still_a_reply(server: ProviderServer) -> None:
    server.script("Q", ScriptedReply("", "", "length", redacted=True))
    [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply)
    assert (reply.thinking, reply.answer, reply.finish_reason) == ("", "", "length")


def test_max_tokens_stop_is_length(server: ProviderServer) -> None:
    server.script("Q", ScriptedReply("long thought", "", "length"))
    [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply) and reply.finish_reason == "length"


def test_raw_thinking_kind_for_models_that_return_full_thinking(server: ProviderServer) -> None:
    [reply] = call(provider(server, thinking_kind="raw"), request())
    assert isinstance(reply, TeacherReply) and reply.thinking_kind == "raw"


FAULTS = [
    ("rate_limit", "rate_limit", True, 429, 1.0),
    (Fault("rate_limit", retry_after="2.5"), "rate_limit", True, 429, 2.5),
    ("server_error", "server", True, 500, None),
    ("unavailable", "server", True, 503, None),
    ("drop", "connection", True, None, None),
    ("slow", "timeout", True, None, None),
    ("malformed", "malformed", True, None, None),
    ("empty", "empty", True, None, None),
    ("safety", "safety", False, None, None),  # stop_reason refusal
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
    check_fault(server, provider(server), request(), fault, expected, name="anthropic", key=KEY)


def test_auth_error_names_the_key_variable(server: ProviderServer) -> None:
    server.inject("unauthorized")
    [err] = call(provider(server), request())
    assert isinstance(err, ProviderError) and "ANTHROPIC_API_KEY" in str(err)


def test_unknown_model_is_a_bad_request_naming_it() -> None:
    with ProviderServer(models=["claude-sonnet-4-6"]) as server:
        [err] = call(provider(server), request(model="claude-sonet-4-6"))
    assert isinstance(err, ProviderError)
    assert (err.reason, err.status) == ("bad_request", 404) and "'claude-sonet-4-6'" in str(err)
