"""A loopback OpenAI-compatible *completions* server backed by a ``transformers`` model.

It lets tests (and users without vLLM) run :class:`~tinyreason.scaling.OpenAIServerBackend` end to
end over real HTTP: a stdlib ``ThreadingHTTPServer`` on ``127.0.0.1`` (a free port), started in a
daemon thread, speaking the subset of ``POST /v1/completions`` that budget forcing uses, with
vLLM's extensions:

* ``prompt``: a string, a list of token ids, or a list of either (one choice per prompt and n);
* ``max_tokens``, ``temperature`` (0: greedy), ``top_p``, ``seed``, ``n``, ``logit_bias``;
* ``stop`` strings (cut from the text unless ``include_stop_str_in_output``), vLLM's
  ``stop_token_ids``, ``min_tokens`` (no stop before it), ``skip_special_tokens``,
  ``add_special_tokens``, ``ignore_eos`` and ``return_token_ids`` (``choices[].token_ids``);
* replies with ``choices[].text``, ``finish_reason`` (``"stop"`` / ``"length"``), vLLM's
  ``stop_reason`` and ``usage`` (``prompt_tokens``, ``completion_tokens``, ``total_tokens``),
  where, as in vLLM, the token that stopped generation is a completion token.

Greedy decoding takes the argmax of the same float32 logits as ``model.generate``, so on one
unpadded prompt it writes exactly what ``generate`` writes. Requests are served one at a time (a
lock around the model): the tiny models gain nothing from parallel forwards on two cores.

For error tests, :meth:`CompletionsServer.fail_next` queues HTTP statuses to answer next, and
``api_key=`` makes the server refuse requests without that bearer token (as ``vllm serve
--api-key`` does).
"""

from __future__ import annotations

import contextlib
import inspect
import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["Completion", "CompletionsServer", "SamplingOptions", "complete"]


@dataclass(frozen=True)
class SamplingOptions:
    """What one completions request asks for (vLLM's defaults where OpenAI has none).

    Example:
        >>> SamplingOptions(max_tokens=8, temperature=0.0).n
        1
    """

    max_tokens: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    n: int = 1
    stop: tuple[str, ...] = ()
    stop_token_ids: tuple[int, ...] = ()
    min_tokens: int = 0
    skip_special_tokens: bool = True
    include_stop_str_in_output: bool = False
    logit_bias: Mapping[int, float] = field(default_factory=dict)
    ignore_eos: bool = False


@dataclass(frozen=True)
class Completion:
    """One generated choice.

    Attributes:
        token_ids: Every generated token, the one that stopped generation included (vLLM's
            convention).
        text: The decoded text; a stop string or stop token is cut unless asked for.
        finish_reason: ``"stop"`` or ``"length"``.
        stop_reason: The stop string or stop token id that ended it; None for the model's EOS or
            a length stop (vLLM's field).
    """

    token_ids: tuple[int, ...]
    text: str
    finish_reason: str
    stop_reason: int | str | None = None


def complete(
    model: Any,
    tokenizer: Any,
    prompt_ids: Sequence[int],
    options: SamplingOptions,
    *,
    eos_token_ids: Iterable[int] = (),
    generator: Any = None,
) -> Completion:
    """Generate one completion token by token with the KV cache, honouring ``options``.

    Args:
        model: A ``transformers`` causal LM.
        tokenizer: Its tokenizer (for stop strings and the text).
        prompt_ids: The prompt's token ids.
        options: The request's sampling options (``n`` is ignored: one choice).
        eos_token_ids: Ids that end generation unless ``options.ignore_eos``.
        generator: A ``torch.Generator`` for sampling (``temperature > 0``).

    Example:
        >>> complete(model, tok, [1, 2], SamplingOptions(max_tokens=4))  # doctest: +SKIP
        Completion(token_ids=(7, 9, 3, 3), text='...', finish_reason='length', stop_reason=None)
    """
    import torch

    eos = frozenset(() if options.ignore_eos else eos_token_ids)
    stop_ids = frozenset(options.stop_token_ids)
    ends = eos | stop_ids
    bias_ids = torch.tensor(list(options.logit_bias), dtype=torch.long)
    bias = torch.tensor(list(options.logit_bias.values()), dtype=torch.float32)
    end_ids = torch.tensor(sorted(ends), dtype=torch.long)
    generated: list[int] = []
    inputs = torch.tensor([list(prompt_ids)], dtype=torch.long)
    # transformers 5 renamed the forward's `past_key_values` to `cache`; accept both.
    cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters else None
    past = None
    with torch.inference_mode():
        for step in range(options.max_tokens):
            if cache_arg:
                out = model(input_ids=inputs, cache=past, use_cache=True)
                past = out["cache"]
            else:
                out = model(input_ids=inputs, past_key_values=past, use_cache=True)
                past = out.past_key_values
            logits = out.logits[0, -1].float().clone()
            if len(bias_ids):
                logits.index_add_(0, bias_ids, bias)
            if step < options.min_tokens and len(end_ids):
                logits[end_ids] = float("-inf")
            token = _pick(logits, options, generator)
            generated.append(token)
            inputs = torch.tensor([[token]], dtype=torch.long)
            if token in ends:
                keep = generated if options.include_stop_str_in_output else generated[:-1]
                reason = token if token in stop_ids else None
                return Completion(
                    tuple(generated), _decode(tokenizer, keep, options), "stop", reason
                )
            if options.stop and step + 1 >= options.min_tokens:
                text = _decode(tokenizer, generated, options)
                hit = _first_stop(text, options.stop)
                if hit is not None:
                    at, stop = hit
                    end = at + len(stop) if options.include_stop_str_in_output else at
                    return Completion(tuple(generated), text[:end], "stop", stop)
    return Completion(tuple(generated), _decode(tokenizer, generated, options), "length")


