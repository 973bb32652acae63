"""The ``anthropic`` provider: Claude with extended thinking through the official ``anthropic`` SDK.

Thinking is requested with a token budget (``thinking={"type": "enabled", "budget_tokens": N}``),
or adaptively (``{"type": "adaptive"}``, the model decides) when no budget is set;
``thinking`` blocks are the thinking, ``text`` blocks the answer. Current Claude models return a
*summary* of their thinking, so traces say ``thinking_kind="summary"``. ``redacted_thinking``
blocks (reasoning the safety systems encrypted) carry no readable text: they are left out of the
thinking, and their tokens are still counted as thinking tokens.

The SDK is imported only when a provider is built, so ``import tinyreason`` stays fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

from ..records import Usage
from ._http import SDKProvider, malformed_error
from .base import Provider, ProviderError, TeacherReply, TeacherRequest
from .messages import (
    refused,
    renamed,
    reported_part,
    sdk_options,
    text_reply,
    thinking_off,
    token_count,
)
from .teacher import ProviderTeacher

__all__ = ["AnthropicProvider", "AnthropicTeacher", "estimate_tokens", "thinking_problems"]

#: Tokens per character for estimates: ~3.5 characters per token in English prose and maths.
_CHARS_PER_TOKEN = 3.5
#: ``output_config.effort`` values.
EFFORTS = ("low", "medium", "high", "xhigh", "max")
#: Anthropic requires ``max_tokens``; used when the request sets none (thinking budget + answer).
DEFAULT_MAX_TOKENS = 32_000


def estimate_tokens(text: str) -> int:
    """A rough token count for ``text`` (characters / 3.5, rounded up).

    Example:
        >>> estimate_tokens("The answer is 42."), estimate_tokens("")
        (5, 0)
    """
    return math.ceil(len(text) / _CHARS_PER_TOKEN) if text else 0


def thinking_problems(budget: int | None, max_tokens: int, temperature: float | None) -> list[str]:
    """What the Messages API would reject about these thinking settings (empty when fine).

    Example:
        >>> thinking_problems(512, 32_000, None)
        ['thinking_budget must be 0 (off) or >= 1024, got 512']
        >>> thinking_problems(16_000, 32_000, 1.0), thinking_problems(0, 1_000, 0.2)
        ([], [])
    """
    problems = []
    if budget is not None and 0 < budget < 1024:
        problems.append(f"thinking_budget must be 0 (off) or >= 1024, got {budget}")
    if budget is not None and budget >= max_tokens:
        problems.append(
            f"thinking_budget ({budget}) must be below max_output_tokens ({max_tokens}), which "
            "covers thinking and answer: raise max_output_tokens or lower the budget"
        )
    if temperature is not None and temperature != 1 and budget != 0:
        problems.append(
            f"thinking only allows temperature=1, got {temperature}: leave temperature unset, "
            "set it to 1, or turn thinking off with thinking_budget=0"
        )
    return problems


class AnthropicProvider(SDKProvider):
    """Calls ``messages.create`` through the ``anthropic`` SDK's async client (no retries).

    Args:
        model: The Claude model (``"claude-sonnet-4-6"``...).
        api_key: The Anthropic API key.
        base_url: Override the API root (a loopback server in tests); None: Anthropic's.
        timeout: Seconds to wait for one reply. Passing it explicitly also skips the SDK's refusal
            of large non-streaming ``max_tokens``.
        key_hint: Where the key comes from, named in authentication errors.
        thinking_kind: What thinking blocks hold: ``"summary"`` on Claude 4 models, ``"raw"`` on
            Claude 3.7 Sonnet.

    Settings read from each request (all optional): ``max_output_tokens`` (sent as
    ``max_tokens``, which the API requires: thinking and answer together; default 32,000),
    ``thinking_budget`` (tokens, at least 1,024 and below ``max_output_tokens``; ``0`` turns
    thinking off; absent: adaptive thinking, where the model decides), ``effort``
    (``output_config.effort``: ``"low"`` ... ``"max"``), ``temperature`` (only 1 with thinking)
    and ``top_p`` (sent in the body: this SDK's ``create()`` has no sampling parameters).

    Example:
        >>> AnthropicProvider("claude-sonnet-4-6", api_key="not-shown")
        AnthropicProvider(name='anthropic', model='claude-sonnet-4-6')
    """

    name = "anthropic"
    thinking_kind = "summary"

    def __init__(
        self,
        model: str = "claude-sonnet-4-6",
        *,
        api_key: str,
        base_url: str | None = None,
        timeout: float = 600.0,
        key_hint: str = "ANTHROPIC_API_KEY",
        thinking_kind: str = "summary",
    ):
        from anthropic import AsyncAnthropic

        super().__init__(model, api_key, base_url, timeout, key_hint, thinking_kind)
        # max_retries=0: the engine retries, honouring Retry-After and the run's limits.
        self._client = AsyncAnthropic(
            api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout
        )

    async def aclose(self) -> None:
        """Close the SDK client's connections."""
        await self._client.close()

    def _params(self, request: TeacherRequest) -> dict[str, object]:
        settings = request.settings
        max_tokens = settings.get("max_output_tokens") or DEFAULT_MAX_TOKENS
        budget, temperature = settings.get("thinking_budget"), settings.get("temperature")
        problems = thinking_problems(budget, max_tokens, temperature)
        if problems:
            raise ProviderError(
                f"{self.name}: {'; '.join(problems)}.", reason="bad_request", retryable=False
            )
        params: dict[str, object] = {
            "model": request.model or self.model,
            "max_tokens": max_tokens,
            "messages": [{"role": "user", "content": request.question}],
            # Explicit, so the SDK does not refuse a large non-streaming max_tokens.
            "timeout": self.timeout,
        }
        if request.system:
            params["system"] = request.system
        # display="summarized": on models whose default display omits the thinking there would
        # otherwise be nothing to distil.
        if budget is None:
            params["thinking"] = {"type": "adaptive", "display": "summarized"}
        elif budget > 0:
            params["thinking"] = {
                "type": "enabled",
                "budget_tokens": budget,
                "display": "summarized",
            }
        if settings.get("effort") is not None:
            params["output_config"] = {"effort": settings["effort"]}
        # This SDK's create() no longer takes sampling parameters; older models still accept
        # them in the body, newer ones may reject them (a bad_request naming the field).
        sampling = renamed(settings, "temperature", "top_p")
        if sampling:
            params["extra_body"] = sampling
        return params

    async def complete(self, request: TeacherRequest) -> TeacherReply:
        """Create one message; map it or raise :class:`ProviderError`."""
        import anthropic

        return await self._send(anthropic, self._client.messages.create, self._params(request))

    def _reply(self, response: Any, model: str) -> TeacherReply:
        stop = getattr(response, "stop_reason", None)
        if stop == "refusal":
            raise refused(
                self.name,
                "Claude declined to answer (stop_reason refusal); rephrase or drop this question.",
            )
        blocks = getattr(response, "content", None)
        if not isinstance(blocks, list):
            raise malformed_error(self.name, "no 'content' list")
        thoughts, answer, redacted = [], [], 0
        for block in blocks:
            kind = getattr(block, "type", None)
            if kind == "thinking":
                thoughts.append(getattr(block, "thinking", "") or "")
            elif kind == "redacted_thinking":
                redacted += 1
            elif kind == "text":
                answer.append(getattr(block, "text", "") or "")
        thinking = "\n\n".join(t.strip() for t in thoughts if t.strip())
        answer_text = "".join(answer).strip()
        usage = getattr(response, "usage", None)
        return text_reply(
            self,
            thinking,
            answer_text,
            truncated=stop in ("max_tokens", "model_context_window_exceeded"),
            usage=self._usage(usage, answer_text, thought=bool(thoughts or redacted)),
            model=getattr(response, "model", None) or model,
            # Redacted thinking has no text, but it is a reply (its tokens are thinking).
            empty=None if redacted else f"the reply had no content blocks (stop_reason {stop!r}).",
        )

    @staticmethod
    def _usage(usage: Any, answer: str, *, thought: bool) -> Usage:
        """Anthropic's ``output_tokens`` includes the thinking: split it out.

        ``output_tokens_details.thinking_tokens`` gives the split when the API sends it. Otherwise
        the answer's tokens are estimated from its text and the rest is thinking: the billed
        thinking is the full hidden reasoning, usually far longer than the summary returned, so
        splitting in proportion to the visible texts would undercount it.
        """
        if usage is None:
            return Usage()
        output = token_count(getattr(usage, "output_tokens", 0))
        thinking = reported_part(usage, output, "output_tokens_details", "thinking_tokens")
        if thinking is None:
            thinking = output - min(output, estimate_tokens(answer)) if thought else 0
        # Cached prompt tokens are input too (billed at other rates, counted apart by the API).
        inputs = sum(
            token_count(getattr(usage, name, 0))
            for name in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        )
        return Usage(input_tokens=inputs, output_tokens=output - thinking, thinking_tokens=thinking)


@dataclass(frozen=True)
class AnthropicTeacher(ProviderTeacher):
    """Distil from Claude with extended thinking (``tr.teacher("anthropic")``): summaries.

    Takes every :class:`~tinyreason.teachers.teacher.ProviderTeacher` option; the key comes from
    ``$ANTHROPIC_API_KEY``. ``max_output_tokens`` defaults to 32,000 because the API requires a
    ``max_tokens`` (thinking and answer together). Thinking is on by default:

    * ``thinking_budget=None`` (default): adaptive thinking, the model decides how much (current
      models; the SDK calls fixed budgets deprecated on them);
    * ``thinking_budget=N``: a fixed budget, at least 1,024 and below ``max_output_tokens``
      (Claude 4.5 and older models need one);
    * ``thinking_budget=0``: no thinking.

    With thinking on, ``temperature`` must be unset or 1.

    Args:
        effort: ``output_config.effort``: ``"low"``, ``"medium"``, ``"high"``, ``"xhigh"`` or
            ``"max"`` (None: the model's default). Part of the cache key.

    Example:
        >>> import tinyreason as tr
        >>> teacher = tr.teacher("anthropic", model="claude-opus-4-8", effort="max",
        ...                      api_key="not-shown", prices={"claude-opus-4-8": {"input": 5}})
        >>> teacher.settings()
        {'max_output_tokens': 32000, 'effort': 'max'}
        >>> traces = teacher.distill(problems)  # doctest: +SKIP
    """

    name: ClassVar[str] = "anthropic"
    api_key_env: ClassVar[tuple[str, ...]] = ("ANTHROPIC_API_KEY",)

    max_output_tokens: int | None = DEFAULT_MAX_TOKENS
    effort: str | None = None

    def _check_fields(self) -> list[str]:
        problems = super()._check_fields()
        if self.effort is not None and self.effort not in EFFORTS:
            problems.append(f"effort must be one of {EFFORTS} or None, got {self.effort!r}")
        if problems:  # the checks below assume well-typed values
            return problems
        return thinking_problems(
            self.thinking_budget, self.max_output_tokens or DEFAULT_MAX_TOKENS, self.temperature
        )

    def settings(self) -> dict[str, Any]:
        """The base settings plus ``effort`` when set, and ``thinking="off"`` for a 0 budget."""
        values = super().settings()
        if self.effort is not None:
            values["effort"] = self.effort
        return values | thinking_off(self.thinking_budget)

    def make_provider(self) -> Provider:
        """An :class:`AnthropicProvider` for this teacher's model, key, endpoint and timeout."""
        return AnthropicProvider(**sdk_options(self, "summary"))
