"""The ``deepseek`` provider: DeepSeek's OpenAI-compatible API, reasoning in ``reasoning_content``.

DeepSeek-R1 (``deepseek-reasoner``) returns its raw chain of thought, the kind of trace s1-style
distillation wants. The ``openai`` SDK does the talking; the mapping is the
:class:`~tinyreason.teachers.openai_compatible.OpenAICompatibleProvider`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .base import Provider
from .openai_compatible import OpenAICompatibleProvider, budget_problems
from .teacher import ProviderTeacher

__all__ = ["DEEPSEEK_BASE_URL", "DeepSeekProvider", "DeepSeekTeacher"]

#: DeepSeek's API root; the SDK appends ``/chat/completions``.
DEEPSEEK_BASE_URL = "https://api.deepseek.com"


class DeepSeekProvider(OpenAICompatibleProvider):
    """Calls DeepSeek's chat-completions API through the ``openai`` SDK (async, no retries).

    Args:
        model: ``"deepseek-reasoner"`` (R1: raw reasoning) or another DeepSeek model.
        api_key: The DeepSeek key.
        base_url: The API root; a loopback server's URL in tests.
        timeout: Seconds to wait for one reply (R1 can think for minutes).

    Example:
        >>> DeepSeekProvider(api_key="sk-not-shown")
        DeepSeekProvider(name='deepseek', model='deepseek-reasoner', base_url='https://api.deepseek.com')
    """

    def __init__(
        self,
        model: str = "deepseek-reasoner",
        *,
        api_key: str,
        base_url: str = DEEPSEEK_BASE_URL,
        timeout: float = 600.0,
    ):
        super().__init__(
            model,
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            name="deepseek",
            key_hint="DEEPSEEK_API_KEY",
            thinking_kind="raw",
        )


@dataclass(frozen=True)
class DeepSeekTeacher(ProviderTeacher):
    """Distil from DeepSeek-R1 (``tr.teacher("deepseek")``): raw reasoning in ``reasoning_content``.

    Takes every :class:`~tinyreason.teachers.teacher.ProviderTeacher` option; the key comes from
    ``$DEEPSEEK_API_KEY``. ``max_output_tokens`` is sent as ``max_tokens`` and caps reasoning and
    answer together. DeepSeek takes no thinking budget, and ``deepseek-reasoner`` ignores
    ``temperature``.

    Example:
        >>> import tinyreason as tr
        >>> teacher = tr.teacher("deepseek", api_key="not-shown", max_output_tokens=32_000)
        >>> teacher.model, "not-shown" in repr(teacher)
        ('deepseek-reasoner', False)
        >>> traces = teacher.distill(problems)  # doctest: +SKIP
    """

    name: ClassVar[str] = "deepseek"
    api_key_env: ClassVar[tuple[str, ...]] = ("DEEPSEEK_API_KEY",)

    def _check_fields(self) -> list[str]:
        return super()._check_fields() + budget_problems(
            self,
            "DeepSeek's API takes no thinking budget",
            "cap the whole reply (reasoning included) with max_output_tokens.",
        )

    def make_provider(self) -> Provider:
        """A :class:`DeepSeekProvider` for this teacher's model, key, endpoint and timeout."""
        return DeepSeekProvider(
            self.model,  # type: ignore[arg-type]
            api_key=self.resolve_api_key(),  # type: ignore[arg-type]
            base_url=self.base_url or DEEPSEEK_BASE_URL,
            timeout=self.timeout,
        )
