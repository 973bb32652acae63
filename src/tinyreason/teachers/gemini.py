"""The ``gemini`` provider: Gemini thinking models through the official ``google-genai`` SDK.

Thinking is requested with ``include_thoughts=True`` (and a ``thinking_budget`` when set); the
reply's parts marked ``thought`` are the thinking, the others the answer. Current Gemini APIs
return *summaries* of the model's thoughts, not the raw reasoning, so traces say
``thinking_kind="summary"``.

The SDK is imported only when a provider is built, so ``import tinyreason`` stays fast.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..records import Usage
from ._http import (
    SDKProvider,
    connection_error,
    malformed_error,
    scrub,
    status_error,
    timeout_error,
)
from .base import Provider, ProviderError, TeacherReply, TeacherRequest
from .messages import refused, renamed, sdk_options, text_reply, thinking_off, token_count
from .teacher import ProviderTeacher

if TYPE_CHECKING:
    from google.genai.errors import APIError
    from google.genai.types import GenerateContentConfig

__all__ = ["GeminiProvider", "GeminiTeacher"]

#: Gemini 3's thinking levels (``thinking_level``), instead of a token budget.
THINKING_LEVELS = ("minimal", "low", "medium", "high")

# Every finish reason that means "a filter stopped it"; OTHER and LANGUAGE are not safety.
_SAFETY_FINISH = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY"}
_RETRY_DELAY = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def _enum_name(value: object) -> str:
    """``FinishReason.STOP`` or ``"STOP"`` -> ``"STOP"``."""
    if value is None:
        return ""
    return str(getattr(value, "value", value)).upper()


def _retry_delay(body: object) -> float | None:
    """Gemini's ``RetryInfo.retryDelay`` (``"17s"``) from a 429 body, when no header says."""
    error = body.get("error", body) if isinstance(body, Mapping) else None
    details = error.get("details") if isinstance(error, Mapping) else None
    for detail in details if isinstance(details, list) else []:
        delay = detail.get("retryDelay") if isinstance(detail, Mapping) else None
        match = _RETRY_DELAY.match(delay) if isinstance(delay, str) else None
        if match:
            return float(match.group(1))
    return None


def _transport_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """The (timeout, lost connection) errors of the HTTP clients google-genai may call through.

    The SDK uses httpx2, or aiohttp for async calls when aiohttp is installed; a timeout is
    checked first (some of aiohttp's are connection errors too).
    """
    import httpx2

    timeouts: tuple[type[Exception], ...] = (httpx2.TimeoutException,)
    dropped: tuple[type[Exception], ...] = (httpx2.TransportError,)
    try:
        import aiohttp
    except ImportError:
        return timeouts, dropped
    # aiohttp's total timeout raises asyncio's TimeoutError, not an aiohttp error.
    return (*timeouts, asyncio.TimeoutError), (*dropped, aiohttp.ClientConnectionError)


