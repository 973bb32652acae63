"""What travels to and from an OpenAI-compatible completions server: fields, replies, errors.

:func:`completion_params` builds one request for a server's capabilities
(:class:`~tinyreason.scaling.server_capabilities.ServerCapabilities`); :func:`server_message`
reads what a server said in an error reply; the errors are the backend's.

Example:
    >>> from tinyreason.scaling.engine import CompletionRequest
    >>> request = CompletionRequest(prompt="6*7?", max_tokens=4, stop=("</think>",))
    >>> completion_params(request, "m", vllm_extras=False)["stop"]
    ['</think>']
"""

from __future__ import annotations

import importlib
import ssl
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .engine import BAN_BIAS, CompletionRequest, EngineError
from .server_capabilities import ProbeReply, ServerCapabilities, generation_config_field

if TYPE_CHECKING:
    from openai.types import Completion

__all__ = [
    "ServerCapabilityError",
    "ServerConnectionError",
    "ServerError",
    "ServerResponseError",
    "completion_params",
    "extra_fields",
    "server_message",
]


class ServerError(EngineError):
    """A completions server could not be reached, or refused or failed a request.

    Attributes:
        base_url: The server's URL (credentials removed).
        status_code: The HTTP status, or None when no answer came.

    Example:
        >>> url = "http://127.0.0.1:8000/v1"
        >>> err = ServerResponseError("HTTP 500", base_url=url, status_code=500)
        >>> isinstance(err, ServerError), err.status_code
        (True, 500)
    """

    def __init__(self, message: str, *, base_url: str, status_code: int | None = None):
        super().__init__(message)
        self.base_url, self.status_code = base_url, status_code


class ServerConnectionError(ServerError):
    """No answer: the connection was refused, the host is unknown, or the request timed out."""


class ServerResponseError(ServerError):
    """The server answered with an HTTP error status (4xx, 5xx) or an unusable reply."""


class ServerCapabilityError(ServerError):
    """The server cannot do what the run needs (it hides the think delimiter); says the fix."""


# OpenAI's own completions fields: anything else travels in the SDK's extra_body.
_STANDARD = frozenset(
    {"model", "prompt", "max_tokens", "temperature", "top_p", "n", "seed", "stop", "logit_bias"}
    | {"user"}
)


def completion_params(
    request: CompletionRequest,
    model: str,
    *,
    vllm_extras: bool = True,
    capabilities: ServerCapabilities | None = None,
    pad_token_id: int | None = None,
) -> dict[str, Any]:
    """The keyword arguments of ``client.completions.create`` for one request.

    Args:
        request: The request (its prompt already in the form the server takes).
        model: The served model's name.
        vllm_extras: Without ``capabilities``: a vLLM server (True) or standard fields only.
        capabilities: What the server takes; None: as ``vllm_extras`` says.
        pad_token_id: The pad id for a ``generation_config`` (transformers serve).

    Example:
        >>> req = CompletionRequest(prompt=(1, 2), max_tokens=4, stop=("</think>",),
        ...                         stop_token_ids=(7,), banned_token_ids=(5,))
        >>> params = completion_params(req, "m")
        >>> params["prompt"], params["logit_bias"], params["extra_body"]["stop_token_ids"]
        ([1, 2], {'5': -100.0}, [7])
        >>> "extra_body" in completion_params(req, "m", vllm_extras=False)
        False
    """
    caps = capabilities or (
        ServerCapabilities.vllm() if vllm_extras else ServerCapabilities.standard()
    )
    # A server that refuses unknown fields but takes generation_config: stops by id through it.
    by_config = caps.generation_config and not caps.extra_fields
    params: dict[str, Any] = {
        "model": model,
        "prompt": request.prompt if isinstance(request.prompt, str) else list(request.prompt),
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "n": 1,  # one request per sample: usage then counts that sample's tokens exactly
    }
    if request.seed is not None:
        params["seed"] = request.seed
    if request.stop and not by_config:
        params["stop"] = list(request.stop)
    if request.banned_token_ids and caps.logit_bias and not by_config:
        params["logit_bias"] = {str(t): BAN_BIAS for t in request.banned_token_ids}
    extra: dict[str, Any] = {}
    if caps.extra_fields:
        extra = extra_fields(request, caps)
    if by_config:
        extra["generation_config"] = generation_config_field(request, pad_token_id)
    if extra:
        params["extra_body"] = extra
    return params


