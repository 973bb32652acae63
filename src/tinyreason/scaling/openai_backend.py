"""A :class:`~tinyreason.interfaces.Backend` over any OpenAI-compatible *completions* server.

vLLM, SGLang, llama.cpp and others serve ``POST /v1/completions``. Thinking control runs s1's
own loop over them (:mod:`tinyreason.scaling.continuation`), as s1's evaluation drove vLLM.
Prompts are rendered and tokenised *here*, with the model's own tokenizer and chat template, and
sent as token ids.

What each request sends, and who honours it:

* standard fields (every server): ``prompt`` (token ids), ``max_tokens``, ``temperature``,
  ``top_p``, ``seed``, ``stop`` (the texts of the stop tokens), ``logit_bias`` (only with
  ``ban_delimiters_in_answer``; vLLM, SGLang and llama.cpp honour it);
* vLLM's extras in ``extra_body`` (``vllm_extras=True``): ``stop_token_ids`` (exact stops, also
  SGLang), ``skip_special_tokens: false`` and ``spaces_between_special_tokens: false`` (the
  delimiters stay in the text, unspaced; SGLang knows the first), ``include_stop_str_in_output:
  false`` (vLLM's default, stated), ``add_special_tokens: false`` (no second BOS before a rendered
  prompt) and ``return_token_ids: true`` (generated ids back, so samples continue from exact ids;
  recent vLLM). vLLM and SGLang ignore fields they do not know (vLLM logs a warning); a server that
  rejects them needs ``vllm_extras=False``. Without the extras, stops are matched on text only, so
  the server must keep special tokens in its text (vLLM and SGLang drop them by default: that is
  what ``skip_special_tokens: false`` is for); the model's own EOS always stops.
* ``min_tokens`` (a vLLM extra): s1 runs every thinking round with ``min_tokens=1`` when waits are
  asked for, so the model cannot stop again on the very next token.

Counts are exact: ``len(token_ids)`` when the server returns ids, else ``usage.completion_tokens``
(one request per sample, so usage is per sample), which on vLLM includes the stopping token.

Calls are concurrent (``max_concurrency`` at a time) on the SDK's async client. ``generate`` is
synchronous; inside a running event loop (Jupyter) it runs its own loop in a worker thread.
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .._async import run_sync
from .._secrets import scrub
from ..errors import ConfigError
from ..students.formats import ThinkFormat
from .common import load_tokenizer, model_context_window, resolve_format
from .continuation import (
    BAN_BIAS,
    CompletionRequest,
    CompletionResult,
    Continuation,
    EngineError,
    RoundsBackend,
)

__all__ = [
    "OpenAIServerBackend",
    "ServerConnectionError",
    "ServerError",
    "ServerResponseError",
    "completion_params",
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


class OpenAIServerBackend(RoundsBackend):
    """Generate from a model behind an OpenAI-compatible completions server, budget-forced.

    Args:
        base_url: The server's API root, e.g. ``"http://localhost:8000/v1"`` for ``vllm serve``.
        model: The served model's name (what ``GET {base_url}/models`` lists).
        tokenizer: The served model's tokenizer: a folder, a hub name or a loaded tokenizer. It
            renders prompts (its chat template) and tokenises delimiters, so it must be the
            server's.
        format: A registered student format name or a
            :class:`~tinyreason.students.ThinkFormat`. None (default): the format a
            tinyreason-trained model folder records, else ``"think-tags"``.
        api_key: The server's key; None reads ``OPENAI_API_KEY``, else ``"EMPTY"`` (what local
            servers without ``--api-key`` accept). Never shown in reprs, logs or errors.
        max_concurrency: Requests in flight at once.
        timeout: Seconds to wait for one request.
        progress: Show a progress bar over samples; None shows it on a terminal for several.
        max_retries: The SDK's retries of connection errors, 408, 409, 429 and 5xx answers.
        vllm_extras: Send vLLM's extra request fields (see the module docs); False sends only
            standard OpenAI fields.
        context_window: The served model's context length. None: vLLM's ``max_model_len`` from
            ``GET {base_url}/models`` (asked once, at the first ``generate``), else the
            tokenizer's ``model_max_length``. Requests are clipped to it, and
            ``max_new_tokens=None`` is sized from it.

    Raises:
        ConfigError: an invalid option, the ``openai`` package missing, or a format that does
            not fit the tokenizer.
        DataError: the tokenizer cannot be loaded or has no chat template.

    Example:
        >>> import tinyreason as tr
        >>> backend = tr.backend(  # doctest: +SKIP
        ...     "openai-server", base_url="http://localhost:8000/v1",
        ...     model="simplescaling/s1.1-7B", tokenizer="simplescaling/s1.1-7B", format="qwen-s1")
        >>> control = tr.ThinkingControl(max_thinking=4000, waits=1)
        >>> prompts = [backend.prompt("What is 6*7?")]  # doctest: +SKIP
        >>> [[g]] = backend.generate(prompts, control=control)  # doctest: +SKIP
        >>> g.thinking_tokens <= 4000  # doctest: +SKIP
        True
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        tokenizer: Any,
        format: str | ThinkFormat | None = None,
        api_key: str | None = None,
        max_concurrency: int = 16,
        timeout: float = 600.0,
        progress: bool | None = None,
        *,
        max_retries: int = 2,
        vllm_extras: bool = True,
        context_window: int | None = None,
    ):
        _check_options(base_url, model, api_key, max_concurrency, timeout, max_retries)
        if importlib.util.find_spec("openai") is None:
            raise ConfigError(
                "the openai-server backend needs the openai package: pip install 'tinyreason[api]'"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.max_concurrency = max_concurrency
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self.vllm_extras = vllm_extras
        self.format = resolve_format(format, model=model)
        self.tokenizer = load_tokenizer(tokenizer)
        self.format.chat_prompt(self.tokenizer, "?")  # fail now on a missing chat template
        key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self._engine = _OpenAIEngine(self, key)
        eos = getattr(self.tokenizer, "eos_token_id", None)
        self._runner = Continuation(
            self._engine,
            self.tokenizer,
            self.format,
            extra_stop=[eos] if isinstance(eos, int) else [],
            context_window=context_window,
            progress=progress,
        )
        self._window_known = context_window is not None

    def __repr__(self) -> str:
        return (
            f"OpenAIServerBackend({_redact(self.base_url)!r}, model={self.model!r}, "
            f"format={self.format.name!r})"
        )

    def describe(self) -> dict[str, Any]:
        """Describe the backend for a run's manifest (JSON-serialisable; no key)."""
        return {
            "backend": "openai-server",
            "base_url": _redact(self.base_url),
            "model": self.model,
            "format": self.format.name,
            "max_concurrency": self.max_concurrency,
            "timeout": self.timeout,
            "vllm_extras": self.vllm_extras,
        }

    def _ready(self) -> None:
        # The served model's context window sizes budgets: asked once, before the first round.
        if not self._window_known:
            served = run_sync(self._engine.max_model_len)
            self._runner.context_window = served or model_context_window(None, self.tokenizer)
            self._window_known = True


def completion_params(
    request: CompletionRequest, model: str, *, vllm_extras: bool = True
) -> dict[str, Any]:
    """The keyword arguments of ``client.completions.create`` for one request.

    Example:
        >>> req = CompletionRequest(prompt=(1, 2), max_tokens=4, stop=("</think>",),
        ...                         stop_token_ids=(7,), banned_token_ids=(5,))
        >>> params = completion_params(req, "m")
        >>> params["prompt"], params["logit_bias"], params["extra_body"]["stop_token_ids"]
        ([1, 2], {'5': -100.0}, [7])
        >>> "extra_body" in completion_params(req, "m", vllm_extras=False)
        False
    """
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
    if request.stop:
        params["stop"] = list(request.stop)
    if request.banned_token_ids:
        params["logit_bias"] = {str(t): BAN_BIAS for t in request.banned_token_ids}
    if vllm_extras:
        params["extra_body"] = {
            "stop_token_ids": list(request.stop_token_ids),
            "skip_special_tokens": False,
            "spaces_between_special_tokens": False,
            "include_stop_str_in_output": False,
            "add_special_tokens": False,
            "return_token_ids": True,
        }
        if request.min_tokens:
            params["extra_body"]["min_tokens"] = request.min_tokens
    return params


class _OpenAIEngine:
    """The :class:`~tinyreason.scaling.continuation.CompletionEngine` of one backend."""

    def __init__(self, backend: OpenAIServerBackend, api_key: str):
        self._backend = backend
        self._api_key = api_key
        self._verify: Any = None

    def __repr__(self) -> str:
        return f"_OpenAIEngine({_redact(self._backend.base_url)!r})"

    def complete(self, requests: Sequence[CompletionRequest]) -> list[CompletionResult]:
        return run_sync(lambda: self._complete_all(requests))

    async def max_model_len(self) -> int | None:
        """The served model's ``max_model_len`` (vLLM lists it in ``GET /models``), or None."""
        import openai

        b = self._backend
        try:
            async with openai.AsyncOpenAI(
                base_url=b.base_url, api_key=self._api_key, timeout=b.timeout, max_retries=0
            ) as client:
                page = await client.models.list()
        except openai.OpenAIError:
            return None  # not every server lists models; the tokenizer's limit is used instead
        for entry in getattr(page, "data", None) or []:
            extra: Mapping[str, Any] = getattr(entry, "model_extra", None) or {}
            length = extra.get("max_model_len")
            if getattr(entry, "id", None) == b.model and isinstance(length, int) and length > 0:
                return length
        return None

    async def _complete_all(self, requests: Sequence[CompletionRequest]) -> list[CompletionResult]:
        import openai

        b = self._backend
        if self._verify is None:
            # Building a TLS context loads the CA bundle (~50 ms): once, not every round.
            self._verify = _default_ssl_context()
        # A client per round: its connection pool belongs to this round's event loop, which is
        # closed when the round ends.
        async with openai.AsyncOpenAI(
            base_url=b.base_url,
            api_key=self._api_key,
            timeout=b.timeout,
            max_retries=b.max_retries,
            http_client=openai.DefaultAsyncHttpxClient(verify=self._verify),
        ) as client:
            limit = asyncio.Semaphore(b.max_concurrency)

            async def one(request: CompletionRequest) -> CompletionResult:
                async with limit:
                    return await self._complete_one(client, request)

            tasks = [asyncio.ensure_future(one(r)) for r in requests]
            try:
                return list(await asyncio.gather(*tasks))
            except BaseException:
                # The first failure wins; the rest of the round is cancelled, not left running.
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise

    async def _complete_one(self, client: Any, request: CompletionRequest) -> CompletionResult:
        import openai

        b = self._backend
        params = completion_params(request, b.model, vllm_extras=b.vllm_extras)
        try:
            response = await client.completions.create(**params)
        except openai.APITimeoutError:
            raise ServerConnectionError(
                f"the completions server at {_redact(b.base_url)} did not answer within "
                f"{b.timeout:g} s. Raise timeout=..., lower max_concurrency, or check the server "
                "is not overloaded.",
                base_url=_redact(b.base_url),
            ) from None
        except openai.APIConnectionError as exc:
            cause = exc.__cause__ or exc.__context__
            reason = f"{type(cause).__name__}: {cause}" if cause else str(exc)
            raise ServerConnectionError(
                f"cannot reach the completions server at {_redact(b.base_url)} "
                f"({self._scrub(reason)}). Check that it is running (e.g. `vllm serve MODEL`) and "
                "that base_url is its API root, usually ending in /v1.",
                base_url=_redact(b.base_url),
            ) from None
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        return self._result(response)

    def _result(self, response: Any) -> CompletionResult:
        b = self._backend
        choices = getattr(response, "choices", None) or []
        if len(choices) != 1:
            raise ServerResponseError(
                f"the completions server at {_redact(b.base_url)} returned {len(choices)} "
                "choices for one request; is base_url a completions (not chat) server?",
                base_url=_redact(b.base_url),
            )
        choice = choices[0]
        extra: Mapping[str, Any] = getattr(choice, "model_extra", None) or {}
        ids = extra.get("token_ids")
        stop_reason = extra.get("stop_reason", extra.get("matched_stop"))
        if ids is not None:
            ids = tuple(int(t) for t in ids)
            count = len(ids)
        else:
            count = getattr(getattr(response, "usage", None), "completion_tokens", None)
            if not isinstance(count, int):
                raise ServerResponseError(
                    f"the completions server at {_redact(b.base_url)} returned neither token ids "
                    "nor usage.completion_tokens; exact thinking counts need one of them.",
                    base_url=_redact(b.base_url),
                )
        try:
            return CompletionResult(
                text=choice.text or "",
                num_tokens=count,
                finish_reason=choice.finish_reason,
                token_ids=ids,
                stop_reason=stop_reason if isinstance(stop_reason, (int, str)) else None,
            )
        except EngineError as exc:
            raise ServerResponseError(
                f"the completions server at {_redact(b.base_url)}: {exc}",
                base_url=_redact(b.base_url),
            ) from None

    def _status_error(self, exc: Any) -> ServerResponseError:
        b = self._backend
        status = int(exc.status_code)
        hint = {
            400: "the server rejected the request; if it does not know vLLM's extra fields, pass "
            "vllm_extras=False, and check max_new_tokens fits its context window",
            401: "check api_key (or OPENAI_API_KEY) matches the server's --api-key",
            403: "check api_key (or OPENAI_API_KEY) is allowed to use this model",
            404: f"check model={b.model!r} is served (GET {_redact(b.base_url)}/models lists the "
            "names) and base_url is the API root, usually ending in /v1",
            422: "the server rejected a field; try vllm_extras=False",
            429: "the server is rate limiting: lower max_concurrency or raise max_retries",
        }.get(status, "the server failed; its log says why" if status >= 500 else "")
        message = self._scrub(str(getattr(exc, "message", "") or exc))
        text = f"the completions server at {_redact(b.base_url)} answered HTTP {status} ({message})"
        return ServerResponseError(
            f"{text}: {hint}." if hint else f"{text}.",
            base_url=_redact(b.base_url),
            status_code=status,
        )

    def _scrub(self, text: str) -> str:
        # A server or proxy may echo request headers into an error; the key never travels on.
        return scrub(text, [self._api_key])


def _default_ssl_context() -> Any:
    """The TLS context the SDK's HTTP client would build by default (httpx2 or httpx)."""
    for name in ("httpx2", "httpx"):
        try:
            return importlib.import_module(name).create_ssl_context()
        except (ImportError, AttributeError):
            continue
    return True  # let the client build its own


def _redact(url: str) -> str:
    """The URL without a ``user:password@`` part."""
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _check_options(
    base_url: Any,
    model: Any,
    api_key: Any,
    max_concurrency: Any,
    timeout: Any,
    max_retries: Any,
) -> None:
    problems = []
    if not isinstance(base_url, str) or urlsplit(base_url).scheme not in ("http", "https"):
        problems.append(
            f"base_url must be an http(s) URL such as 'http://localhost:8000/v1', got "
            f"{_redact(base_url) if isinstance(base_url, str) else base_url!r}"
        )
    if not isinstance(model, str) or not model:
        problems.append(f"model must be the served model's name, got {model!r}")
    if api_key is not None and not isinstance(api_key, str):
        problems.append(f"api_key must be a string or None, got a {type(api_key).__name__}")
    if (
        isinstance(max_concurrency, bool)
        or not isinstance(max_concurrency, int)
        or (max_concurrency < 1)
    ):
        problems.append(f"max_concurrency must be a whole number >= 1, got {max_concurrency!r}")
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout <= 0
    ):
        problems.append(f"timeout must be a number of seconds > 0, got {timeout!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        problems.append(f"max_retries must be a whole number >= 0, got {max_retries!r}")
    if problems:
        raise ConfigError(problems)
