"""The seam between the teacher engine and the providers.

A *provider* turns one :class:`TeacherRequest` into one :class:`TeacherReply` by calling a model
(an API through its official SDK, or a local model), and raises :class:`ProviderError` when the call
fails, saying whether retrying can help. Everything else (concurrency, rate limits, retries with
backoff, the cache, cost, progress, the Dataset) is the engine's job, shared by every provider.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ..errors import TinyReasonError
from ..records import Usage

__all__ = [
    "FAILURE_REASONS",
    "Provider",
    "ProviderError",
    "TeacherReply",
    "TeacherRequest",
]

#: Why a call failed, as recorded in a trace's ``error`` and the run summary.
FAILURE_REASONS = (
    "rate_limit",  # 429: retried, honouring Retry-After
    "server",  # 5xx: retried
    "timeout",  # no reply in time: retried
    "connection",  # refused, reset, dropped: retried
    "malformed",  # a reply that does not parse: retried (a proxy hiccup), then failed
    "auth",  # 401/403: permanent; stops the whole run (a bad key fails every row)
    "bad_request",  # 400/404/422: permanent for this request
    "safety",  # blocked by the provider's safety filter: permanent
    "empty",  # no candidate / no text: permanent after retries
    "budget",  # the run's max_cost_usd was reached before this call
)


@dataclass(frozen=True)
class TeacherRequest:
    """One question for a teacher model.

    Only fields that change the model's output belong here: the cache key is derived from them
    (never from concurrency, batch size, timeouts or the API key).

    Args:
        problem_id: The problem's id (not part of the cache key: two problems with the same
            question share one paid answer).
        question: The user message.
        model: The provider's model name.
        system: A system prompt, if any.
        settings: Output-affecting settings (temperature, max output tokens, thinking budget...),
            JSON-serialisable.

    Example:
        >>> r = TeacherRequest("p1", "What is 6 * 7?", "deepseek-reasoner")
        >>> len(r.cache_key("deepseek"))
        64
    """

    problem_id: str
    question: str
    model: str
    system: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def cache_key(self, provider: str) -> str:
        """A stable hash of everything that determines the reply."""
        payload = json.dumps(
            {
                "provider": provider,
                "model": self.model,
                "system": self.system,
                "question": self.question,
                "settings": dict(self.settings),
            },
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TeacherReply:
    """What a provider returned for one request.

    Args:
        thinking: The reasoning text ("" when the provider hid it).
        answer: The visible answer.
        thinking_kind: ``"raw"`` reasoning or a ``"summary"`` of hidden reasoning.
        finish_reason: ``"stop"``, ``"length"`` (truncated), ``"safety"``...
        usage: Tokens, with thinking counted apart from the answer.
        model: The model version the provider reports (may be more precise than requested).
    """

    thinking: str
    answer: str
    thinking_kind: str
    finish_reason: str = "stop"
    usage: Usage = field(default_factory=Usage)
    model: str = ""


class ProviderError(TinyReasonError):
    """A provider call failed.

    Args:
        message: What happened, never including the API key.
        reason: One of :data:`FAILURE_REASONS`.
        retryable: Whether trying again may succeed (429, 5xx, timeouts, dropped connections).
        status: The HTTP status, if there was one.
        retry_after: Seconds the provider asked to wait (``Retry-After``), if it said.

    Example:
        >>> err = ProviderError("HTTP 429 from the server", reason="rate_limit", retryable=True,
        ...                     status=429, retry_after=2.0)
        >>> err.retryable, err.retry_after
        (True, 2.0)
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        retryable: bool,
        status: int | None = None,
        retry_after: float | None = None,
    ):
        if reason not in FAILURE_REASONS:
            raise ValueError(f"unknown failure reason {reason!r}; use one of {FAILURE_REASONS}")
        super().__init__(message)
        self.reason, self.retryable = reason, retryable
        self.status, self.retry_after = status, retry_after


@runtime_checkable
class Provider(Protocol):
    """Calls one model API (or local model) for one request at a time, asynchronously.

    Implementations hold their SDK client; the engine calls :meth:`complete` concurrently and
    :meth:`aclose` once at the end. A provider never retries by itself (SDK retries are turned
    off): the engine decides, so limits, backoff and accounting stay in one place.
    """

    name: str

    async def complete(self, request: TeacherRequest) -> TeacherReply:
        """Call the model; raise :class:`ProviderError` on failure."""
        ...

    async def aclose(self) -> None:
        """Release the client's connections."""
        ...