def extra_fields(request: CompletionRequest, caps: ServerCapabilities) -> dict[str, Any]:
    """The extra request fields: vLLM's (other servers ignore them), and llama.cpp's greedy fix.

    Example:
        >>> request = CompletionRequest((1,), max_tokens=4, stop_token_ids=(2,), min_tokens=1)
        >>> fields = extra_fields(request, ServerCapabilities.vllm())
        >>> fields["stop_token_ids"], fields["min_tokens"], "repeat_penalty" in fields
        ([2], 1, False)
        >>> extra_fields(request, ServerCapabilities(owned_by="llamacpp"))["repeat_penalty"]
        1.0
    """
    fields: dict[str, Any] = {
        "stop_token_ids": list(request.stop_token_ids),
        "skip_special_tokens": False,
        "spaces_between_special_tokens": False,
        "include_stop_str_in_output": False,
        "add_special_tokens": False,
        "return_token_ids": True,
    }
    if request.min_tokens and caps.min_tokens:
        fields["min_tokens"] = request.min_tokens
    if caps.owned_by != "vllm":
        # llama-cpp-python's server penalises repeats by default (1.1), even when greedy; vLLM
        # would only log the unknown field, so it is not sent there.
        fields["repeat_penalty"] = 1.0
    return fields


def server_message(exc: Exception) -> str:
    """What the server said in an error reply: OpenAI's ``error``, FastAPI's ``detail``...

    The SDK's ``exc.message`` keeps only OpenAI's shape; transformers serve and other FastAPI
    servers say what was wrong in ``detail`` (a string, or pydantic's list of errors).

    Example:
        >>> from types import SimpleNamespace as NS
        >>> server_message(NS(body={"detail": "prompt must be a string."}, message="Error"))
        'prompt must be a string.'
        >>> server_message(NS(body={"detail": [{"loc": ["body", "n"], "msg": "too big"}]}))
        'body.n: too big'
        >>> server_message(NS(body={"error": {"message": "no such model"}}))
        'no such model'
    """
    body = getattr(exc, "body", None)
    found: list[str] = []
    if isinstance(body, Mapping):
        for key in ("error", "detail", "message"):
            found += _texts(body.get(key))
    elif isinstance(body, str) and body.strip():
        found.append(body.strip())
    if not found:
        found.append(str(getattr(exc, "message", "") or exc))
    text = "; ".join(dict.fromkeys(t for t in found if t))
    return text if len(text) <= 600 else text[:599] + "…"


def _texts(value: object) -> list[str]:
    """The human-readable texts in one error field."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return _texts(value.get("message")) or _texts(value.get("msg"))
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, Mapping) and "msg" in item:
                where = ".".join(str(part) for part in item.get("loc") or [])
                out.append(f"{where}: {item['msg']}" if where else str(item["msg"]))
            else:
                out += _texts(item)
        return out
    return []


def sdk_params(body: Mapping[str, Any]) -> dict[str, Any]:
    """A flat request body as the SDK's keyword arguments (non-standard fields in extra_body)."""
    params = {k: v for k, v in body.items() if k in _STANDARD}
    extra = {k: v for k, v in body.items() if k not in _STANDARD}
    if extra:
        params["extra_body"] = extra
    return params


def probe_reply(response: Completion) -> ProbeReply:
    choices = getattr(response, "choices", None) or []
    choice = choices[0] if choices else None
    extra: Mapping[str, Any] = getattr(choice, "model_extra", None) or {}
    ids = extra.get("token_ids")
    usage = getattr(response, "usage", None)
    count = getattr(usage, "completion_tokens", None)
    prompt = getattr(usage, "prompt_tokens", None)
    return ProbeReply(
        text=getattr(choice, "text", None) or "",
        count=count if isinstance(count, int) else None,
        finish=getattr(choice, "finish_reason", None),
        token_ids=tuple(int(t) for t in ids) if isinstance(ids, list) else None,
        prompt_tokens=prompt if isinstance(prompt, int) else None,
    )


def default_ssl_context() -> ssl.SSLContext | bool:
    """The TLS context the SDK's HTTP client would build by default (httpx2 or httpx)."""
    for name in ("httpx2", "httpx"):
        try:
            context: ssl.SSLContext = importlib.import_module(name).create_ssl_context()
            return context
        except (ImportError, AttributeError):
            continue
    return True  # let the client build its own


def redact(url: str) -> str:
    """The URL without a ``user:password@`` part."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
