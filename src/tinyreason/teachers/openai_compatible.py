"""The ``openai-compatible`` provider: any chat-completions server (vLLM, SGLang, OpenRouter...).

Reasoning comes back in one of three places, tried in this order:

1. ``message.reasoning_content`` (DeepSeek, vLLM and SGLang with a reasoning parser);
2. ``message.reasoning`` (OpenRouter, newer vLLM);
3. ``<think>...</think>`` inside ``message.content`` (a server without a reasoning parser). An
   unclosed ``<think>`` (the reply was cut at ``max_tokens``) is all thinking; a lone ``</think>``
   (the chat template opened the tag in the prompt, as DeepSeek-R1 distills' templates do) ends the
   thinking.

The ``openai`` SDK is imported only when a provider is built, so ``import tinyreason`` stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..records import Usage
from ._http import SDKProvider, malformed_error
from .base import Provider, ProviderError, TeacherReply, TeacherRequest
from .teacher import ProviderTeacher

__all__ = ["OpenAICompatibleProvider", "OpenAICompatibleTeacher", "split_think_tags"]

#: The key sent when none is set: local servers (vLLM, SGLang) accept anything.
NO_KEY = "EMPTY"

_OPEN, _CLOSE = "<think>", "</think>"
_LEADING_OPEN = re.compile(r"^\s*<think>", re.IGNORECASE)


def split_think_tags(content: str) -> tuple[str, str]:
    """Split ``<think>...</think>`` reasoning from the answer in a reply's content.

    Returns:
        ``(thinking, answer)``, both stripped. Content with no tags is all answer; an unclosed
        ``<think>`` (a truncated reply) is all thinking; text before a lone ``</think>`` is
        thinking.

    Example:
        >>> split_think_tags("<think>\\n6*7=42\\n</think>\\n\\n42")
        ('6*7=42', '42')
        >>> split_think_tags("<think>6*7 is... let me see")
        ('6*7 is... let me see', '')
        >>> split_think_tags("6*7=42</think>42"), split_think_tags("42")
        (('6*7=42', '42'), ('', '42'))
    """
    match = _LEADING_OPEN.match(content)
    body = content[match.end() :] if match else content
    end = body.lower().find(_CLOSE)
    if end >= 0:
        return body[:end].strip(), body[end + len(_CLOSE) :].strip()
    if match:  # opened and never closed: cut off while thinking
        return body.strip(), ""
    return "", content.strip()


def _estimate_split(total: int, thinking: str, answer: str) -> tuple[int, int]:
    """(answer, thinking) tokens when a server gives only the inclusive completion total.

    Raw reasoning and the answer come from the same tokenizer, so splitting the total in
    proportion to their characters is close; the pair always sums to ``total``.
    """
    if not thinking:
        return total, 0
    if not answer:
        return 0, total
    thinking_tokens = round(total * len(thinking) / (len(thinking) + len(answer)))
    return total - thinking_tokens, thinking_tokens


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


class OpenAICompatibleProvider(SDKProvider):
    """Calls a chat-completions endpoint through the official ``openai`` SDK (async, no retries).

    Args:
        model: The model name the server knows.
        api_key: The key; local servers accept anything (``"EMPTY"``).
        base_url: The server's base URL, including ``/v1`` (``http://localhost:8000/v1``); None:
            OpenAI's own API.
        timeout: Seconds to wait for one reply.
        name: The provider name used in messages and traces.
        key_hint: Where the key comes from, named in authentication errors.
        thinking_kind: What the reasoning field holds: ``"raw"`` for open models and DeepSeek.

    Settings read from each request (all optional): ``temperature``, ``top_p``,
    ``max_output_tokens`` (sent as ``max_tokens``: reasoning and answer together, as these APIs
    count them), ``seed``, ``extra_body`` (a dict merged into the request body, for
    server-specific options such as vLLM's ``chat_template_kwargs``).

    Example:
        >>> provider = OpenAICompatibleProvider("qwq", api_key="EMPTY", base_url="http://h/v1")
        >>> provider  # the key never shows
        OpenAICompatibleProvider(name='openai-compatible', model='qwq', base_url='http://h/v1')
        >>> import asyncio
        >>> request = TeacherRequest("p1", "What is 2+2?", "qwq")
        >>> reply = asyncio.run(provider.complete(request))  # doctest: +SKIP
        >>> reply.thinking_kind  # doctest: +SKIP
        'raw'
    """

    def __init__(
        self,
        model: str,
        *,
        api_key: str,
        base_url: str | None,
        timeout: float = 600.0,
        name: str = "openai-compatible",
        key_hint: str = "OPENAI_API_KEY",
        thinking_kind: str = "raw",
    ):
        from openai import AsyncOpenAI

        self.name = name
        super().__init__(model, api_key, base_url, timeout, key_hint, thinking_kind)
        # max_retries=0: the engine retries, honouring Retry-After and the run's limits.
        self._client = AsyncOpenAI(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, model={self.model!r}, "
            f"base_url={self.base_url!r})"
        )

    async def aclose(self) -> None:
        """Close the SDK client's connections."""
        await self._client.close()

    def _params(self, request: TeacherRequest) -> dict[str, Any]:
        messages = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.question})
        params: dict[str, Any] = {"model": request.model or self.model, "messages": messages}
        settings = request.settings
        for ours, theirs in (
            ("temperature", "temperature"),
            ("top_p", "top_p"),
            # max_tokens, not max_completion_tokens: the one every compatible server knows.
            ("max_output_tokens", "max_tokens"),
            ("seed", "seed"),
        ):
            if settings.get(ours) is not None:
                params[theirs] = settings[ours]
        extra = settings.get("extra_body")
        if isinstance(extra, Mapping) and extra:
            params["extra_body"] = dict(extra)
        return params

    async def complete(self, request: TeacherRequest) -> TeacherReply:
        """Send one chat completion; map the reply or raise :class:`ProviderError`."""
        import openai

        return await self._send(openai, self._client.chat.completions.create, self._params(request))

    def _reply(self, response: Any, model: str) -> TeacherReply:
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list):
            raise malformed_error(self.name, "no 'choices' list")
        if not choices:
            raise ProviderError(
                f"{self.name}: the reply had no choices.", reason="empty", retryable=True
            )
        choice = choices[0]
        finish = getattr(choice, "finish_reason", None)
        if finish == "content_filter":
            raise ProviderError(
                f"{self.name}: the reply was blocked by the content filter (finish_reason "
                "content_filter); rephrase or drop this question.",
                reason="safety",
                retryable=False,
            )
        message = getattr(choice, "message", None)
        content = getattr(message, "content", None) or ""
        reasoning = _reasoning_field(message)
        if reasoning is None:
            thinking, answer = split_think_tags(content)
        else:
            thinking, answer = reasoning.strip(), content.strip()
        if not thinking and not answer:
            raise ProviderError(
                f"{self.name}: the reply had neither reasoning nor content "
                f"(finish_reason {finish!r}).",
                reason="empty",
                retryable=True,
            )
        return TeacherReply(
            thinking=thinking,
            answer=answer,
            thinking_kind=self.thinking_kind,
            finish_reason="length" if finish == "length" else "stop",
            usage=self._usage(getattr(response, "usage", None), thinking, answer),
            model=getattr(response, "model", None) or model,
        )

    def _usage(self, usage: Any, thinking: str, answer: str) -> Usage:
        """Our convention: ``completion_tokens`` includes ``reasoning_tokens``; split them."""
        if usage is None:
            return Usage()
        completion = _count(getattr(usage, "completion_tokens", 0))
        details = getattr(usage, "completion_tokens_details", None)
        reasoning = getattr(details, "reasoning_tokens", None) if details is not None else None
        if isinstance(reasoning, int) and not isinstance(reasoning, bool):
            thinking_tokens = min(_count(reasoning), completion)
            answer_tokens = completion - thinking_tokens
        else:  # vLLM, SGLang and others report only the total
            answer_tokens, thinking_tokens = _estimate_split(completion, thinking, answer)
        return Usage(
            input_tokens=_count(getattr(usage, "prompt_tokens", 0)),
            output_tokens=answer_tokens,
            thinking_tokens=thinking_tokens,
        )


