"""The loopback server framework: lifecycle, bursts of connections, and the one fault API.

Both test servers (ProviderServer, CompletionsServer) are LoopbackServer subclasses; the faults
are injected the same way on each. The CompletionsServer tests run OpenAIServerBackend over TCP,
including the burst of ``max_concurrency=16`` clients that once failed with ``ReadError``.

Run: ``.venv/bin/python -m pytest tests/test_loopback.py``
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tinyreason as tr
from tinyreason.testing import CompletionsServer, ProviderServer
from tinyreason.testing.faults import FAULT_KINDS, Fault, FaultQueue
from tinyreason.testing.loopback import DROP, LoopbackServer, Request, Response

# -- a minimal subclass ---------------------------------------------------------------------------


class Echo(LoopbackServer):
    """Answers every request with its route; takes faults like the real servers do."""

    fault_kinds_served = tuple(k for k in FAULT_KINDS if k not in ("empty", "safety"))

    def __init__(self, **settings: Any) -> None:
        for name, value in settings.items():
            setattr(self, name, value)
        super().__init__()
        self.waits: list[tuple[float, bool]] = []

    def wait(self, seconds: float) -> bool:
        finished = super().wait(seconds)
        self.waits.append((seconds, finished))  # whether each wait ran its whole course
        return finished

    def respond(self, request: Request) -> Response | None:
        fault = self.take_fault()
        if fault is not None:
            return self.fault_response(fault, reply=lambda: self._echo(request))
        return self._echo(request)

    def _echo(self, request: Request) -> Response:
        return Response.json(200, {"route": request.route, "body": request.json()})


def call(server: LoopbackServer, path: str = "/x", timeout: float = 5.0) -> tuple[int, Any, Any]:
    host, port = server.base_url.removeprefix("http://").split("/")[0].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("POST", path, body=json.dumps({"n": 1}))
        response = conn.getresponse()
        data = response.read()
        return response.status, dict(response.getheaders()), data
    finally:
        conn.close()


def test_a_subclass_implements_only_its_routes() -> None:
    with Echo() as server:
        status, _, data = call(server, "/v1/thing/?q=1")
        assert server.running
    assert status == 200 and json.loads(data) == {"route": "/v1/thing", "body": {"n": 1}}
    assert not server.running
    with pytest.raises(RuntimeError, match="Echo is not running"):
        _ = server.base_url


def test_a_bug_in_respond_is_a_500_not_a_hang() -> None:
    class Broken(LoopbackServer):
        def respond(self, request: Request) -> Response | None:
            raise ValueError("oops")

    with Broken() as server:
        status, _, data = call(server)
    assert status == 500 and "ValueError: oops" in json.loads(data)["error"]["message"]


def test_start_and_stop_are_idempotent_and_the_server_restarts() -> None:
    server = Echo()
    assert server.start() is server.start()
    server.stop()
    server.stop()
    with server:
        assert call(server)[0] == 200


def test_a_burst_of_connections_is_served() -> None:
    """64 clients connect at the same moment, three times: every one is answered, none reset.

    With socketserver's listen backlog of 5, the kernel could not queue the burst: connections
    were reset (httpx: ReadError) or their handshake retried after 1, 3, 7 s. The backlog must
    hold a whole burst; the timeouts below only guard against a hang.
    """

    async def one(host: str, port: int) -> bytes:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 120)
        writer.write(b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 120)
        writer.close()
        return line

    async def bursts(host: str, port: int) -> list[bytes]:
        lines: list[bytes] = []
        for _ in range(3):
            lines += await asyncio.gather(*(one(host, port) for _ in range(64)))
        return lines

    with Echo() as server:
        assert server._httpd is not None and server._httpd.request_queue_size >= 64  # a whole burst
        host, port = server.base_url.removeprefix("http://").split(":")
        lines = asyncio.run(bursts(host, int(port)))
    assert len(lines) == 192 and all(line.startswith(b"HTTP/1.1 200") for line in lines)


# -- the fault API, on the base -------------------------------------------------------------------


def test_fail_next_answers_statuses_once_each_with_their_kind() -> None:
    with Echo(retry_after="7") as server:
        server.fail_next(429, 502, 401)
        first, second, third, fourth = (call(server) for _ in range(4))
    assert [r[0] for r in (first, second, third, fourth)] == [429, 502, 401, 200]
    assert first[1]["Retry-After"] == "7" and "Retry-After" not in second[1]
    assert "injected" in json.loads(second[2])["error"]["message"]


def test_drop_slow_and_malformed_faults() -> None:
    with Echo(slow_seconds=0.3) as server:
        server.inject("drop", Fault("slow", seconds=0.2), "malformed")
        with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
            call(server)
        assert call(server)[0] == 200
        assert server.waits == [(0.2, True)]  # the reply waited its whole 0.2 s first
        status, _, data = call(server)
        assert status == 200
        with pytest.raises(json.JSONDecodeError):
            json.loads(data)
        assert call(server)[0] == 200


def test_a_server_refuses_faults_it_cannot_serve_and_bad_faults() -> None:
    server = Echo()
    with pytest.raises(tr.ConfigError, match="cannot inject"):
        server.inject("safety")
    with pytest.raises(tr.ConfigError, match="unknown fault"):
        server.inject("meteor")
    with pytest.raises(tr.ConfigError, match="HTTP error status"):
        server.fail_next(200)
    with pytest.raises(tr.ConfigError, match="status= is for"):
        Fault("drop", status=500)
    with pytest.raises(tr.ConfigError, match="fault_kinds"):
        Echo(fault_kinds=("safety",))
    with pytest.raises(tr.ConfigError, match="fault_rate"):
        Echo(fault_rate=2.0)


def test_an_in_flight_limit_refuses_with_429_while_it_is_full() -> None:
    """A sustained rate limit: while 2 requests are being served, a third gets 429."""
    with Echo(slow_seconds=3600) as server:
        server.limit_in_flight(2, retry_after="3")
        server.inject("slow", "slow")  # two requests that stay in flight until the server stops
        held = [threading.Thread(target=_call_quietly, args=(server,)) for _ in range(2)]
        for thread in held:
            thread.start()
        deadline = time.monotonic() + 60  # a guard against a hang, not a measurement
        while server.limit_stats.in_flight < 2:  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the slow requests never arrived"
            time.sleep(0.01)
        status, headers, body = call(server)
        stats = server.limit_stats
    for thread in held:
        thread.join()
    assert (status, headers["Retry-After"]) == (429, "3")
    assert "rate limit exceeded" in json.loads(body)["error"]["message"]
    assert stats is not None and (stats.limit, stats.refused, stats.peak) == (2, 1, 2)


def test_an_in_flight_place_is_free_before_the_reply_is_written() -> None:
    # Requests one after another never meet the limit, even a limit of one: each request's place
    # is given back before its reply goes out, so the next one (sent after reading it) fits.
    with Echo() as server:
        server.limit_in_flight(1)
        statuses = [call(server)[0] for _ in range(20)]
        stats = server.limit_stats
        server.limit_in_flight(None)
        assert server.limit_stats is None
    assert statuses == [200] * 20
    assert stats is not None and (stats.admitted, stats.refused, stats.in_flight) == (20, 0, 0)


def _call_quietly(server: LoopbackServer) -> None:
    with contextlib.suppress(OSError, http.client.HTTPException):
        call(server, timeout=120)


def test_statuses_map_to_kinds() -> None:
    kinds = [(f.kind, f.http_status) for f in map(Fault.of, (429, 500, 502, 503, 401, 403, 404))]
    assert kinds == [
        ("rate_limit", 429),
        ("server_error", 500),
        ("server_error", 502),
        ("unavailable", 503),
        ("unauthorized", 401),
        ("unauthorized", 403),
        ("bad_request", 404),
    ]


def test_the_fault_queue_order_and_seeded_draws() -> None:
    queue = FaultQueue(fault_rate=0.5, fault_kinds=("drop",), seed=3)
    queue.add(["slow"], question="Q")
    queue.add([500])
    assert queue.take("other").kind == "server_error"  # the shared queue, not Q's
    assert queue.take("Q").kind == "slow"
    draws = [queue.take() for _ in range(40)]
    again = FaultQueue(fault_rate=0.5, fault_kinds=("drop",), seed=3)
    assert [f and f.kind for f in draws] == [
        f and f.kind for f in (again.take() for _ in range(40))
    ]
    assert 5 <= sum(f is not None for f in draws) <= 35
    plain = FaultQueue()
    plain.add(["drop"])
    plain.add(["drop"], question="Q")
    plain.clear()
    assert plain.take("Q") is None


def test_both_servers_are_loopback_servers_with_one_fault_api() -> None:
    assert issubclass(ProviderServer, LoopbackServer)
    assert issubclass(CompletionsServer, LoopbackServer)
    assert ProviderServer.inject is LoopbackServer.inject
    assert CompletionsServer.fail_next is LoopbackServer.fail_next
    assert DROP.status == 0


def test_provider_server_takes_statuses_too() -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "Q"}]}
    with ProviderServer() as server:
        server.fail_next(503)
        host, port = server.base_url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request("POST", "/v1/chat/completions", body=json.dumps(body))
        assert conn.getresponse().status == 503
        conn.close()
        assert [r.fault for r in server.requests] == ["unavailable"]


# -- the CompletionsServer under an OpenAIServerBackend -------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Any]]:
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    path: Path = tr.testing.tiny_model(tmp_path_factory.mktemp("loopback") / "tiny")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model gains nothing from two threads on a busy machine
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(path).eval()
        yield model, transformers.AutoTokenizer.from_pretrained(path)
    finally:
        torch.set_num_threads(threads)


def backend(server: CompletionsServer, tokenizer: Any, **options: Any) -> Any:
    from tinyreason.scaling import OpenAIServerBackend

    options.setdefault("max_retries", 0)
    return OpenAIServerBackend(server.base_url, "tiny", tokenizer, progress=False, **options)


def test_sixteen_concurrent_clients_are_all_served(tiny: tuple[Any, Any]) -> None:
    """The issue's case: max_concurrency=16 once failed with ReadError (a listen backlog of 5)."""
    model, tokenizer = tiny
    with CompletionsServer(model, tokenizer) as server:
        client = backend(server, tokenizer, max_concurrency=16)
        prompts = [client.prompt(f"What is {i} * 7?") for i in range(48)]
        for _ in range(4):  # each generate opens a new client: a new burst of 16 connections
            results = client.generate(prompts, max_new_tokens=2)
            assert len(results) == 48 and all(len(r) == 1 for r in results)
        assert len(server.requests) == 4 * 48


