"""The loopback ProviderServer on its own, over raw HTTP (no SDK): routes, scripts, faults, log.

Run: ``.venv/bin/python -m pytest tests/teachers/test_provider_server.py``
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from typing import Any

import pytest

import tinyreason as tr
from tinyreason.testing import ProviderServer
from tinyreason.testing.provider_server import FAULT_KINDS, Fault, ScriptedReply

SECRET = "sk-server-test-SECRET-0123456789"

OPENAI = ("/v1/chat/completions", {"model": "m", "messages": [{"role": "user", "content": "Q"}]})
ANTHROPIC = (
    "/v1/messages",
    {"model": "c", "max_tokens": 9, "messages": [{"role": "user", "content": "Q"}]},
)
GEMINI = ("/v1beta/models/g-1:generateContent", {"contents": [{"parts": [{"text": "Q"}]}]})


def post(
    server: ProviderServer, path: str, body: Any, timeout: float = 5.0
) -> tuple[int, dict[str, str], bytes]:
    host, port = server.base_url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request(
            "POST",
            path,
            body=json.dumps(body),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {SECRET}"},
        )
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def post_json(server: ProviderServer, route: tuple[str, Any]) -> tuple[int, dict[str, str], Any]:
    status, headers, data = post(server, *route)
    return status, headers, json.loads(data)


def test_each_wire_format_renders_thinking_answer_and_its_own_usage_convention() -> None:
    reply = ScriptedReply("think hard", "42", input_tokens=7, output_tokens=3, thinking_tokens=50)
    with ProviderServer({"Q": reply}) as server:
        _, _, openai = post_json(server, OPENAI)
        _, _, anthropic = post_json(server, ANTHROPIC)
        _, _, gemini = post_json(server, GEMINI)

    message = openai["choices"][0]["message"]
    assert (message["reasoning_content"], message["content"]) == ("think hard", "42")
    assert openai["usage"]["completion_tokens"] == 53  # includes the reasoning
    assert openai["usage"]["completion_tokens_details"]["reasoning_tokens"] == 50
    assert openai["model"] == "m"

    blocks = anthropic["content"]
    assert [b["type"] for b in blocks] == ["thinking", "text"]
    assert anthropic["usage"]["output_tokens"] == 53  # includes the thinking
    assert anthropic["usage"]["output_tokens_details"]["thinking_tokens"] == 50

    parts = gemini["candidates"][0]["content"]["parts"]
    assert parts == [{"text": "think hard", "thought": True}, {"text": "42"}]
    usage = gemini["usageMetadata"]
    assert (usage["candidatesTokenCount"], usage["thoughtsTokenCount"]) == (3, 50)  # excludes
    assert gemini["modelVersion"] == "g-1"  # the model named in the path


@pytest.mark.parametrize(
    ("reply", "content"),
    [
        (ScriptedReply("t", "a", reasoning_style="think_tags"), "<think>\nt</think>\n\na"),
        (ScriptedReply("t", "", "length", reasoning_style="think_tags"), "<think>\nt"),
    ],
)
def test_think_tags_style_puts_reasoning_in_the_content(reply: ScriptedReply, content: str) -> None:
    with ProviderServer({"Q": reply}) as server:
        _, _, body = post_json(server, OPENAI)
    assert body["choices"][0]["message"]["content"] == content


def test_finish_reasons_use_each_formats_words() -> None:
    with ProviderServer({"Q": ScriptedReply("t", "a", "length")}, reasoning_style="reasoning") as s:
        _, _, openai = post_json(s, OPENAI)
        _, _, anthropic = post_json(s, ANTHROPIC)
        _, _, gemini = post_json(s, GEMINI)
    assert openai["choices"][0]["finish_reason"] == "length"
    assert openai["choices"][0]["message"]["reasoning"] == "t"
    assert anthropic["stop_reason"] == "max_tokens"
    assert gemini["candidates"][0]["finishReason"] == "MAX_TOKENS"


def test_default_reply_string_replies_and_scripts() -> None:
    with ProviderServer({"Q": "7"}, default=lambda q: ScriptedReply("d", q.upper())) as server:
        _, _, first = post_json(server, OPENAI)
        server.script("Q", ScriptedReply("x", "8"))
        _, _, second = post_json(server, OPENAI)
        other = (OPENAI[0], {"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        _, _, third = post_json(server, other)
    assert first["choices"][0]["message"]["content"] == "7"
    assert second["choices"][0]["message"]["content"] == "8"
    assert third["choices"][0]["message"]["content"] == "HI"


def test_log_keeps_header_names_never_values_and_counts_per_question() -> None:
    with ProviderServer() as server:
        server.inject("server_error")
        post(server, *OPENAI)
        post(server, *OPENAI)
        post(server, *GEMINI)
        log = server.requests
        counts, successes = server.counts, server.successes
    assert [r.wire for r in log] == ["openai", "openai", "gemini"]
    assert [r.fault for r in log] == ["server_error", None, None]
    assert "authorization" in log[0].header_names
    assert log[0].body["model"] == "m" and log[0].question == "Q"
    assert SECRET not in repr(log)
    assert counts == {"Q": 3} and successes == {"Q": 2}


def test_system_prompts_are_extracted_from_each_format() -> None:
    bodies = [
        (
            OPENAI[0],
            {"messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}]},
        ),
        (ANTHROPIC[0], {**ANTHROPIC[1], "system": [{"type": "text", "text": "S"}]}),
        (GEMINI[0], {**GEMINI[1], "systemInstruction": {"parts": [{"text": "S"}]}}),
    ]
    with ProviderServer() as server:
        for route in bodies:
            post(server, *route)
        assert [(r.question, r.system) for r in server.requests] == [("Q", "S")] * 3


@pytest.mark.parametrize(
    ("fault", "status"),
    [("rate_limit", 429), ("server_error", 500), ("unavailable", 503), ("unauthorized", 401),
     ("bad_request", 400)],
)  # fmt: skip
@pytest.mark.parametrize(
    "route", [OPENAI, ANTHROPIC, GEMINI], ids=["openai", "anthropic", "gemini"]
)
def test_status_faults(fault: str, status: int, route: tuple[str, Any]) -> None:
    with ProviderServer(retry_after="4") as server:
        server.inject(fault)
        got, headers, body = post_json(server, route)
        ok, _, _ = post_json(server, route)  # a queued fault is used once
    assert (got, ok) == (status, 200)
    assert json.dumps(body).count("injected") == 1
    assert (headers.get("Retry-After") == "4") is (fault == "rate_limit")


def test_retry_after_can_be_an_http_date_or_absent() -> None:
    date = "Wed, 21 Oct 2015 07:28:00 GMT"
    with ProviderServer() as server:
        server.inject(Fault("rate_limit", retry_after=date), Fault("rate_limit", retry_after=""))
        _, first, _ = post(server, *OPENAI)
        _, second, _ = post(server, *OPENAI)
    assert first["Retry-After"] == date
    assert "Retry-After" not in second


def test_drop_closes_the_connection_without_a_response() -> None:
    with ProviderServer() as server:
        server.inject("drop")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            post(server, *OPENAI)
        assert post(server, *OPENAI)[0] == 200


class RecordingServer(ProviderServer):
    """Records every wait the server makes (latency, slow faults) and whether it ran its course."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.waits: list[tuple[float, bool]] = []
        self.waited = threading.Event()

    def wait(self, seconds: float) -> bool:
        finished = super().wait(seconds)
        if seconds > 0:
            self.waits.append((seconds, finished))
            self.waited.set()
        return finished