class GeminiProvider(SDKProvider):
    """Calls ``models.generate_content`` through ``google-genai``'s async client (no retries).

    Args:
        model: The Gemini model (``"gemini-2.5-pro"``, ``"gemini-2.5-flash"``...).
        api_key: The Gemini API key.
        base_url: Override the API endpoint (a loopback server in tests); None: Google's.
        timeout: Seconds to wait for one reply.
        key_hint: Where the key comes from, named in authentication errors.
        thinking_kind: What the thought parts hold: ``"summary"`` on current Gemini models.

    Settings read from each request (all optional): ``temperature``, ``top_p``,
    ``max_output_tokens`` (thinking and answer together), ``thinking_budget`` (tokens; ``-1``
    lets the model decide, ``0`` turns thinking off where the model allows), ``thinking_level``
    (Gemini 3: ``"low"`` / ``"high"``; not together with a budget), ``seed``.

    Example:
        >>> GeminiProvider("gemini-2.5-pro", api_key="not-shown")
        GeminiProvider(name='gemini', model='gemini-2.5-pro')
    """

    name = "gemini"
    thinking_kind = "summary"

    def __init__(
        self,
        model: str = "gemini-2.5-flash",
        *,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 600.0,
        key_hint: str = "GEMINI_API_KEY",
        thinking_kind: str = "summary",
    ):
        from google import genai
        from google.genai import types

        super().__init__(model, api_key, base_url, timeout, key_hint, thinking_kind)
        options = types.HttpOptions(
            base_url=base_url,
            timeout=max(1, round(timeout * 1000)),  # google-genai takes milliseconds
            # One attempt: the engine retries, honouring Retry-After and the run's limits.
            retry_options=types.HttpRetryOptions(attempts=1),
        )
        self._client = genai.Client(api_key=api_key, http_options=options).aio

    async def aclose(self) -> None:
        """Close the SDK client's connections."""
        await self._client.aclose()

    def _config(self, request: TeacherRequest) -> GenerateContentConfig:
        from google.genai import types

        settings = request.settings
        thinking = renamed(settings, "thinking_budget", "thinking_level")
        config = renamed(settings, "temperature", "top_p", "max_output_tokens", "seed")
        config["thinking_config"] = types.ThinkingConfig(include_thoughts=True, **thinking)
        if request.system:
            config["system_instruction"] = request.system
        return types.GenerateContentConfig(**config)

    async def complete(self, request: TeacherRequest) -> TeacherReply:
        """Generate one reply; map it or raise :class:`ProviderError`."""
        import pydantic
        from google.genai import errors

        timeouts, dropped = _transport_errors()
        model = request.model or self.model
        try:
            config = self._config(request)
        except pydantic.ValidationError as exc:  # a setting the SDK's types reject
            fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e.get("loc"))
            raise ProviderError(
                f"{self.name}: invalid generation settings ({fields}); check the teacher's "
                "thinking_budget, thinking_level and max_output_tokens.",
                reason="bad_request",
                retryable=False,
            ) from None
        try:
            response = await self._client.models.generate_content(
                model=model, contents=request.question, config=config
            )
        except errors.APIError as exc:
            raise self._status_error(exc, model) from None
        except timeouts:
            raise timeout_error(self.name, self.timeout) from None
        except dropped as exc:  # refused, reset, closed without a response
            raise connection_error(self.name, exc) from None
        except (json.JSONDecodeError, errors.UnknownApiResponseError, pydantic.ValidationError):
            raise malformed_error(self.name, "not a GenerateContentResponse") from None
        return self._reply(response, model)

    def _status_error(self, exc: APIError, model: str) -> ProviderError:
        status = int(getattr(exc, "code", 0) or 0)
        body = getattr(exc, "details", None)
        response = getattr(exc, "response", None)
        headers = dict(getattr(response, "headers", None) or {})
        text = scrub(json.dumps(body, default=str) if body is not None else "", [self._secret])
        # Gemini answers a bad key with 400 INVALID_ARGUMENT (reason API_KEY_INVALID).
        if status == 400 and ("API_KEY_INVALID" in text or "API key not valid" in text):
            status = 401
        error = status_error(
            self.name,
            status,
            body,
            headers,
            secrets=[self._secret],
            key_hint=self.key_hint,
            model=model,
        )
        if error.reason == "rate_limit" and error.retry_after is None:
            error.retry_after = _retry_delay(body)
        return error

    def _reply(self, response: Any, model: str) -> TeacherReply:
        feedback = getattr(response, "prompt_feedback", None)
        blocked = _enum_name(getattr(feedback, "block_reason", None))
        if blocked and blocked != "BLOCKED_REASON_UNSPECIFIED":
            raise refused(
                self.name,
                f"the prompt was blocked ({blocked}); rephrase or drop this question (safety "
                "settings cannot unblock every category).",
            )
        candidates = getattr(response, "candidates", None) or []
        if not candidates:
            raise ProviderError(
                f"{self.name}: the reply had no candidates.", reason="empty", retryable=True
            )
        candidate = candidates[0]
        finish = _enum_name(getattr(candidate, "finish_reason", None))
        if finish in _SAFETY_FINISH:
            raise refused(self.name, f"generation was stopped by a filter (finishReason {finish}).")
        thoughts: list[str] = []
        answer: list[str] = []
        content = getattr(candidate, "content", None)
        for part in getattr(content, "parts", None) or []:
            text = getattr(part, "text", None)
            if not isinstance(text, str) or not text:
                continue  # function calls, thought signatures, inline data
            (thoughts if getattr(part, "thought", None) is True else answer).append(text)
        # Parts are consecutive pieces of one text (the SDK's response.text joins them with "").
        return text_reply(
            self,
            "".join(thoughts).strip(),
            "".join(answer).strip(),
            truncated=finish == "MAX_TOKENS",
            usage=self._usage(getattr(response, "usage_metadata", None)),
            model=getattr(response, "model_version", None) or model,
            empty=f"the candidate had no text (finishReason {finish or 'none'}).",
        )

    @staticmethod
    def _usage(meta: Any) -> Usage:
        """Gemini's ``candidatesTokenCount`` already excludes ``thoughtsTokenCount``."""
        if meta is None:
            return Usage()
        return Usage(
            input_tokens=token_count(getattr(meta, "prompt_token_count", 0)),
            output_tokens=token_count(getattr(meta, "candidates_token_count", 0)),
            thinking_tokens=token_count(getattr(meta, "thoughts_token_count", 0)),
        )


