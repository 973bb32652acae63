"""What every API provider shares: HTTP status to :class:`ProviderError`, Retry-After, safe text.

SDK exception strings can carry request details (URLs, headers, bodies), so no provider ever
forwards one: messages are built here from the status and a short excerpt of the error body, with
any secret scrubbed out. :class:`SDKProvider` holds what the providers over an official SDK keep.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from .._secrets import scrub
from .base import ProviderError, TeacherReply

__all__ = [
    "SDKProvider",
    "connection_error",
    "excerpt",
    "malformed_error",
    "parse_retry_after",
    "retry_after_from_headers",
    "scrub",
    "status_error",
    "timeout_error",
]

_EXCERPT_CHARS = 200


def excerpt(body: Any, secrets: Iterable[str | None] = ()) -> str:
    """A short, single-line, scrubbed excerpt of an error body (its message when it has one).

    Example:
        >>> excerpt({"error": {"message": "model not found", "type": "invalid_request_error"}})
        'model not found'
    """
    message: Any = body
    if isinstance(body, Mapping):
        error = body.get("error", body)
        if isinstance(error, Mapping):
            message = error.get("message") or error.get("status") or error
        else:
            message = error
    if isinstance(message, bytes):
        message = message.decode("utf-8", "replace")
    text = " ".join(str(message if message is not None else "").split())
    text = scrub(text, secrets)
    return text if len(text) <= _EXCERPT_CHARS else text[: _EXCERPT_CHARS - 3] + "..."


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value: delay-seconds or an HTTP-date (RFC 9110).

    Returns None when the value is absent or unreadable; a date in the past gives 0.

    Example:
        >>> parse_retry_after("2"), parse_retry_after("1.5"), parse_retry_after("soon")
        (2.0, 1.5, None)
        >>> parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", now=4.0)
        6.0
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def retry_after_from_headers(headers: Mapping[str, str] | None) -> float | None:
    """The wait a response's headers ask for: ``retry-after-ms`` (OpenAI, Anthropic) first.

    Example:
        >>> retry_after_from_headers({"retry-after": "3"})
        3.0
    """
    if not headers:
        return None
    lower = {str(k).lower(): v for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
            if math.isfinite(value) and value >= 0:
                return value
        except ValueError:
            pass
    return parse_retry_after(lower.get("retry-after"))


_STATUS_WORDS = {
    400: "bad request",
    401: "unauthorized",
    403: "forbidden",
    404: "not found",
    408: "request timeout",
    409: "conflict",
    413: "request too large",
    422: "unprocessable request",
    429: "rate limited",
    500: "internal server error",
    502: "bad gateway",
    503: "service unavailable",
    504: "gateway timeout",
    529: "overloaded",
}


def status_error(
    provider: str,
    status: int,
    body: Any = None,
    headers: Mapping[str, str] | None = None,
    *,
    secrets: Iterable[str | None] = (),
    key_hint: str = "",
    model: str = "",
) -> ProviderError:
    """Map an HTTP error status to a :class:`ProviderError` with the right reason and retryability.

    Args:
        provider: The provider's name, which starts the message.
        status: The HTTP status.
        body: The error body (parsed JSON or text); a scrubbed excerpt goes into the message.
        headers: The response headers (for ``Retry-After``).
        secrets: Strings that must never appear in the message (the API key).
        key_hint: Where the key comes from, for auth errors (``"DEEPSEEK_API_KEY"``).
        model: The requested model, named in not-found errors.

    Example:
        >>> err = status_error("deepseek", 429, {"error": {"message": "slow down"}},
        ...                    {"Retry-After": "2"})
        >>> err.reason, err.retryable, err.retry_after
        ('rate_limit', True, 2.0)
    """
    secrets = tuple(secrets)
    detail = excerpt(body, secrets)
    words = _STATUS_WORDS.get(status, "error")
    message = f"{provider}: HTTP {status} ({words})" + (f": {detail}" if detail else "")
    if status == 429:
        return ProviderError(
            message + ". Retrying after the wait the server asked for; lower the concurrency or "
            "the requests-per-minute limit if this keeps happening.",
            reason="rate_limit",
            retryable=True,
            status=status,
            retry_after=retry_after_from_headers(headers),
        )
    if status == 408:
        return ProviderError(message, reason="timeout", retryable=True, status=status)
    if status >= 500:
        return ProviderError(
            message,
            reason="server",
            retryable=True,
            status=status,
            retry_after=retry_after_from_headers(headers),
        )
    if status in (401, 403):
        where = f" (api_key=... or {key_hint})" if key_hint else ""
        return ProviderError(
            message + f". Check the API key{where} and that it may use this model.",
            reason="auth",
            retryable=False,
            status=status,
        )
    if status == 404:
        name = f" {model!r}" if model else ""
        return ProviderError(
            message + f". Check the model name{name} and the base_url.",
            reason="bad_request",
            retryable=False,
            status=status,
        )
    return ProviderError(
        message + ". The request was rejected: check the model name and the settings.",
        reason="bad_request",
        retryable=False,
        status=status,
    )


def timeout_error(provider: str, timeout: float | None) -> ProviderError:
    """The call got no reply within the timeout (retryable)."""
    after = f" within {timeout:g} s" if timeout else ""
    return ProviderError(
        f"{provider}: no reply{after}; raise the teacher's timeout for long reasoning.",
        reason="timeout",
        retryable=True,
    )


def connection_error(provider: str, exc: BaseException) -> ProviderError:
    """The connection failed or dropped (retryable). Only the exception's class is reported."""
    return ProviderError(
        f"{provider}: connection failed or dropped ({type(exc).__name__}); check the base_url "
        "and the network.",
        reason="connection",
        retryable=True,
    )