def test_slow_reply_outlasts_the_client_timeout_and_stop_does_not_wait_for_it() -> None:
    server = RecordingServer(slow_seconds=3600).start()
    server.inject("slow")
    with pytest.raises((socket.timeout, TimeoutError)):
        post(server, *OPENAI, timeout=0.3)  # the reply would come in an hour
    server.stop()
    assert server.waited.wait(timeout=60)  # a guard against a hang, not a measurement
    assert server.waits == [(3600, False)]  # the hour's wait was cut short by stop()


def test_malformed_empty_and_safety_faults() -> None:
    with ProviderServer() as server:
        server.inject("malformed")
        status, _, data = post(server, *OPENAI)
        assert status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(data)
        server.inject("empty", "empty", "empty")
        assert post_json(server, OPENAI)[2]["choices"] == []
        assert post_json(server, ANTHROPIC)[2]["content"] == []
        assert post_json(server, GEMINI)[2]["candidates"] == []
        server.inject("safety", "safety", "safety")
        assert post_json(server, OPENAI)[2]["choices"][0]["finish_reason"] == "content_filter"
        assert post_json(server, ANTHROPIC)[2]["stop_reason"] == "refusal"
        assert post_json(server, GEMINI)[2]["promptFeedback"]["blockReason"] == "SAFETY"
        assert server.successes == {}  # faults are not successes