def test_completions_transport_faults_are_retried_by_the_sdk(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    with CompletionsServer(model, tokenizer, slow_seconds=0.05) as server:
        client = backend(server, tokenizer, max_retries=3)
        server.inject("drop", 502, "slow")
        [[generation]] = client.generate([client.prompt("q")], max_new_tokens=3)
    assert generation.thinking_tokens == 3
    assert len(server.requests) == 1  # only the slow reply reached the model


def test_an_empty_completions_reply_is_a_clear_error(tiny: tuple[Any, Any]) -> None:
    from tinyreason.scaling.openai_backend import ServerResponseError

    model, tokenizer = tiny
    with CompletionsServer(model, tokenizer) as server:
        client = backend(server, tokenizer)
        server.inject("empty")
        with pytest.raises(ServerResponseError, match="0 choices"):
            client.generate([client.prompt("q")], max_new_tokens=3)


def test_completions_faults_spare_the_models_listing(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    with CompletionsServer(model, tokenizer) as server:
        server.fail_next(500)
        host, port = server.base_url.removeprefix("http://").split("/")[0].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=5)
        conn.request("GET", "/v1/models")
        assert conn.getresponse().status == 200
        conn.close()
        with pytest.raises(tr.ConfigError, match="cannot inject"):
            server.inject("safety")
