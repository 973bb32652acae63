"""Cache keys: a hash of everything that changes a reply, and nothing that does not.

A reply depends on the provider, the server it came from, the model, the messages and the
sampling settings, so the key (:func:`request_key`) holds all of them: the same model name on two
servers (a vLLM box and a gateway, say) never shares a reply. It holds nothing that does not change
the reply: not the API key (two keys of one account get the same answers), the problem id, the
concurrency, limits, retries or timeouts, and not the output budgets a teacher leaves out on
purpose (so that raising them with ``refresh=("truncated",)`` re-asks only the truncated replies).

The server is named by its :func:`endpoint`: the ``base_url`` with any credentials taken out (a
``user:password@``, a ``?key=`` query parameter, anything shaped like an API key), so no secret
ever reaches a key or the cache file.

Keys of schema 1 caches (tinyreason before the server was in the key) are
:func:`legacy_key`: they are recognised so that their replies can be adopted on purpose, never
served to a request they may not belong to.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from dataclasses import replace
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .._secrets import scrub
from .base import TeacherRequest

__all__ = ["KEY_VERSION", "endpoint", "legacy_key", "request_key"]

#: The key's layout; part of every key, so keys of another layout never match.
KEY_VERSION = 2

#: Query parameters that carry credentials (Gemini's ``?key=``, signed URLs...): never kept.
_SECRET_PARAMS = frozenset(
    {
        "key",
        "api_key",
        "api-key",
        "apikey",
        "access_token",
        "token",
        "auth",
        "authorization",
        "password",
        "secret",
        "sig",
        "signature",
        "x-api-key",
    }
)


def endpoint(base_url: str | None) -> str:
    """The server a ``base_url`` names, without credentials; ``""`` for the provider's default.

    The scheme and host are lower-cased and a trailing ``/`` dropped, so spellings of one URL
    share replies; user info, credential query parameters and key-shaped text are removed.

    Example:
        >>> endpoint("HTTP://User:Secret@LocalHost:8000/v1/?api_key=sk-abc&x=1")
        'http://localhost:8000/v1?x=1'
        >>> endpoint(None), endpoint("https://api.example.com/v1/")
        ('', 'https://api.example.com/v1')
    """
    if not base_url:
        return ""
    parts = urlsplit(base_url.strip())
    host = (parts.hostname or "").lower()
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    query = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name.lower() not in _SECRET_PARAMS
    ]
    url = urlunsplit((parts.scheme.lower(), host, parts.path.rstrip("/"), urlencode(query), ""))
    return scrub(url)


def request_key(
    provider: str,
    server: str,
    request: TeacherRequest,
    exclude: Collection[str] = (),
) -> str:
    """The cache key of ``request`` to ``provider`` at the endpoint ``server``.

    Args:
        provider: The provider's name (``"deepseek"``, ``"openai-compatible"``...).
        server: The :func:`endpoint` the request goes to (``""``: the provider's default).
        request: The request: its model, system prompt, question and settings.
        exclude: Settings left out of the key (a teacher's output budgets).

    Example:
        >>> request = TeacherRequest("p1", "What is 6 * 7?", "qwq", settings={"temperature": 0.6})
        >>> a = request_key("openai-compatible", "http://box-a:8000/v1", request)
        >>> b = request_key("openai-compatible", "http://box-b:8000/v1", request)
        >>> len(a), a == b
        (64, False)
    """
    messages = [{"role": "user", "content": request.question}]
    if request.system is not None:
        messages.insert(0, {"role": "system", "content": request.system})
    payload = json.dumps(
        {
            "key_version": KEY_VERSION,
            "provider": provider,
            "endpoint": server,
            "model": request.model,
            "messages": messages,
            "settings": {k: v for k, v in request.settings.items() if k not in exclude},
        },
        sort_keys=True,
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def legacy_key(provider: str, request: TeacherRequest, exclude: Collection[str] = ()) -> str:
    """The key a schema 1 cache stored ``request`` under (no endpoint in it).

    Example:
        >>> len(legacy_key("deepseek", TeacherRequest("p1", "What is 6 * 7?", "r1")))
        64
    """
    settings = {k: v for k, v in request.settings.items() if k not in exclude}
    return replace(request, settings=settings).cache_key(provider)