def _pick(logits: Any, options: SamplingOptions, generator: Any) -> int:
    import torch

    if options.temperature == 0:
        return int(logits.argmax())
    logits = logits / options.temperature
    if options.top_p < 1.0:
        sorted_logits, order = logits.sort(descending=True)
        probs = sorted_logits.softmax(-1)
        # Keep the smallest head whose mass reaches top_p (the top token always stays).
        drop = probs.cumsum(-1) - probs >= options.top_p
        logits = logits.scatter(0, order, sorted_logits.masked_fill(drop, float("-inf")))
    return int(torch.multinomial(logits.softmax(-1), 1, generator=generator))


def _decode(tokenizer: Any, ids: Sequence[int], options: SamplingOptions) -> str:
    return tokenizer.decode(
        list(ids),
        skip_special_tokens=options.skip_special_tokens,
        clean_up_tokenization_spaces=False,
    )


def _first_stop(text: str, stops: Sequence[str]) -> tuple[int, str] | None:
    hits = [(text.find(s), s) for s in stops if s and s in text]
    return min(hits) if hits else None


class _BadRequest(Exception):
    """A request the server refuses with HTTP 400 (or ``status``)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class CompletionsServer:
    """An OpenAI-compatible completions server on 127.0.0.1, backed by a transformers model.

    Args:
        model: A loaded ``transformers`` causal LM, or a folder to load one from.
        tokenizer: Its tokenizer, or a folder / name; None loads the model folder's.
        model_name: The name clients must send as ``model`` (404 otherwise, as vLLM does).
        api_key: When set, requests must carry ``Authorization: Bearer <api_key>`` (401
            otherwise).
        return_token_ids: Honour vLLM's ``return_token_ids``; False plays a server that never
            returns token ids (SGLang, llama.cpp), so clients fall back to text.
        skip_special_tokens: The default for requests that do not say (vLLM's is True); False
            plays a server whose text keeps special tokens, so stop strings can match them.
        host: The interface to bind; keep the loopback default.
        port: The port; 0 picks a free one.

    Attributes:
        requests: The JSON body of every ``/v1/completions`` request received, in order.

    Example:
        >>> from tinyreason.testing import CompletionsServer, tiny_model
        >>> with CompletionsServer(tiny_model()) as server:  # doctest: +SKIP
        ...     backend = OpenAIServerBackend(server.base_url, "tiny", server.tokenizer)
        ...     backend.generate([backend.prompt("6*7?")], max_new_tokens=8)
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        model_name: str = "tiny",
        api_key: str | None = None,
        return_token_ids: bool = True,
        skip_special_tokens: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if isinstance(model, (str, Path)):
            source: str | None = str(model)
            model = AutoModelForCausalLM.from_pretrained(source)
        else:
            source = getattr(model, "name_or_path", None) or None
        if tokenizer is None or isinstance(tokenizer, (str, Path)):
            tokenizer = AutoTokenizer.from_pretrained(str(tokenizer or source))
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.model_name = model_name
        self.return_token_ids = return_token_ids
        self.skip_special_tokens = skip_special_tokens
        self.requests: list[dict[str, Any]] = []
        self._api_key = api_key
        self._faults: deque[int] = deque()
        self._lock = threading.Lock()  # one forward at a time: the model and `requests`
        eos = model.generation_config.eos_token_id
        eos_ids = [eos] if isinstance(eos, int) else list(eos or ())
        if tokenizer.eos_token_id is not None:
            eos_ids.append(tokenizer.eos_token_id)
        self.eos_token_ids = tuple(dict.fromkeys(eos_ids))
        self._host, self._port = host, port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        state = self.base_url if self._httpd else "stopped"
        return f"CompletionsServer({self.model_name!r}, {state})"

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The URL clients use (``http://127.0.0.1:PORT/v1``); the server must be started."""
        if self._httpd is None:
            raise RuntimeError("the server is not running; call start() or use `with`.")
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> CompletionsServer:
        """Bind the port and serve in a daemon thread; returns the server."""
        if self._httpd is None:
            self._httpd = _HTTPServer((self._host, self._port), _Handler)
            self._httpd.owner = self  # type: ignore[attr-defined]
            # A short poll interval: stop() waits for it, and tests stop many servers.
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.02},
                name="tinyreason-completions",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd.close_connections()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._httpd = self._thread = None

    def __enter__(self) -> CompletionsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults ------------------------------------------------------------------------------

    def fail_next(self, *statuses: int) -> None:
        """Answer the next requests with these HTTP statuses (one each), then serve again.

        Example:
            >>> server.fail_next(500, 503)  # doctest: +SKIP
        """
        with self._lock:
            self._faults.extend(int(s) for s in statuses)

    # -- requests ----------------------------------------------------------------------------

    def handle(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> tuple:
        """Answer one HTTP request: ``(status, JSON payload, extra headers)``."""
        route = path.split("?", 1)[0].rstrip("/")
        with self._lock:
            # Injected faults hit completions only: a backend's one-off GET /models stays clean.
            fault = self._faults.popleft() if self._faults and method == "POST" else None
        if fault is not None:
            # retry-after-ms keeps an SDK's retry of an injected 429/5xx fast in tests.
            return fault, _error(f"injected failure {fault}", fault), {"retry-after-ms": "1"}
        if self._api_key is not None and headers.get("Authorization") != f"Bearer {self._api_key}":
            return 401, _error("invalid API key: send Authorization: Bearer <key>", 401), {}
        if method == "GET" and route == "/v1/models":
            # vLLM lists each model's max_model_len; backends size budgets from it.
            window = getattr(self.model.config, "max_position_embeddings", None)
            entry = {"id": self.model_name, "object": "model", "max_model_len": window}
            return 200, {"object": "list", "data": [entry]}, {}
        if method != "POST" or route != "/v1/completions":
            return (
                404,
                _error(f"no route {method} {path}; this server has /v1/completions", 404),
                {},
            )
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise _BadRequest("the body must be a JSON object")
            with self._lock:
                self.requests.append(request)
                return 200, self._complete(request), {}
        except json.JSONDecodeError as exc:
            return 400, _error(f"the body is not JSON: {exc}", 400), {}
        except _BadRequest as exc:
            return exc.status, _error(str(exc), exc.status), {}

    def _complete(self, request: dict[str, Any]) -> dict[str, Any]:
        import torch

        if request.get("model") != self.model_name:
            raise _BadRequest(f"The model `{request.get('model')}` does not exist.", 404)
        if request.get("stream"):
            raise _BadRequest("stream is not supported by this test server")
        add_special = bool(request.get("add_special_tokens", True))
        prompts = [self._encode(p, add_special) for p in _prompts(request.get("prompt"))]
        options = _options({"skip_special_tokens": self.skip_special_tokens, **request})
        generator = torch.Generator()
        if options.seed is not None:
            generator.manual_seed(options.seed)
        else:
            generator.seed()
        choices, completion_tokens = [], 0
        for prompt in prompts:
            for _ in range(options.n):
                done = complete(
                    self.model,
                    self.tokenizer,
                    prompt,
                    options,
                    eos_token_ids=self.eos_token_ids,
                    generator=generator,
                )
                completion_tokens += len(done.token_ids)
                choice: dict[str, Any] = {
                    "index": len(choices),
                    "text": done.text,
                    "logprobs": None,
                    "finish_reason": done.finish_reason,
                    "stop_reason": done.stop_reason,
                }
                if self.return_token_ids and request.get("return_token_ids"):
                    choice["token_ids"] = list(done.token_ids)
                    choice["prompt_token_ids"] = list(prompt)
                choices.append(choice)
        prompt_tokens = sum(len(p) for p in prompts)
        return {
            "id": f"cmpl-{uuid.uuid4().hex}",
            "object": "text_completion",
            "created": int(time.time()),
            "model": self.model_name,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _encode(self, prompt: str | list[int], add_special_tokens: bool) -> list[int]:
        if isinstance(prompt, str):
            return self.tokenizer.encode(prompt, add_special_tokens=add_special_tokens)
        vocab = len(self.tokenizer)
        if any(not 0 <= t < vocab for t in prompt):
            raise _BadRequest(f"prompt token ids must be in [0, {vocab})")
        return list(prompt)


def _prompts(prompt: Any) -> list[str | list[int]]:
    if isinstance(prompt, str) and prompt:
        return [prompt]
    if isinstance(prompt, list) and prompt:
        if all(isinstance(t, int) and not isinstance(t, bool) for t in prompt):
            return [prompt]
        if all(isinstance(p, str) and p for p in prompt):
            return list(prompt)
        if all(isinstance(p, list) and p and all(isinstance(t, int) for t in p) for p in prompt):
            return list(prompt)
    raise _BadRequest("prompt must be a non-empty string, token ids, or a list of either")


def _options(request: Mapping[str, Any]) -> SamplingOptions:
    def number(name: str, default: float, low: float, high: float = float("inf")) -> float:
        value = request.get(name, default)
        value = default if value is None else value
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not low <= value <= high
        ):
            raise _BadRequest(f"{name} must be a number in [{low}, {high}], got {value!r}")
        return value

    def whole(name: str, default: int, low: int) -> int:
        value = request.get(name, default)
        value = default if value is None else value
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise _BadRequest(f"{name} must be a whole number >= {low}, got {value!r}")
        return value

    stop = request.get("stop") or ()
    stop = (stop,) if isinstance(stop, str) else tuple(stop)
    if not all(isinstance(s, str) for s in stop):
        raise _BadRequest("stop must be a string or a list of strings")
    stop_ids = tuple(request.get("stop_token_ids") or ())
    if not all(isinstance(t, int) for t in stop_ids):
        raise _BadRequest("stop_token_ids must be a list of token ids")
    try:
        bias = {int(k): float(v) for k, v in (request.get("logit_bias") or {}).items()}
    except (TypeError, ValueError, AttributeError) as exc:
        raise _BadRequest("logit_bias must map token ids to numbers") from exc
    seed = request.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _BadRequest(f"seed must be an integer, got {seed!r}")
    top_p = number("top_p", 1.0, 0.0, 1.0)
    if top_p == 0:
        raise _BadRequest("top_p must be in (0, 1]")
    return SamplingOptions(
        max_tokens=whole("max_tokens", 16, 1),
        temperature=number("temperature", 1.0, 0.0),
        top_p=top_p,
        seed=seed,
        n=whole("n", 1, 1),
        stop=stop,
        stop_token_ids=stop_ids,
        min_tokens=whole("min_tokens", 0, 0),
        skip_special_tokens=bool(request.get("skip_special_tokens", True)),
        include_stop_str_in_output=bool(request.get("include_stop_str_in_output", False)),
        logit_bias=bias,
        ignore_eos=bool(request.get("ignore_eos", False)),
    )


def _error(message: str, status: int) -> dict[str, Any]:
    # OpenAI's shape; the SDK puts error.message into its exception text.
    return {"error": {"message": message, "type": "error", "code": status}}


class _HTTPServer(ThreadingHTTPServer):
    """Handler threads are tracked so that stop() can end them.

    A client that keeps its connection open (HTTP keep-alive) would otherwise leave a handler
    thread, one that has run torch, blocked until the interpreter kills it at exit, and torch's
    per-thread state does not survive that (``terminate called without an active exception``).
    """

    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type) -> None:
        super().__init__(address, handler)
        self._open: dict[threading.Thread, socket.socket] = {}
        self._open_lock = threading.Lock()

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open[threading.current_thread()] = request
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._open_lock:
                self._open.pop(threading.current_thread(), None)

    def close_connections(self, timeout: float = 10.0) -> None:
        """Close every open connection and wait for its handler thread to end."""
        with self._open_lock:
            open_now = list(self._open.items())
        for _, connection in open_now:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)
        for thread, _ in open_now:
            thread.join(timeout)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so a round of requests reuses connections

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def _serve(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        owner: CompletionsServer = self.server.owner  # type: ignore[attr-defined]
        try:
            status, payload, extra = owner.handle(method, self.path, body, self.headers)
        except Exception as exc:  # a bug here must reach the client as a 500, not hang it
            status, payload, extra = 500, _error(f"{type(exc).__name__}: {exc}", 500), {}
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: tests read the server's ``requests``, not its access log."""
