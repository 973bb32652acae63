"""The gemini provider with the real ``google-genai`` SDK against the loopback server.

Run: ``.venv/bin/python -m pytest tests/teachers/test_provider_gemini.py``
"""

from __future__ import annotations

from typing import Any

import pytest

from tinyreason.teachers.base import ProviderError, TeacherReply, TeacherRequest
from tinyreason.teachers.gemini import GeminiProvider
from tinyreason.testing.provider_server import Fault, ProviderServer, ScriptedReply

from .conftest import call, check_fault

KEY = "AIzaSy-tinyreason-FAKE-gemini-KEY-0123456789"


def provider(server: ProviderServer, **kwargs: Any) -> GeminiProvider:
    return GeminiProvider(
        "gemini-2.5-flash", api_key=KEY, base_url=server.base_url, timeout=1.0, **kwargs
    )


def request(
    question: str = "Q", model: str = "gemini-2.5-flash", **settings: Any
) -> TeacherRequest:
    return TeacherRequest("p1", question, model, settings=settings)


def test_request_shape(server: ProviderServer) -> None:
    r = TeacherRequest(
        "p1",
        "What is 6*7?",
        "gemini-2.5-pro",
        system="Be brief.",
        settings={"temperature": 0.7, "max_output_tokens": 4096, "thinking_budget": 2048},
    )
    call(provider(server), r)
    [seen] = server.requests
    assert seen.path.endswith("/models/gemini-2.5-pro:generateContent")
    assert "x-goog-api-key" in seen.header_names
    assert (seen.question, seen.system) == ("What is 6*7?", "Be brief.")
    config = seen.body["generationConfig"]
    assert config["temperature"] == 0.7 and config["maxOutputTokens"] == 4096
    assert config["thinkingConfig"] == {"include_thoughts": True, "thinking_budget": 2048}


def test_thoughts_are_always_requested_and_levels_pass_through(server: ProviderServer) -> None:
    call(provider(server), request(), request(thinking_level="high"))
    first, second = (r.body["generationConfig"] for r in server.requests)
    assert first == {"thinkingConfig": {"include_thoughts": True}}
    assert second["thinkingConfig"]["thinking_level"] == "HIGH"


def test_thought_parts_are_a_summary_and_usage_adds_thoughts_apart(
    server: ProviderServer,
) -> None:
    reply_ = ScriptedReply(
        "**Multiplying**", "42", input_tokens=9, output_tokens=2, thinking_tokens=300
    )
    server.script("Q", reply_)
    [reply] = call(provider(server), request())
    assert reply == TeacherReply(
        thinking="**Multiplying**",
        answer="42",
        thinking_kind="summary",
        finish_reason="stop",
        usage=reply.usage,
        model="gemini-2.5-flash",
    )
    # candidatesTokenCount already excludes thoughtsTokenCount: nothing to subtract.
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (9, 2)
    assert reply.usage.thinking_tokens == 300


def test_thinking_kind_can_be_set_for_models_that_return_raw_thoughts(
    server: ProviderServer,
) -> None:
    [reply] = call(provider(server, thinking_kind="raw"), request())
    assert isinstance(reply, TeacherReply) and reply.thinking_kind == "raw"


def test_max_tokens_is_length_even_when_cut_while_thinking(server: ProviderServer) -> None:
    server.script("Q", ScriptedReply("half a thought", "", "length"))
    [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply)
    assert (reply.thinking, reply.answer, reply.finish_reason) == ("half a thought", "", "length")


def test_model_version_is_reported() -> None:
    with ProviderServer(model_version="gemini-2.5-flash-preview-09-2025") as server:
        [reply] = call(provider(server), request())
    assert isinstance(reply, TeacherReply) and reply.model == "gemini-2.5-flash-preview-09-2025"


def test_finish_reason_safety_is_a_safety_error(server: ProviderServer) -> None:
    server.script("Q", ScriptedReply("t", "partial", finish_reason="safety"))
    [err] = call(provider(server), request())
    assert isinstance(err, ProviderError)
    assert (err.reason, err.retryable) == ("safety", False)
    assert "SAFETY" in str(err)


FAULTS = [
    ("rate_limit", "rate_limit", True, 429, 1.0),
    (
        Fault("rate_limit", retry_after="Wed, 21 Oct 2015 07:28:00 GMT"),
        "rate_limit",
        True,
        429,
        0.0,
    ),
    ("server_error", "server", True, 500, None),
    ("unavailable", "server", True, 503, None),
    ("drop", "connection", True, None, None),
    ("slow", "timeout", True, None, None),
    ("malformed", "malformed", True, None, None),
    ("empty", "empty", True, None, None),
    ("safety", "safety", False, None, None),  # promptFeedback.blockReason
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
    check_fault(server, provider(server), request(), fault, expected, name="gemini", key=KEY)


def test_unknown_model_is_a_bad_request_naming_it() -> None:
    with ProviderServer(models=["gemini-2.5-flash"]) as server:
        [err] = call(provider(server), request(model="gemini-9-ultra"))
    assert isinstance(err, ProviderError)
    assert (err.reason, err.status) == ("bad_request", 404) and "'gemini-9-ultra'" in str(err)


def test_an_invalid_key_400_is_an_auth_error_and_the_key_is_scrubbed() -> None:
    from google.genai import errors

    body = {
        "error": {
            "code": 400,
            "message": f"API key not valid. Please pass a valid API key. ({KEY})",
            "status": "INVALID_ARGUMENT",
            "details": [{"reason": "API_KEY_INVALID"}],
        }
    }
    p = GeminiProvider(api_key=KEY)
    err = p._status_error(errors.ClientError(400, body, None), "gemini-2.5-flash")
    assert (err.reason, err.retryable, err.status) == ("auth", False, 401)
    assert KEY not in str(err) and "GEMINI_API_KEY" in str(err)


def test_retry_delay_in_the_body_is_used_when_no_header_says() -> None:
    from google.genai import errors

    body = {
        "error": {
            "code": 429,
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "17s"}],
        }
    }
    err = GeminiProvider(api_key=KEY)._status_error(errors.ClientError(429, body, None), "g")
    assert (err.reason, err.retry_after) == ("rate_limit", 17.0)


def test_settings_the_sdk_rejects_are_a_bad_request_without_a_call(server: ProviderServer) -> None:
    [err] = call(provider(server), request(thinking_budget="lots"))
    assert isinstance(err, ProviderError)
    assert (err.reason, err.retryable) == ("bad_request", False) and "thinking_budget" in str(err)
    assert server.requests == []
