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

import re
import threading
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from . import _provider_wire as wire_format
from .faults import FAULT_KINDS, RANDOM_FAULT_KINDS, Fault
from .loopback import LoopbackServer, Request, Response

__all__ = [
    "FAULT_KINDS",  # re-exported from .faults, the faults every loopback server injects
    "RANDOM_FAULT_KINDS",
    "Fault",
    "ProviderServer",
    "ReceivedRequest",
    "ScriptedReply",
]

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
class ProviderServer(LoopbackServer):
    """A loopback server with scripted replies and fault injection, for testing providers.

    A :class:`~tinyreason.testing.loopback.LoopbackServer`: it serves on ``127.0.0.1`` (a free
    port) in a daemon thread; use it as a context manager, or call :meth:`start` and :meth:`stop`.
    Faults are queued with :meth:`inject` (or :meth:`fail_next`), per question too.

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
        super().__init__()
        self._replies: dict[str, ScriptedReply | str] = dict(self.replies)
        self._lock = threading.Lock()
        self._log: list[ReceivedRequest] = []
        self._counts: Counter[str] = Counter()
        self._successes: Counter[str] = Counter()

    def _check_settings(self) -> list[str]:
        problems = super()._check_settings()
        if self.latency < 0:
            problems.append("latency must be >= 0")
        if self.reasoning_style not in _REASONING_STYLES:
            problems.append(f"reasoning_style must be one of {_REASONING_STYLES}")
        return problems

    # -- scripting -------------------------------------------------------------------------

    def script(self, question: str, reply: ScriptedReply | str) -> None:
        """Set the reply to ``question``."""
        with self._lock:
            self._replies[question] = reply

    def reset(self) -> None:
        """Forget the request log, the counts and any queued faults."""
        with self._lock:
            self._log.clear()
            self._counts.clear()
            self._successes.clear()
        self.clear_faults()

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

    # -- serving ---------------------------------------------------------------------------

    def respond(self, request: Request) -> Response | None:
        """Answer one request in the wire format its path names (see the module's routes)."""
        body = request.json()
        wire = wire_format.wire_of(request.path)
        question, system = wire_format.extract(wire, body)
        requested = _requested_model(wire, request.path, body)
        # A real API rejects an unknown model (or path) before anything else can go wrong.
        known = wire != "unknown" and (self.models is None or requested in self.models)
        fault = self.take_fault(question) if known else None
        self._record(
            ReceivedRequest(
                method=request.method,
                path=_KEY_QUERY.sub(r"\1***", request.path),  # ?key=... never reaches the log
                wire=wire,
                body=body,
                header_names=tuple(k.lower() for k in request.headers),
                question=question,
                system=system,
                fault=fault.kind if fault else None,
            )
        )
        if wire == "unknown":
            return Response.json(404, {"error": {"message": f"no route for {request.path}"}})

        def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
            return Response.json(status, wire_format.error_body(wire, status, message), headers)

        if not known:
            return error(404, f"model {requested!r} not found")
        if not self.wait(self.latency):
            return None
        model = self.model_version or requested
        if fault is not None:
            late = question or ""
            return self.fault_response(
                fault,
                reply=lambda: Response.json(200, self._render(wire, late, model, None)),
                error=error,
                bodies={
                    "empty": lambda: wire_format.empty(wire, model),
                    "safety": lambda: wire_format.blocked(wire, model),
                },
            )
        if question is None:
            return error(400, "the request has no user message")
        # Counted before the write, so a client that has read the reply always sees it counted;
        # taken back if the client was gone and the reply never left.
        self._served(question)
        return Response.json(
            200,
            self._render(wire, question, model, system),
            unsent=lambda: self._served(question, -1),
        )

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self._log.append(request)
            if request.question is not None:
                self._counts[request.question] += 1

    def _served(self, question: str, delta: int = 1) -> None:
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

    def _render(self, wire: str, question: str, model: str, system: str | None) -> dict[str, Any]:
        return wire_format.render(
            wire,
            self._reply_for(question),
            model,
            question,
            system,
            reasoning_style=self.reasoning_style,
            details=self.report_thinking_tokens,
        )


_KEY_QUERY = re.compile(r"([?&](?:key|api_key|api-key)=)[^&]*", re.IGNORECASE)


def _requested_model(wire: str, path: str, body: Any) -> str:
    if wire == "gemini":
        return wire_format.path_model(path) or "gemini"
    return str(body.get("model", "model")) if isinstance(body, dict) else "model"