@dataclass(frozen=True)
class GeminiTeacher(ProviderTeacher):
    """Distil from Gemini thinking models (``tr.teacher("gemini")``): thought summaries.

    Takes every :class:`~tinyreason.teachers.teacher.ProviderTeacher` option; the key comes from
    ``$GEMINI_API_KEY`` or ``$GOOGLE_API_KEY``. ``thinking_budget`` is sent as
    ``thinkingConfig.thinking_budget`` (None: the model's default, dynamic thinking; ``0``: off
    where the model allows), and ``max_output_tokens`` caps thoughts and answer together.

    Args:
        thinking_level: Gemini 3's ``"minimal"``, ``"low"``, ``"medium"`` or ``"high"``, instead of
            a ``thinking_budget`` (the API takes one or the other).

    Example:
        >>> import tinyreason as tr
        >>> teacher = tr.teacher("gemini", model="gemini-2.5-flash", thinking_budget=8192,
        ...                      api_key="not-shown")
        >>> teacher.settings()
        {'thinking_budget': 8192}
        >>> "not-shown" in repr(teacher)
        False
        >>> traces = teacher.distill(problems)  # doctest: +SKIP
    """

    name: ClassVar[str] = "gemini"
    api_key_env: ClassVar[tuple[str, ...]] = ("GEMINI_API_KEY", "GOOGLE_API_KEY")

    thinking_level: str | None = None

    def _check_fields(self) -> list[str]:
        problems = super()._check_fields()
        if self.thinking_level is not None and self.thinking_level not in THINKING_LEVELS:
            problems.append(
                f"thinking_level must be one of {THINKING_LEVELS} or None, got "
                f"{self.thinking_level!r}"
            )
        if self.thinking_level is not None and self.thinking_budget is not None:
            problems.append(
                "set thinking_level (Gemini 3) or thinking_budget (Gemini 2.5), not both: the API "
                "rejects requests with both."
            )
        return problems

    def settings(self) -> dict[str, Any]:
        """The base settings plus ``thinking_level`` when set, and ``thinking="off"`` for 0."""
        values = super().settings()
        if self.thinking_level is not None:
            values["thinking_level"] = self.thinking_level
        return values | thinking_off(self.thinking_budget)

    def make_provider(self) -> Provider:
        """A :class:`GeminiProvider` for this teacher's model, key, endpoint and timeout."""
        return GeminiProvider(**sdk_options(self, "summary"))