def malformed_error(provider: str, what: str) -> ProviderError:
    """The reply did not parse (retryable: usually a proxy hiccup)."""
    return ProviderError(
        f"{provider}: the reply could not be read ({what}).", reason="malformed", retryable=True
    )


class SDKProvider:
    """The settings of a provider over an API's official SDK; its repr never shows the key.

    Subclasses set :attr:`name`, call this ``__init__`` and then make their SDK client.

    Args:
        model: The default model (a request may name another).
        api_key: The key; kept private, and scrubbed from every error message.
        base_url: The API root, or None for the SDK's default.
        timeout: Seconds to wait for one reply.
        key_hint: Where the key comes from, named in authentication errors.
        thinking_kind: What the reply's thinking holds: ``"raw"`` or ``"summary"``.
    """

    name: str

    def __init__(
        self,
        model: str,
        api_key: str,
        base_url: str | None,
        timeout: float,
        key_hint: str,
        thinking_kind: str,
    ):
        self.model, self.base_url, self.timeout, self.key_hint = model, base_url, timeout, key_hint
        self.thinking_kind = thinking_kind
        self._secret = api_key

    def __repr__(self) -> str:
        where = f", base_url={self.base_url!r}" if self.base_url else ""
        return f"{type(self).__name__}(name={self.name!r}, model={self.model!r}{where})"

    async def _send(
        self, sdk: Any, create: Callable[..., Awaitable[Any]], params: dict[str, Any]
    ) -> TeacherReply:
        """Await ``create(**params)`` of the SDK ``sdk``; the response goes to :meth:`_reply`.

        Both SDKs raise the same error classes (timeout, connection, HTTP status, a reply that
        does not validate); each becomes a :class:`ProviderError` without the SDK's text.
        """
        model = params["model"]
        try:
            response = await create(**params)
        except sdk.APITimeoutError:
            raise timeout_error(self.name, self.timeout) from None
        except sdk.APIConnectionError as exc:
            raise connection_error(self.name, exc) from None
        except sdk.APIStatusError as exc:
            raise status_error(
                self.name,
                exc.status_code,
                exc.body,
                exc.response.headers,
                secrets=[self._secret],
                key_hint=self.key_hint,
                model=model,
            ) from None
        except (sdk.APIResponseValidationError, json.JSONDecodeError) as exc:
            raise malformed_error(self.name, type(exc).__name__) from None
        return self._reply(response, model)

    def _reply(self, response: Any, model: str) -> TeacherReply:
        """The SDK's response as a reply (or a :class:`ProviderError`); each provider's own."""
        raise NotImplementedError
