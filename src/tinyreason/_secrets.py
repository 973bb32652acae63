"""The one scrubber of API keys: every message that may quote a key goes through :func:`scrub`.

A core module (standard library only), so that the stages that hold keys (teachers, the
completions-server backend) share one rule without importing each other.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MASK", "PLACEHOLDER_KEYS", "scrub"]

#: What a scrubbed secret is replaced with.
MASK = "***"

#: Values sent where a key is required but none is used (vLLM's convention): not secrets.
PLACEHOLDER_KEYS = frozenset({"EMPTY"})

#: Secrets shorter than this are not replaced: replacing "a" would mangle the whole text.
_MIN_SECRET = 4

# Key-shaped tokens (sk-..., AIza..., a bearer token): scrubbed even when the exact key is unknown,
# e.g. a proxy echoing another header back.
_KEY_PATTERNS = re.compile(
    r"(sk-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|(?i:bearer)\s+[A-Za-z0-9._\-]{8,})"
)


def scrub(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every secret, and anything shaped like an API key, replaced by ``***``.

    SDK and server errors sometimes echo the key they were sent. Empty, very short (under 4
    characters) and placeholder (``"EMPTY"``) values are left alone: they are not secrets.

    Args:
        text: The message to clean.
        secrets: The exact secrets to remove (the API key); None entries are skipped.

    Returns:
        The message, safe to store, log or raise.

    Example:
        >>> scrub("Incorrect API key provided: my-key-123456", ["my-key-123456"])
        'Incorrect API key provided: ***'
        >>> scrub("echoed header: Bearer abcdefgh12345 end")
        'echoed header: *** end'
        >>> scrub("api_key=EMPTY is fine", ["EMPTY"])
        'api_key=EMPTY is fine'
    """
    for secret in secrets:
        if secret and len(secret) >= _MIN_SECRET and secret not in PLACEHOLDER_KEYS:
            text = text.replace(secret, MASK)
    return _KEY_PATTERNS.sub(MASK, text)
