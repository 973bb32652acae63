"""A loopback OpenAI-compatible *completions* server backed by a ``transformers`` model.

It lets tests (and users without vLLM) run :class:`~tinyreason.scaling.OpenAIServerBackend` end to
end over real HTTP: a loopback server on ``127.0.0.1`` (a free port), started in a daemon thread,
speaking the subset of ``POST /v1/completions`` that budget forcing uses, with
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

For error tests it injects faults as every loopback server does
(:class:`~tinyreason.testing.loopback.LoopbackServer`): :meth:`CompletionsServer.fail_next` queues
HTTP statuses to answer next, :meth:`CompletionsServer.inject` any fault (``drop``, ``slow``,
``malformed``, ``empty``...), ``fault_rate`` draws them; they hit completions only, never
``GET /v1/models`` nor the backend's capability probes (requests whose ``user`` is
:data:`~tinyreason.scaling.server_capabilities.PROBE_USER`, kept apart in ``probes``), so "the
next request" is the next one of the run. ``api_key=`` makes the server refuse requests without
that bearer token (as ``vllm serve --api-key`` does). Generation itself is in
:mod:`~tinyreason.testing.sampling`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from ..scaling.server_capabilities import PROBE_USER
from .faults import FAULT_KINDS
from .loopback import LoopbackServer, Request, Response, openai_error
from .sampling import Completion, SamplingOptions, complete

__all__ = [
    "Completion",  # re-exported from .sampling, with SamplingOptions and complete
    "CompletionsServer",
    "SamplingOptions",
    "complete",
]

#: The faults this server serves: all but ``safety`` (completions have no safety filter).
_SERVED = tuple(k for k in FAULT_KINDS if k != "safety")


class _BadRequest(Exception):
    """A request the server refuses with HTTP 400 (or ``status``)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class CompletionsServer(LoopbackServer):
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
        fault_rate: Probability (0..1) that a completions request gets a random fault, drawn
            with ``seed`` from ``fault_kinds``. Queued faults (:meth:`inject`) come first.
        fault_kinds: The faults ``fault_rate`` draws from; None: every random kind it serves.
        seed: Seed of the random fault draws.
        retry_after: Default ``Retry-After`` header of a ``rate_limit`` fault (``""``: none).
            Every HTTP error fault also says ``retry-after-ms: 1``, so an SDK retries at once.
        slow_seconds: How long a ``slow`` fault waits before replying.

    Attributes:
        requests: The JSON body of every ``/v1/completions`` request received, in order
            (faulted requests are not: they never reached the model; nor are probes).
        probes: The JSON body of every capability probe of the backend, in order.

    Example:
        >>> from tinyreason.testing import CompletionsServer, tiny_model
        >>> with CompletionsServer(tiny_model()) as server:  # doctest: +SKIP
        ...     backend = OpenAIServerBackend(server.base_url, "tiny", server.tokenizer)
        ...     server.fail_next(503)  # the first request fails, the SDK's retry succeeds
        ...     backend.generate([backend.prompt("6*7?")], max_new_tokens=8)
    """

    url_path: ClassVar[str] = "/v1"
    fault_kinds_served: ClassVar[tuple[str, ...]] = _SERVED
    # retry-after-ms (OpenAI's SDK reads it first) keeps an SDK's retry of a fault fast in tests.
    fault_headers: ClassVar[Mapping[str, str]] = {"retry-after-ms": "1"}

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
        fault_rate: float = 0.0,
        fault_kinds: Sequence[str] | None = None,
        seed: int = 0,
        retry_after: str = "1",
        slow_seconds: float = 2.0,
    ):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.fault_rate, self.fault_kinds, self.seed = fault_rate, fault_kinds, seed
        self.retry_after, self.slow_seconds = retry_after, slow_seconds
        super().__init__(host=host, port=port)
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
        self.probes: list[dict[str, Any]] = []
        self._api_key = api_key
        self._lock = threading.Lock()  # one forward at a time: the model and `requests`
        eos = model.generation_config.eos_token_id
        eos_ids = [eos] if isinstance(eos, int) else list(eos or ())
        if tokenizer.eos_token_id is not None:
            eos_ids.append(tokenizer.eos_token_id)
        self.eos_token_ids = tuple(dict.fromkeys(eos_ids))

    def __repr__(self) -> str:
        state = self.base_url if self.running else "stopped"
        return f"CompletionsServer({self.model_name!r}, {state})"

    # -- requests ----------------------------------------------------------------------------

    def respond(self, request: Request) -> Response | None:
        """Serve one request: an injected fault (completions only), else :meth:`handle`'s answer."""
        # Injected faults hit completions only: a backend's one-off GET /models and its
        # capability probes stay clean.
        probe = request.method == "POST" and _is_probe(request.json())
        fault = self.take_fault() if request.method == "POST" and not probe else None
        if fault is not None:
            return self.fault_response(
                fault,
                reply=lambda: self._answer(request),
                bodies={"empty": lambda: self._reply_body([])},
            )
        return self._answer(request)

    def _answer(self, request: Request) -> Response:
        status, payload, headers = self.handle(
            request.method, request.path, request.body, request.headers
        )
        return Response.json(status, payload, headers)

    def handle(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> tuple:
        """Answer one HTTP request, faults aside: ``(status, JSON payload, extra headers)``."""
        route = path.split("?", 1)[0].rstrip("/")
        if self._api_key is not None and headers.get("Authorization") != f"Bearer {self._api_key}":
            return 401, openai_error(401, "invalid API key: send Authorization: Bearer <key>"), {}
        if method == "GET" and route == "/v1/models":
            # vLLM lists each model's max_model_len; backends size budgets from it.
            window = getattr(self.model.config, "max_position_embeddings", None)
            entry = {"id": self.model_name, "object": "model", "max_model_len": window}
            return 200, {"object": "list", "data": [entry]}, {}
        if method != "POST" or route != "/v1/completions":
            message = f"no route {method} {path}; this server has /v1/completions"
            return 404, openai_error(404, message), {}
        try:
            request = json.loads(body or b"{}")
            if not isinstance(request, dict):
                raise _BadRequest("the body must be a JSON object")
            with self._lock:
                (self.probes if _is_probe(request) else self.requests).append(request)
                return 200, self._complete(request), {}
        except json.JSONDecodeError as exc:
            return 400, openai_error(400, f"the body is not JSON: {exc}"), {}
        except _BadRequest as exc:
            return exc.status, openai_error(exc.status, str(exc)), {}

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
        return self._reply_body(choices, sum(len(p) for p in prompts), completion_tokens)

    def _reply_body(
        self, choices: list[dict[str, Any]], prompt_tokens: int = 0, completion_tokens: int = 0
    ) -> dict[str, Any]:
        """A completions reply with these choices (none: the ``empty`` fault)."""
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


def _is_probe(body: object) -> bool:
    """Whether a request body is one of the backend's capability probes."""
    return isinstance(body, dict) and body.get("user") == PROBE_USER


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
