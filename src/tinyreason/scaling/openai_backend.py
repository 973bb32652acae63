"""A :class:`~tinyreason.interfaces.Backend` over any OpenAI-compatible *completions* server.

vLLM, SGLang, ``transformers serve``, llama.cpp and others serve ``POST /v1/completions``.
Thinking control runs s1's own loop over them (:mod:`tinyreason.scaling.continuation`), as s1's
evaluation drove vLLM. Prompts are rendered and tokenised *here*, with the model's own tokenizer
and chat template.

Servers differ in what they take (see :mod:`tinyreason.scaling.server_capabilities`), so at the
first ``generate`` the backend probes the server with a few one-token requests and then sends
each server what it honours; ``describe()["server"]`` (and so a run's manifest) says which mode
ran:

* vLLM: token-id prompts; ``stop`` texts and vLLM's extras (``stop_token_ids``,
  ``skip_special_tokens: false``, ``spaces_between_special_tokens: false``,
  ``include_stop_str_in_output: false``, ``add_special_tokens: false``, ``return_token_ids:
  true``, ``min_tokens``); ``logit_bias`` for banned ids. The generated ids come back: exact.
* transformers serve (refuses unknown fields, wants text): the prompt as text, and its own
  ``generation_config`` field for exact stops (``eos_token_id``), ``min_new_tokens`` and banned
  ids (``suppress_tokens``). Its text drops special tokens and it returns no ids: the text is
  re-encoded.
* llama.cpp's servers (ignore unknown fields): stop strings, ``repeat_penalty: 1.0`` (the
  python server's default of 1.1 changes greedy answers), ``min_tokens`` emulated with
  ``logit_bias`` where the server lacks it (the first ``min_tokens`` tokens with the stops banned,
  then the rest).

What comes back is verified: a text reply is re-encoded and compared with the server's token
counts (mismatches are counted in ``describe()`` and warned about once), and a think delimiter
the server never writes as text is a :class:`ServerCapabilityError` naming the fix (``--special``
for llama.cpp's llama-server), never a silently wrong run.

Calls are concurrent (``max_concurrency`` at a time) on the SDK's async client. ``generate`` is
synchronous; inside a running event loop (Jupyter) it runs its own loop in a worker thread.
"""

from __future__ import annotations

import importlib.util
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .._async import run_sync
from ..errors import ConfigError
from ..interfaces import StudentFormat
from .common import load_tokenizer, model_context_window, resolve_format
from .openai_engine import OpenAIEngine
from .openai_wire import (
    ServerCapabilityError,
    ServerConnectionError,
    ServerError,
    ServerResponseError,
    completion_params,
    redact,
    server_message,
)
from .rounds import RoundsBackend
from .server_capabilities import ServerCapabilities

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

# The errors and the request builder live in .openai_wire; they are public here, where they were
# first.
__all__ = [
    "OpenAIServerBackend",
    "ServerCapabilities",
    "ServerCapabilityError",
    "ServerConnectionError",
    "ServerError",
    "ServerResponseError",
    "completion_params",
    "server_message",
]


class OpenAIServerBackend(RoundsBackend):
    """Generate from a model behind an OpenAI-compatible completions server, budget-forced.

    Args:
        base_url: The server's API root, e.g. ``"http://localhost:8000/v1"`` for ``vllm serve``.
        model: The served model's name (what ``GET {base_url}/models`` lists; ``transformers
            serve DIR`` names it by the folder's path).
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
        vllm_extras: Allow fields beyond OpenAI's standard ones (vLLM's, transformers serve's
            ``generation_config``); False sends only standard fields.
        context_window: The served model's context length. None: vLLM's ``max_model_len`` from
            ``GET {base_url}/models`` (asked once, at the first ``generate``), else the
            tokenizer's ``model_max_length``. Requests are clipped to it, and
            ``max_new_tokens=None`` is sized from it.
        capabilities: What the server takes and honours; None (default): probed at the first
            ``generate`` (a few one-token requests). ``ServerCapabilities.vllm()`` skips the
            probes for a vLLM server.

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
        >>> backend.describe()["server"]["mode"]  # doctest: +SKIP
        'token-id prompts, token-id stops, token-id output'
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        tokenizer: str | Path | PreTrainedTokenizerBase,
        format: str | StudentFormat | None = None,
        api_key: str | None = None,
        max_concurrency: int = 16,
        timeout: float = 600.0,
        progress: bool | None = None,
        *,
        max_retries: int = 2,
        vllm_extras: bool = True,
        context_window: int | None = None,
        capabilities: ServerCapabilities | None = None,
    ):
        _check_options(base_url, model, api_key, max_concurrency, timeout, max_retries)
        if capabilities is not None and not isinstance(capabilities, ServerCapabilities):
            raise ConfigError(
                "capabilities must be a ServerCapabilities or None (probe the server), got "
                f"{type(capabilities).__name__}"
            )
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
        self._engine = OpenAIEngine(self, key, capabilities)
        self._run_over(self._engine, context_window=context_window, progress=progress)
        self._window_known = context_window is not None
        self._settled = False

    def __repr__(self) -> str:
        return (
            f"OpenAIServerBackend({redact(self.base_url)!r}, model={self.model!r}, "
            f"format={self.format.name!r})"
        )

    @property
    def capabilities(self) -> ServerCapabilities | None:
        """What the server takes and honours: given, or probed (None before the first call)."""
        return self._engine.capabilities

    def describe(self) -> dict[str, object]:
        """Describe the backend for a run's manifest (JSON-serialisable; no key).

        Once the backend has talked to the server, ``"server"`` holds the mode that ran, the
        capabilities it found, and the checks of the text it re-encoded.
        """
        described: dict[str, object] = {
            "backend": "openai-server",
            "base_url": redact(self.base_url),
            "model": self.model,
            "format": self.format.name,
            "max_concurrency": self.max_concurrency,
            "timeout": self.timeout,
            "vllm_extras": self.vllm_extras,
        }
        caps = self._engine.capabilities
        if self._settled and caps is not None:
            described["server"] = {**caps.describe(), "text_checks": self._engine.checks.describe()}
        return described

    def _ready(self) -> None:
        # Once, before the first round: the served context window, and what the server takes.
        if self._settled:
            return
        served = run_sync(self._engine.settle)
        if not self._window_known:
            self._runner.context_window = served or model_context_window(None, self.tokenizer)
            self._window_known = True
        self._settled = True


def _check_options(
    base_url: object,
    model: object,
    api_key: object,
    max_concurrency: object,
    timeout: object,
    max_retries: object,
) -> None:
    problems = []
    if not isinstance(base_url, str) or urlsplit(base_url).scheme not in ("http", "https"):
        problems.append(
            f"base_url must be an http(s) URL such as 'http://localhost:8000/v1', got "
            f"{redact(base_url) if isinstance(base_url, str) else base_url!r}"
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
