"""A loopback HTTP server that speaks the Gemini, OpenAI-compatible and Anthropic wire formats.

The real provider SDKs talk to it over TCP, so tests exercise the exact code that runs against the
real APIs: request building, response parsing, error classes, timeouts and dropped connections.
Replies are scripted per question (or made by a default function of the question), and faults are
injected from a queue or at a seeded rate.

Routes (any version prefix):

* ``POST .../chat/completions``: OpenAI chat completions (DeepSeek, vLLM, OpenRouter...), with
  ``reasoning_content`` (or ``reasoning``, or ``<think>`` tags in the content) and
  ``usage.completion_tokens_details.reasoning_tokens``.
* ``POST .../messages``: Anthropic messages, with ``thinking`` and ``redacted_thinking`` blocks.
* ``POST .../models/<model>:generateContent``: Gemini, with ``thought`` parts and
  ``usageMetadata.thoughtsTokenCount``.

The request log keeps header *names* only, never their values, so an API key can never leak into
test output through the server.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import socket
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ..errors import ConfigError
from . import _provider_wire as wire_format

__all__ = [
    "FAULT_KINDS",
    "RANDOM_FAULT_KINDS",
    "Fault",
    "ProviderServer",
    "ReceivedRequest",
    "ScriptedReply",
]

#: Every fault the server can inject.
FAULT_KINDS: tuple[str, ...] = (
    "rate_limit",  # 429 with a Retry-After header
    "server_error",  # 500
    "unavailable",  # 503
    "drop",  # the connection is closed without any response
    "slow",  # the reply comes after ``slow_seconds`` (past the client's timeout)
    "malformed",  # 200 with a body that is not JSON
    "empty",  # 200 with no candidate / choice / content block
    "safety",  # 200, blocked by the safety filter
    "unauthorized",  # 401
    "bad_request",  # 400
)

#: The faults a seeded ``fault_rate`` draws from by default: everything a healthy client can meet
#: with a valid key and a valid request.
RANDOM_FAULT_KINDS: tuple[str, ...] = FAULT_KINDS[:8]

_REASONING_STYLES = ("reasoning_content", "reasoning", "think_tags")
_FINISH_REASONS = ("stop", "length", "safety")


@dataclass(frozen=True)
class ScriptedReply:
    """What the server answers to one question.

    Token counts left as None are counted in whitespace-separated words.

    Args:
        thinking: The reasoning text.
        answer: The visible answer.
        finish_reason: ``"stop"``, ``"length"`` (truncated) or ``"safety"``; rendered in each wire
            format's own words (``length`` / ``max_tokens`` / ``MAX_TOKENS``...).
        input_tokens: Prompt tokens to report.
        output_tokens: Answer tokens to report (each wire format adds thinking its own way).
        thinking_tokens: Reasoning tokens to report.
        redacted: Anthropic only: add a ``redacted_thinking`` block before the answer.
        reasoning_style: OpenAI format only: ``"reasoning_content"`` (DeepSeek, vLLM),
            ``"reasoning"`` (OpenRouter, newer vLLM) or ``"think_tags"`` (``<think>...</think>``
            inside the content; unclosed when a ``length`` reply has no answer). None uses the
            server's setting.

    Example:
        >>> ScriptedReply("6 * 7 = 42", "42").finish_reason
        'stop'
    """

    thinking: str = ""
    answer: str = ""
    finish_reason: str = "stop"
    input_tokens: int | None = None
    output_tokens: int | None = None
    thinking_tokens: int | None = None
    redacted: bool = False
    reasoning_style: str | None = None

    def __post_init__(self) -> None:
        if self.finish_reason not in _FINISH_REASONS:
            raise ConfigError(
                f"ScriptedReply.finish_reason must be one of {_FINISH_REASONS}, "
                f"got {self.finish_reason!r}"
            )
        if self.reasoning_style is not None and self.reasoning_style not in _REASONING_STYLES:
            raise ConfigError(
                f"ScriptedReply.reasoning_style must be one of {_REASONING_STYLES} or None, "
                f"got {self.reasoning_style!r}"
            )


@dataclass(frozen=True)
class Fault:
    """A fault to inject, with its optional details.

    Args:
        kind: One of :data:`FAULT_KINDS`.
        retry_after: ``rate_limit`` only: the ``Retry-After`` header value (seconds or an
            HTTP-date); None uses the server's default, ``""`` sends no header.
        seconds: ``slow`` only: how long to wait before replying; None uses the server's default.

    Example:
        >>> Fault("rate_limit", retry_after="3").retry_after
        '3'
    """

    kind: str
    retry_after: str | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ConfigError(f"unknown fault {self.kind!r}; use one of {FAULT_KINDS}")


@dataclass(frozen=True)
class ReceivedRequest:
    """One request the server received.

    Attributes:
        method: ``"POST"``, ``"GET"``...
        path: The request path, query included.
        wire: ``"openai"``, ``"anthropic"``, ``"gemini"`` or ``"unknown"``.
        body: The parsed JSON body (None when absent or not JSON).
        header_names: The request's header names, lower-cased. Values are never stored.
        question: The last user message's text, when one was found.
        system: The system prompt, when one was sent.
        fault: The fault served instead of a reply, if any.
    """

    method: str
    path: str
    wire: str
    body: Any
    header_names: tuple[str, ...]
    question: str | None
    system: str | None
    fault: str | None


def _default_reply(question: str) -> ScriptedReply:
    return ScriptedReply(thinking=f"Let me think about: {question}", answer="42")


@dataclass(eq=False)
class ProviderServer:
    """A loopback server with scripted replies and fault injection, for testing providers.

    It runs a ``ThreadingHTTPServer`` on ``127.0.0.1`` (a free port) in a daemon thread. Use it as
    a context manager, or call :meth:`start` and :meth:`stop`.

    Args:
        replies: A reply per question text: a :class:`ScriptedReply`, or a string used as the
            answer (with a generated thinking text).
        default: Makes the reply to a question that ``replies`` lacks; default: thinking
            ``"Let me think about: <question>"`` and answer ``"42"``.
        latency: Seconds to wait before every reply.
        fault_rate: Probability (0..1) that a request gets a random fault, drawn with ``seed``
            from ``fault_kinds``. Queued faults (:meth:`inject`) come first.
        fault_kinds: The faults ``fault_rate`` draws from.
        seed: Seed of the random fault draws.
        retry_after: Default ``Retry-After`` header of a ``rate_limit`` fault (``""``: none).
        slow_seconds: How long a ``slow`` fault waits before replying: set it past the client's
            timeout.
        model_version: The model version replies report; None echoes the requested model.
        reasoning_style: How OpenAI-format replies carry thinking (see :class:`ScriptedReply`).
        report_thinking_tokens: Report the thinking tokens apart, as OpenAI's
            ``completion_tokens_details.reasoning_tokens`` and Anthropic's
            ``output_tokens_details.thinking_tokens`` do. False gives only the inclusive totals, as
            many OpenAI-compatible servers and older APIs do.
        models: The model names the server knows; a request for another gets a 404, as from the
            real APIs. None accepts any model.

    Example:
        >>> from tinyreason.testing import ProviderServer
        >>> with ProviderServer({"What is 6 * 7?": "42"}) as server:
        ...     server.base_url.startswith("http://127.0.0.1:")
        True
        >>> import tinyreason as tr
        >>> with ProviderServer(fault_rate=0.1, seed=0, retry_after="0.1") as server:
        ...     server.inject("rate_limit", "drop")  # the next two requests fail so
        ...     teacher = tr.teacher("deepseek", base_url=server.base_url, api_key="sk-test")
        ...     traces = teacher.distill(problems, cache=False)  # doctest: +SKIP
        >>> server.counts, server.successes  # doctest: +SKIP
        ({'What is 6 * 7?': 3}, {'What is 6 * 7?': 1})
    """

    replies: Mapping[str, ScriptedReply | str] = field(default_factory=dict)
    default: Callable[[str], ScriptedReply | str] | None = None
    latency: float = 0.0
    fault_rate: float = 0.0
    fault_kinds: Sequence[str] = RANDOM_FAULT_KINDS
    seed: int = 0
    retry_after: str = "1"
    slow_seconds: float = 2.0
    model_version: str | None = None
    reasoning_style: str = "reasoning_content"
    report_thinking_tokens: bool = True
    models: Sequence[str] | None = None

    def __post_init__(self) -> None:
        problems = []
        if not 0.0 <= self.fault_rate <= 1.0:
            problems.append(f"fault_rate must be between 0 and 1, got {self.fault_rate!r}")
        unknown = [k for k in self.fault_kinds if k not in FAULT_KINDS]
        if unknown or not self.fault_kinds:
            problems.append(f"fault_kinds must be a non-empty subset of {FAULT_KINDS}")
        if self.latency < 0 or self.slow_seconds < 0:
            problems.append("latency and slow_seconds must be >= 0")
        if self.reasoning_style not in _REASONING_STYLES:
            problems.append(f"reasoning_style must be one of {_REASONING_STYLES}")
        if problems:
            raise ConfigError(problems)
        self._replies: dict[str, ScriptedReply | str] = dict(self.replies)
        self._lock = threading.Lock()
        self._random = random.Random(self.seed)
        self._queue: list[Fault] = []
        self._question_queues: dict[str, list[Fault]] = {}
        self._log: list[ReceivedRequest] = []
        self._counts: Counter[str] = Counter()
        self._successes: Counter[str] = Counter()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> ProviderServer:
        """Start serving in a daemon thread (idempotent); returns the server."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _Server(("127.0.0.1", 0), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; replies still waiting (``slow``, ``latency``) are abandoned."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>`` (no version prefix: SDKs add their own paths)."""
        if self._httpd is None:
            raise RuntimeError("the ProviderServer is not running; use it in a `with` block")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting -------------------------------------------------------------------------

    def script(self, question: str, reply: ScriptedReply | str) -> None:
        """Set the reply to ``question``."""
        with self._lock:
            self._replies[question] = reply

    def inject(self, *faults: str | Fault, question: str | None = None) -> None:
        """Queue faults for the next requests (or the next requests for ``question``), in order.

        Each queued fault is used once; a question's own queue comes before the shared one.
        """
        parsed = [f if isinstance(f, Fault) else Fault(f) for f in faults]
        with self._lock:
            if question is None:
                self._queue.extend(parsed)
            else:
                self._question_queues.setdefault(question, []).extend(parsed)

    def reset(self) -> None:
        """Forget the request log, the counts and any queued faults."""
        with self._lock:
            self._log.clear()
            self._counts.clear()
            self._successes.clear()
            self._queue.clear()
            self._question_queues.clear()

    # -- inspection ------------------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received so far, in arrival order."""
        with self._lock:
            return list(self._log)

    @property
    def counts(self) -> dict[str, int]:
        """Requests received per question (faulted ones included)."""
        with self._lock:
            return dict(self._counts)

    @property
    def successes(self) -> dict[str, int]:
        """Replies served per question without a fault (what a client could have used)."""
        with self._lock:
            return dict(self._successes)

    # -- internals used by the handler -------------------------------------------------------

    def _next_fault(self, question: str | None) -> Fault | None:
        with self._lock:
            own = self._question_queues.get(question or "")
            if own:
                return own.pop(0)
            if self._queue:
                return self._queue.pop(0)
            if self.fault_rate and self._random.random() < self.fault_rate:
                return Fault(self._random.choice(list(self.fault_kinds)))
        return None

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._log.append(request)
            if request.question is not None:
                self._counts[request.question] += 1

    def _served(self, question: str | None, delta: int = 1) -> None:
        if question is not None:
            with self._lock:
                self._successes[question] += delta
                if self._successes[question] <= 0:
                    del self._successes[question]

    def _reply_for(self, question: str) -> ScriptedReply:
        with self._lock:
            reply = self._replies.get(question)
        if reply is None:
            reply = (self.default or _default_reply)(question)
        if isinstance(reply, str):
            reply = ScriptedReply(thinking=f"Let me think about: {question}", answer=reply)
        return reply

    def _render(
        self, wire: str, reply: ScriptedReply, model: str, question: str, system: str | None
    ) -> dict[str, Any]:
        return wire_format.render(
            wire,
            reply,
            model,
            question,
            system,
            reasoning_style=self.reasoning_style,
            details=self.report_thinking_tokens,
        )

    def _wait(self, seconds: float) -> bool:
        """Sleep, unless the server stops first; True when it is still running."""
        return not self._stopping.wait(seconds) if seconds > 0 else True