def test_per_question_faults_come_before_shared_ones() -> None:
    other = (OPENAI[0], {"model": "m", "messages": [{"role": "user", "content": "other"}]})
    with ProviderServer() as server:
        server.inject("server_error", question="Q")
        server.inject("unavailable")
        assert post(server, *other)[0] == 503
        assert post(server, *OPENAI)[0] == 500
        assert post(server, *OPENAI)[0] == 200


def test_seeded_fault_rate_is_reproducible_and_near_its_rate() -> None:
    def run() -> list[str | None]:
        with ProviderServer(fault_rate=0.3, seed=7, fault_kinds=("server_error", "empty")) as s:
            for _ in range(60):
                post(s, *OPENAI)
            return [r.fault for r in s.requests]

    first, second = run(), run()
    assert first == second
    assert 8 <= sum(f is not None for f in first) <= 30
    assert set(first) <= {None, "server_error", "empty"}


def test_latency_delays_every_reply() -> None:
    with RecordingServer(latency=0.2) as server:
        assert post(server, *OPENAI)[0] == 200
        assert post(server, *GEMINI)[0] == 200
        # Each reply waited its whole latency before it was sent.
        assert server.waits == [(0.2, True), (0.2, True)]


def test_unknown_routes_get_404_and_are_logged() -> None:
    with ProviderServer() as server:
        assert post(server, "/v1/embeddings", {})[0] == 404
        assert server.requests[0].wire == "unknown"


def test_base_url_needs_a_running_server() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = ProviderServer().base_url


@pytest.mark.parametrize(
    "kwargs",
    [{"fault_rate": 1.5}, {"fault_kinds": ("meteor",)}, {"latency": -1},
     {"reasoning_style": "xml"}],
)  # fmt: skip
def test_bad_settings_raise_config_error(kwargs: dict[str, Any]) -> None:
    with pytest.raises(tr.ConfigError):
        ProviderServer(**kwargs)


def test_bad_faults_and_replies_raise_config_error() -> None:
    with pytest.raises(tr.ConfigError, match="unknown fault"):
        Fault("meteor")
    with pytest.raises(tr.ConfigError, match="finish_reason"):
        ScriptedReply("t", "a", finish_reason="tool_use")
    assert "drop" in FAULT_KINDS


def test_testing_package_exports_it_lazily() -> None:
    assert tr.testing.ProviderServer is ProviderServer


def test_a_key_in_the_query_string_never_reaches_the_log() -> None:
    with ProviderServer() as server:
        post(server, f"{GEMINI[0]}?alt=json&key={SECRET}", GEMINI[1])
        [seen] = server.requests
    assert seen.wire == "gemini" and SECRET not in repr(seen)
    assert seen.path.endswith("?alt=json&key=***")