def _reasoning_field(message: Any) -> str | None:
    """``reasoning_content`` or ``reasoning``, from attributes or pydantic's extra fields."""
    if message is None:
        return None
    extra = getattr(message, "model_extra", None) or {}
    for key in ("reasoning_content", "reasoning"):
        value = getattr(message, key, None)
        if value is None:
            value = extra.get(key)
        if isinstance(value, str) and value.strip():
            return value
    return None


@dataclass(frozen=True)
class OpenAICompatibleTeacher(ProviderTeacher):
    """Distil from any chat-completions server (``tr.teacher("openai-compatible")``).

    vLLM, SGLang, OpenRouter, a gateway...: give ``model`` and ``base_url`` (with its ``/v1``).
    The key comes from ``api_key=`` or ``$OPENAI_API_KEY``; without either, ``"EMPTY"`` is sent,
    which local servers accept. Reasoning is read from ``reasoning_content``, ``reasoning`` or
    ``<think>`` tags in the content (see :func:`split_think_tags`).

    Args:
        top_p: Nucleus sampling (None: the server's default).
        extra_body: Server-specific request fields, e.g. vLLM's
            ``{"chat_template_kwargs": {"enable_thinking": True}}`` or a thinking-budget field
            your server documents. Part of the cache key.

    Example:
        >>> import tinyreason as tr
        >>> free = {"Qwen/QwQ-32B": {"input": 0, "output": 0}}  # your own server: no bill
        >>> teacher = tr.teacher("openai-compatible", model="Qwen/QwQ-32B",
        ...                      base_url="http://localhost:8000/v1", top_p=0.95, prices=free)
        >>> teacher.settings()
        {'top_p': 0.95}
        >>> traces = teacher.distill(problems)  # doctest: +SKIP
    """

    name: ClassVar[str] = "openai-compatible"
    api_key_env: ClassVar[tuple[str, ...]] = ("OPENAI_API_KEY",)
    needs_key: ClassVar[bool] = False

    top_p: float | None = None
    extra_body: Mapping[str, Any] | None = field(default=None, hash=False)

    def _check_fields(self) -> list[str]:
        problems = super()._check_fields()
        if self.thinking_budget is not None:
            problems.append(
                "the chat-completions API has no standard thinking budget: leave "
                "thinking_budget=None and pass your server's own field in extra_body=..., or cap "
                "the whole reply with max_output_tokens."
            )
        if self.top_p is not None and (
            isinstance(self.top_p, bool)
            or not isinstance(self.top_p, (int, float))
            or not 0 < self.top_p <= 1
        ):
            problems.append(f"top_p must be in (0, 1], got {self.top_p!r}")
        if self.extra_body is not None and not isinstance(self.extra_body, Mapping):
            problems.append(f"extra_body must be a mapping, got {type(self.extra_body).__name__}")
        return problems

    def settings(self) -> dict[str, Any]:
        """The base settings plus ``top_p`` and ``extra_body`` when set."""
        values = super().settings()
        if self.top_p is not None:
            values["top_p"] = self.top_p
        if self.extra_body:
            values["extra_body"] = dict(self.extra_body)
        return values

    def make_provider(self) -> Provider:
        """An :class:`OpenAICompatibleProvider` for this teacher's server, model and key."""
        kind = self.models.thinking_kind(self.name, self.model)  # type: ignore[arg-type]
        return OpenAICompatibleProvider(
            self.model,  # type: ignore[arg-type]
            api_key=self.resolve_api_key() or NO_KEY,
            base_url=self.base_url,
            timeout=self.timeout,
            name=self.name,
            key_hint=" or ".join(self.key_env_vars()),
            thinking_kind=kind if kind in ("raw", "summary") else "raw",
        )
