"""What the provider modules share: reading a model's reply, and building an SDK provider.

Every provider ends a call the same way, whatever its SDK: a reply that a safety filter stopped is
a permanent ``safety`` failure, a reply with no text a retryable ``empty`` one, and anything else
becomes a :class:`~tinyreason.teachers.base.TeacherReply` carrying the provider's
``thinking_kind``. Usage fields are read defensively (an SDK object may lack one or hold ``None``).
The teachers over an official SDK build their provider from the same fields.

Example:
    >>> from tinyreason.records import Usage
    >>> class Provider:
    ...     name, thinking_kind = "demo", "raw"
    >>> reply = text_reply(Provider(), "6*7=42", "42", truncated=False, usage=Usage(),
    ...                    model="m", empty="no text")
    >>> reply.finish_reason, reply.thinking_kind
    ('stop', 'raw')
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, TypedDict, TypeVar

from ..records import Usage
from .base import ProviderError, TeacherReply

if TYPE_CHECKING:
    from .teacher import ProviderTeacher

__all__ = [
    "THINKING_KINDS",
    "Replier",
    "SDKOptions",
    "refused",
    "renamed",
    "reported_part",
    "sdk_options",
    "text_reply",
    "thinking_off",
    "token_count",
]

V = TypeVar("V")

#: The kinds of thinking a reply can carry: the model's own reasoning, or a summary of it.
THINKING_KINDS = ("raw", "summary")


class Replier(Protocol):
    """What :func:`text_reply` reads from a provider."""

    name: str
    thinking_kind: str


def token_count(value: object) -> int:
    """A usage field as a token count: a positive int, else 0 (absent, None, a bool...).

    Example:
        >>> token_count(12), token_count(None), token_count(True), token_count(-3)
        (12, 0, 0, 0)
    """
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def reported_part(usage: object, total: int, details: str, part: str) -> int | None:
    """The thinking share of an inclusive output count, when the API reports it.

    It is ``usage.<details>.<part>``, at most ``total``; None when the API did not report it.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> usage = NS(completion_tokens_details=NS(reasoning_tokens=30))
        >>> reported_part(usage, 40, "completion_tokens_details", "reasoning_tokens")
        30
        >>> reported_part(NS(), 40, "completion_tokens_details", "reasoning_tokens") is None
        True
    """
    value = getattr(getattr(usage, details, None), part, None)
    if isinstance(value, int) and not isinstance(value, bool):
        return min(token_count(value), total)
    return None


def renamed(settings: Mapping[str, V], *same: str, **names: str) -> dict[str, V]:
    """The settings that are set (not None), under the API's names for them.

    Args:
        settings: A request's settings.
        *same: Settings the API takes under the same name.
        **names: Settings the API names otherwise: ``ours="theirs"``.

    Example:
        >>> renamed({"max_output_tokens": 64, "seed": None, "top_p": 0.9},
        ...         "seed", "top_p", max_output_tokens="max_tokens")
        {'top_p': 0.9, 'max_tokens': 64}
    """
    pairs = [*((name, name) for name in same), *names.items()]
    return {api: settings[ours] for ours, api in pairs if settings.get(ours) is not None}


def refused(provider: str, why: str) -> ProviderError:
    """The error for a reply a safety filter stopped: permanent, a retry gets the same refusal.

    Example:
        >>> error = refused("demo", "the prompt was blocked")
        >>> str(error), error.reason, error.retryable
        ('demo: the prompt was blocked', 'safety', False)
    """
    return ProviderError(f"{provider}: {why}", reason="safety", retryable=False)


def text_reply(
    provider: Replier,
    thinking: str,
    answer: str,
    *,
    truncated: bool,
    usage: Usage,
    model: str,
    empty: str | None,
) -> TeacherReply:
    """The reply with these texts, or the retryable ``empty`` error when both are empty.

    Args:
        provider: The provider (its ``name`` and ``thinking_kind``).
        thinking: The reasoning text, stripped.
        answer: The answer text, stripped.
        truncated: The reply was cut at the output limit (``finish_reason="length"``).
        usage: The reply's token counts.
        model: The model the provider reports.
        empty: What the error says when there is no text; None when a reply without text still
            counts (Claude's redacted thinking).

    Raises:
        ProviderError: ``reason="empty"``, ``retryable=True``: no text, and ``empty`` is set.
    """
    if not thinking and not answer and empty is not None:
        raise ProviderError(f"{provider.name}: {empty}", reason="empty", retryable=True)
    return TeacherReply(
        thinking=thinking,
        answer=answer,
        thinking_kind=provider.thinking_kind,
        finish_reason="length" if truncated else "stop",
        usage=usage,
        model=model,
    )


def thinking_off(thinking_budget: int | None) -> dict[str, str]:
    """The settings entry that marks thinking turned off (a 0 budget); empty otherwise.

    Budgets are left out of the cache key (raising one re-asks only the truncated replies), but
    turning thinking off asks for a different kind of reply: it must change the key.

    Example:
        >>> thinking_off(0), thinking_off(None), thinking_off(8192)
        ({'thinking': 'off'}, {}, {})
    """
    return {"thinking": "off"} if thinking_budget == 0 else {}


class SDKOptions(TypedDict):
    """The keyword arguments an SDK provider is built with (see :func:`sdk_options`)."""

    model: str
    api_key: str
    base_url: str | None
    timeout: float
    key_hint: str
    thinking_kind: str


def sdk_options(teacher: ProviderTeacher, default_kind: str, *, no_key: str = "") -> SDKOptions:
    """An SDK provider's options from a teacher: model, key, endpoint, timeout, kind of thinking.

    Args:
        teacher: The teacher (its model is set: construction fails without one).
        default_kind: The kind of thinking when the model table names neither ``"raw"`` nor
            ``"summary"`` for the model.
        no_key: The key sent when the teacher needs none and none is set (``"EMPTY"`` for local
            servers); a teacher that needs a key raises ``ConfigError`` before this is used.

    Example:
        >>> import tinyreason as tr
        >>> teacher = tr.teacher("gemini", model="gemini-2.5-flash", api_key="not-shown")
        >>> options = sdk_options(teacher, "summary")
        >>> options["thinking_kind"], options["key_hint"]
        ('summary', 'GEMINI_API_KEY or GOOGLE_API_KEY')
    """
    model: str = teacher.model  # type: ignore[assignment]  # __post_init__ sets it or raises
    kind = teacher.models.thinking_kind(teacher.name, model)
    return SDKOptions(
        model=model,
        api_key=teacher.resolve_api_key() or no_key,
        base_url=teacher.base_url,
        timeout=teacher.timeout,
        key_hint=" or ".join(teacher.key_env_vars()),
        thinking_kind=kind if kind in THINKING_KINDS else default_kind,
    )