_KEY_QUERY = re.compile(r"([?&](?:key|api_key|api-key)=)[^&]*", re.IGNORECASE)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 256  # many concurrent clients connect at once
    owner: ProviderServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: 300 requests need not open 300 connections
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read .requests
        pass

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    # -- dispatch --------------------------------------------------------------------------

    def _handle(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        wire = wire_format.wire_of(self.path)
        question, system = wire_format.extract(wire, body)
        requested = self._requested_model(wire, body)
        # A real API rejects an unknown model (or path) before anything else can go wrong.
        known = wire != "unknown" and (owner.models is None or requested in owner.models)
        fault = owner._next_fault(question) if known else None
        owner._record(
            ReceivedRequest(
                method=self.command,
                path=_KEY_QUERY.sub(r"\1***", self.path),  # ?key=... never reaches the log
                wire=wire,
                body=body,
                header_names=tuple(k.lower() for k in self.headers),
                question=question,
                system=system,
                fault=fault.kind if fault else None,
            )
        )
        if wire == "unknown":
            self._json(404, {"error": {"message": f"no route for {self.path}"}})
            return
        if not known:
            self._error(wire, 404, f"model {requested!r} not found")
            return
        if not owner._wait(owner.latency):
            return
        model = owner.model_version or requested
        if fault is not None:
            self._fault(wire, fault, model, question or "")
            return
        if question is None:
            self._error(wire, 400, "the request has no user message")
            return
        reply = owner._reply_for(question)
        # Counted before the write, so a client that has read the reply always sees it counted;
        # taken back if the client was gone and the reply never left.
        owner._served(question)
        if not self._json(200, owner._render(wire, reply, model, question, system)):
            owner._served(question, -1)

    def _requested_model(self, wire: str, body: Any) -> str:
        if wire == "gemini":
            return wire_format.path_model(self.path) or "gemini"
        return str(body.get("model", "model")) if isinstance(body, dict) else "model"

    # -- faults ----------------------------------------------------------------------------

    def _fault(self, wire: str, fault: Fault, model: str, question: str) -> None:
        owner = self.server.owner
        kind = fault.kind
        if kind == "rate_limit":
            after = owner.retry_after if fault.retry_after is None else fault.retry_after
            headers = {"Retry-After": after} if after else {}
            self._error(wire, 429, "rate limit exceeded (injected)", headers)
        elif kind == "server_error":
            self._error(wire, 500, "internal error (injected)")
        elif kind == "unavailable":
            self._error(wire, 503, "service unavailable (injected)")
        elif kind == "unauthorized":
            self._error(wire, 401, "invalid API key (injected)")
        elif kind == "bad_request":
            self._error(wire, 400, "invalid request (injected)")
        elif kind == "drop":
            self._drop()
        elif kind == "slow":
            seconds = owner.slow_seconds if fault.seconds is None else fault.seconds
            if owner._wait(seconds):
                reply = owner._reply_for(question)
                self._json(200, owner._render(wire, reply, model, question, None))
        elif kind == "malformed":
            self._raw(200, b'{"id": "broken", "choices": [{"message": {"content": "4', "json")
        elif kind == "empty":
            self._json(200, wire_format.empty(wire, model))
        elif kind == "safety":
            self._json(200, wire_format.blocked(wire, model))

    def _drop(self) -> None:
        # Close without a response: the client sees a disconnect, as when a proxy drops it.
        self.close_connection = True
        with contextlib.suppress(OSError):  # the client may have gone already
            self.connection.shutdown(socket.SHUT_RDWR)

    # -- writing ---------------------------------------------------------------------------

    def _error(
        self, wire: str, status: int, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self._json(status, wire_format.error_body(wire, status, message), headers)

    def _json(self, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> bool:
        return self._raw(status, json.dumps(payload).encode("utf-8"), "json", headers)

    def _raw(
        self,
        status: int,
        data: bytes,
        kind: str,
        headers: Mapping[str, str] | None = None,
    ) -> bool:
        """Send a response; False when the client had already gone."""
        try:
            self.send_response(status)
            self.send_header("Content-Type", f"application/{kind}")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
            self.wfile.flush()
        except OSError:  # the client gave up (timed out) first
            self.close_connection = True
            return False
        return True
