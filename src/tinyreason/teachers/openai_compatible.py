"""The ``openai-compatible`` provider: any chat-completions server (vLLM, SGLang, llama.cpp...).

Reasoning comes back in one of these places (every one that holds text is read, in this order):

1. ``message.reasoning_content`` (DeepSeek, vLLM and SGLang with a reasoning parser, llama.cpp's
   llama-server with ``--reasoning-format deepseek``, transformers serve);
2. ``message.reasoning`` (OpenRouter, newer vLLM, Ollama), or OpenRouter's
   ``reasoning_details`` texts;
3. ``<think>...</think>`` inside ``message.content`` (a server without a reasoning parser). An
   unclosed ``<think>`` (the reply was cut at ``max_tokens``) is all thinking; a lone ``</think>``
   (the chat template opened the tag in the prompt, as DeepSeek-R1 distills' and Qwen3's
   templates do, so the reasoning arrives without its opening tag) ends the thinking.

Special tokens a server lets through (``<|im_end|>``, ``<|eot_id|>``, DeepSeek's
``<｜end▁of▁sentence｜>``: llama-server with ``--special`` writes them) are cut from the texts: the
text after an end-of-turn token is not part of the reply (:func:`strip_special_tokens`).

A reply without thinking from a reasoning model teaches nothing to distil: the first one warns
(``RuntimeWarning``), and every one keeps ``thinking == ""`` in its trace. A reply with no text at
all that the server counted (``usage``) is a reply, with its tokens, not a failure.

The ``openai`` SDK is imported only when a provider is built, so ``import tinyreason`` stays fast.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..records import Usage
from ._http import SDKProvider, malformed_error
from .base import Provider, ProviderError, TeacherReply, TeacherRequest
from .messages import refused, renamed, reported_part, sdk_options, text_reply, token_count
from .teacher import ProviderTeacher

__all__ = [
    "OpenAICompatibleProvider",
    "OpenAICompatibleTeacher",
    "budget_problems",
    "split_think_tags",
    "strip_special_tokens",
]

#: The key sent when none is set: local servers (vLLM, SGLang) accept anything.
NO_KEY = "EMPTY"

_OPEN, _CLOSE = "<think>", "</think>"
_LEADING_OPEN = re.compile(r"^\s*<think>", re.IGNORECASE)

# End-of-turn tokens of the common chat formats (ChatML, Llama 3, Phi, gpt-oss, Cohere,
# DeepSeek, Gemma): the reply ends there, and a server that did not stop may have gone on.
_END_OF_TURN = re.compile(
    r"<\|(?:im_end|eot_id|eom_id|endoftext|end_of_text|end|return|END_OF_TURN_TOKEN)\|>"
    r"|<｜end▁of▁sentence｜>|<end_of_turn>|<eos>"
)
# Any other special token: ChatML-style <|name|>, DeepSeek-style <｜name｜>, Gemma's turn marks.
_SPECIAL = re.compile(r"<\|[A-Za-z][A-Za-z0-9_]*\|>|<｜[^｜<>\n]{1,40}｜>|<start_of_turn>")
_TRAILING_EOS = re.compile(r"(?:\s*</s>)+\s*$")  # Llama 2 / Mistral; only at the very end


def strip_special_tokens(text: str) -> str:
    """``text`` without the special tokens a server let through, cut at an end of turn.

    Example:
        >>> strip_special_tokens("42<|im_end|>\\n<|im_start|>user\\nnext question")
        '42'
        >>> strip_special_tokens("<|begin_of_text|>x = 2<｜end▁of▁sentence｜>")
        'x = 2'
        >>> strip_special_tokens("a <s>struck</s> word</s>")
        'a <s>struck</s> word'
    """
    end = _END_OF_TURN.search(text)
    if end is not None:
        text = text[: end.start()]
    return _TRAILING_EOS.sub("", _SPECIAL.sub("", text))


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
        self._warned_empty = False  # the first reply without thinking warns, once
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

    def _params(self, request: TeacherRequest) -> dict[str, object]:
        messages = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages.append({"role": "user", "content": request.question})
        settings = request.settings
        params: dict[str, object] = {
            "model": request.model or self.model,
            "messages": messages,
            # max_tokens, not max_completion_tokens: the one every compatible server knows.
            **renamed(settings, "temperature", "top_p", "seed", max_output_tokens="max_tokens"),
        }
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
            raise refused(
                self.name,
                "the reply was blocked by the content filter (finish_reason content_filter); "
                "rephrase or drop this question.",
            )
        message = getattr(choice, "message", None)
        content = strip_special_tokens(getattr(message, "content", None) or "")
        reasoning = strip_special_tokens(_reasoning_field(message) or "").strip()
        # Tags in the content too: a server whose parser missed part of the reasoning.
        tagged, answer = split_think_tags(content)
        thinking = "\n\n".join(part for part in (reasoning, tagged) if part)
        usage = getattr(response, "usage", None)
        if not thinking and self.thinking_kind == "raw" and not self._warned_empty:
            self._warned_empty = True
            warnings.warn(
                f"{self.name}: a reply of {model!r} had no thinking (none in reasoning_content, "
                "reasoning or <think> tags); traces without thinking teach nothing to distil. "
                "Is the model a reasoning model, and the server's reasoning parser on (vLLM "
                "--reasoning-parser, llama-server --reasoning-format deepseek)? Such rows keep "
                "thinking=''.",
                RuntimeWarning,
                stacklevel=2,
            )
        return text_reply(
            self,
            thinking,
            answer,
            truncated=finish == "length",
            usage=self._usage(usage, thinking, answer),
            model=getattr(response, "model", None) or model,
            # A reply the server counted is a reply, even with no text (a model that ended its
            # turn at once): its tokens belong in the run's usage. Without usage, it is a hiccup.
            empty=None
            if usage is not None
            else f"the reply had neither reasoning nor content (finish_reason {finish!r}).",
        )

    def _usage(self, usage: Any, thinking: str, answer: str) -> Usage:
        """Our convention: ``completion_tokens`` includes ``reasoning_tokens``; split them."""
        if usage is None:
            return Usage()
        completion = token_count(getattr(usage, "completion_tokens", 0))
        thinking_tokens = reported_part(
            usage, completion, "completion_tokens_details", "reasoning_tokens"
        )
        if thinking_tokens is None:  # vLLM, SGLang and others report only the total
            answer_tokens, thinking_tokens = _estimate_split(completion, thinking, answer)
        else:
            answer_tokens = completion - thinking_tokens
        return Usage(
            input_tokens=token_count(getattr(usage, "prompt_tokens", 0)),
            output_tokens=answer_tokens,
            thinking_tokens=thinking_tokens,
        )


def budget_problems(teacher: ProviderTeacher, api: str, instead: str) -> list[str]:
    """The problem with a thinking budget on an API that takes none (none without a budget).

    Example:
        >>> import tinyreason as tr
        >>> teacher = tr.teacher("deepseek", api_key="not-shown")
        >>> budget_problems(teacher, "this API takes no thinking budget", "cap the reply.")
        []
    """
    if teacher.thinking_budget is None:
        return []
    return [f"{api}: leave thinking_budget=None and {instead}"]


def _reasoning_field(message: Any) -> str | None:
    """``reasoning_content``, ``reasoning`` or ``reasoning_details``' texts (attributes or extras).

    Example:
        >>> from types import SimpleNamespace as NS
        >>> details = [{"type": "reasoning.text", "text": "6*7"}, {"type": "reasoning.encrypted"}]
        >>> _reasoning_field(NS(reasoning_details=details))
        '6*7'
    """
    if message is None:
        return None
    extra = getattr(message, "model_extra", None) or {}

    def get(key: str) -> Any:
        value = getattr(message, key, None)
        return extra.get(key) if value is None else value

    for key in ("reasoning_content", "reasoning"):
        value = get(key)
        if isinstance(value, str) and value.strip():
            return value
    details = get("reasoning_details")
    if isinstance(details, list):
        texts = [d.get("text") for d in details if isinstance(d, Mapping)]
        joined = "\n".join(t for t in texts if isinstance(t, str) and t.strip())
        return joined or None
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
        problems += budget_problems(
            self,
            "the chat-completions API has no standard thinking budget",
            "pass your server's own field in extra_body=..., or cap the whole reply with "
            "max_output_tokens.",
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
        return OpenAICompatibleProvider(name=self.name, **sdk_options(self, "raw", no_key=NO_KEY))

    def make_batch_backend(self) -> Any:
        """OpenAI's ``/v1/batches`` at this teacher's server (see :mod:`.openai_batch`)."""
        from .openai_batch import OpenAIBatchBackend

        provider = self.make_provider()
        assert isinstance(provider, OpenAICompatibleProvider)
        return OpenAIBatchBackend(provider)
