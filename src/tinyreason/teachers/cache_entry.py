"""What one cached outcome is (:class:`CacheEntry`), and which ones ``refresh=`` asks again."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..records import Usage
from .base import FAILURE_REASONS, TeacherReply

__all__ = ["REFRESH_CHOICES", "CacheEntry", "check_refresh"]

#: What ``refresh=`` accepts: "truncated" (finish_reason "length"), "failed" (any stored failure),
#: one failure reason (e.g. "safety", "timeout"), or "all".
REFRESH_CHOICES: tuple[str, ...] = ("truncated", "failed", "all", *FAILURE_REASONS)


def check_refresh(refresh: str | Iterable[str]) -> frozenset[str]:
    """Validate ``refresh=``; a single string counts as one choice.

    Raises:
        ConfigError: an unknown choice.

    Example:
        >>> sorted(check_refresh(("truncated", "failed")))
        ['failed', 'truncated']
    """
    chosen = frozenset([refresh] if isinstance(refresh, str) else refresh)
    unknown = sorted(chosen - set(REFRESH_CHOICES))
    if unknown:
        raise ConfigError(
            f"refresh={unknown} is not understood; use any of {', '.join(REFRESH_CHOICES)} "
            "(e.g. refresh=('truncated', 'failed') re-asks truncated and failed replies)."
        )
    return chosen


@dataclass(frozen=True)
class CacheEntry:
    """One cached outcome: a reply, or a failure with its reason.

    Args:
        key: The cache key (see :meth:`~tinyreason.teachers.base.TeacherRequest.cache_key`).
        provider: The provider's name.
        model: The model asked.
        reply: The reply, or None for a failure.
        reason: The failure reason (one of ``FAILURE_REASONS``), or None.
        message: The failure message (already scrubbed of secrets), or None.
        cost_usd: What the call cost, None when unknown.
        attempts: How many calls it took (retries included).
        request: The question, system prompt and settings, for auditing.
        created: When it was stored (seconds since the epoch).
        endpoint: The server it came from, without credentials (``""``: the provider's default);
            None for a reply stored by a schema 1 cache, which did not record it.

    Example:
        >>> e = CacheEntry("k", "gemini", "gemini-2.5-flash", reply=TeacherReply("t", "42", "raw"))
        >>> e.ok, e.finish_reason
        (True, 'stop')
    """

    key: str
    provider: str
    model: str
    reply: TeacherReply | None = None
    reason: str | None = None
    message: str | None = None
    cost_usd: float | None = None
    attempts: int = 1
    request: Mapping[str, Any] = field(default_factory=dict)
    created: float = 0.0
    endpoint: str | None = None

    @property
    def ok(self) -> bool:
        """True for a reply, False for a failure."""
        return self.reply is not None

    @property
    def finish_reason(self) -> str:
        """The reply's finish reason, or ``"error"`` for a failure."""
        return self.reply.finish_reason if self.reply is not None else "error"

    @property
    def usage(self) -> Usage:
        """Tokens used (zero for a failure)."""
        return self.reply.usage if self.reply is not None else Usage()

    def matches(self, refresh: Collection[str]) -> bool:
        """Whether ``refresh=`` asks to re-ask this entry."""
        if "all" in refresh:
            return True
        if self.reply is None:
            return "failed" in refresh or self.reason in refresh
        return "truncated" in refresh and self.reply.finish_reason == "length"
