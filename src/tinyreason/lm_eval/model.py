"""The lm-eval model ``tinyreason``: lm-eval's tasks, answered by our scalers on our backends.

``generate_until`` runs a registered test-time scaler (budget forcing by default) over a
registered backend (``transformers``, ``vllm``, ``openai-server``...), exactly as
``tr.evaluate`` would, and hands lm-eval back one text per request; ``loglikelihood`` and
``loglikelihood_rolling`` score with the ``transformers`` backend's model.

What comes back (``output=``):

* ``"answer"`` (default): the text after the end of thinking (lead-in such as ``Final Answer:``
  included, leading whitespace stripped), as lm-eval's own models return it when given a
  ``think_end_token``, so a task's filters and metrics see the answer, not the thinking.
* ``"full"``: the whole continuation, thinking and delimiters included, as s1's lm-eval fork
  returned it (its graders look for the answer after ``<|im_start|>answer``).

The task's ``until`` stop strings cut the *answer* (s1's fork passed them to its answer round; the
thinking is the scaler's to control); with ``scaler=none`` they cut the whole text, as lm-eval's
``hf`` model does. ``max_gen_toks`` is the generation budget (s1's ``max_gen_toks``) of a scaler
whose own ``max_new_tokens`` is unset.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from lm_eval.api.model import TemplateLM

from .. import registry
from ..errors import ConfigError, TinyReasonError
from ..interfaces import Backend, TestTimeScaler
from ..records import Generation
from ._args import check_model_options, parse_value, route
from .generation import Generating

__all__ = ["TinyReasonLM", "UnsupportedRequestError"]

logger = logging.getLogger(__name__)


class UnsupportedRequestError(TinyReasonError, NotImplementedError):
    """lm-eval asked for something this model cannot do with the backend it has.

    Example:
        >>> isinstance(UnsupportedRequestError("x"), NotImplementedError)
        True
    """


class _Prompts:
    """The backend as the scaler sees it: its own ``prompt`` replaced by the model's rule.

    ``prompt="chat"``: a context that lm-eval already rendered with our chat template gets the
    format's ``think_start`` appended; any other context is the user's turn, rendered by the
    student format (``backend.prompt``). ``prompt="raw"``: the context is the prompt, as it is.
    """

    def __init__(self, backend: Backend, mode: str, rendered: Callable[[], bool]):
        self._backend = backend
        self._mode = mode
        self._rendered = rendered
        self.format = backend.format

    def prompt(self, question: str) -> str:
        if self._mode == "raw":
            return question
        if self._rendered():
            start = self.format.think_start
            return question if question.endswith(start) else question + start
        return self._backend.prompt(question)

    def generate(self, prompts: Sequence[str], **options: Any) -> list[list[Generation]]:
        return self._backend.generate(prompts, **options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


class TinyReasonLM(Generating, TemplateLM):  # type: ignore[misc]  # lm-eval ships no type information
    """lm-eval's ``--model tinyreason``: budget forcing (or any scaler) on any of our backends.

    Built by lm-eval from ``--model_args`` (values such as ``2``, ``auto``, ``none`` are parsed;
    unknown keys are an error naming the valid ones), or by hand with ready objects.

    Args:
        pretrained: The model: a folder or hub name (the backend's ``model`` option).
        backend: A registered backend name (``"transformers"``, ``"vllm"``, ``"openai-server"``)
            or a ready :class:`~tinyreason.Backend`.
        scaler: A registered scaler name (``"budget-forcing"``, ``"majority-vote"``...), a ready
            :class:`~tinyreason.TestTimeScaler`, or None (``scaler=none``): plain generation, no
            thinking control, the context continued as lm-eval's ``hf`` model continues it.
        format: The student format (``"qwen-s1"``, ``"think-tags"``); None: the one the model
            folder records.
        prompt: ``"chat"`` (default): each context is the user's turn in the student's chat
            template, ending where thinking starts (with ``--apply_chat_template``, lm-eval renders
            the turns and ``think_start`` is appended); ``"raw"``: the context as it is.
        output: ``"answer"`` (the text after the end of thinking) or ``"full"`` (all of it).
        skip_special_tokens: Drop special tokens from the returned text (lm-eval's ``hf`` does).
        seed: Seed for sampling (greedy runs ignore it).
        max_gen_toks: The generation budget when a request names none (None: the scaler's
            ``max_new_tokens``, else the model's context window).
        batch_size: lm-eval's ``--batch_size``: the backend's, when it takes one (``auto``: its
            default).
        max_batch_size: lm-eval's ``--max_batch_size`` (unused).
        device: lm-eval's ``--device``: the backend's, when it takes one (a CUDA device on a
            machine without CUDA falls back to the CPU, as lm-eval's ``hf`` does).
        **options: The scaler's and the backend's options (``max_thinking=auto``, ``waits=2``,
            ``dtype=bfloat16``...), or ``scaler.KEY`` / ``backend.KEY`` / ``inner.KEY``.

    Raises:
        ConfigError: an unknown key, a value of the wrong type, or a missing ``pretrained``.
        UnknownPluginError: no such scaler, backend or format.

    Example:
        >>> import lm_eval
        >>> import tinyreason.lm_eval  # registers --model tinyreason
        >>> results = lm_eval.simple_evaluate(  # doctest: +SKIP
        ...     model="tinyreason",
        ...     model_args="pretrained=out/s1,format=qwen-s1,max_thinking=auto,waits=2",
        ...     tasks=["gsm8k"],
        ... )
    """

    def __init__(
        self,
        pretrained: str | None = None,
        backend: str | Backend = "transformers",
        scaler: str | TestTimeScaler | None = "budget-forcing",
        format: str | None = None,
        prompt: str = "chat",
        output: str = "answer",
        skip_special_tokens: bool = False,
        seed: int | None = 0,
        max_gen_toks: int | None = None,
        batch_size: int | str | None = None,
        max_batch_size: int | None = None,
        device: str | None = None,
        **options: Any,
    ) -> None:
        super().__init__()
        own: dict[str, Any] = {
            "pretrained": pretrained,
            "format": format,
            "prompt": prompt,
            "output": output,
            "skip_special_tokens": skip_special_tokens,
            "seed": seed,
            "max_gen_toks": max_gen_toks,
        }
        own = {k: parse_value(v) for k, v in own.items()}
        if isinstance(backend, str):
            own["backend"] = parse_value(backend)
        if isinstance(scaler, str) or scaler is None:
            own["scaler"] = parse_value(scaler)
        check_model_options(own)
        options = {k: parse_value(v) for k, v in options.items()}
        self.prompt_mode: str = own["prompt"]
        self.output: str = own["output"]
        self.skip_special_tokens: bool = own["skip_special_tokens"]
        self.seed: int | None = own["seed"]
        self.max_gen_toks: int | None = own["max_gen_toks"]
        self._chat_rendered = False
        self._warned: set[str] = set()

        scaler_name = own.get("scaler") if not _is_scaler(scaler) else None
        backend_name = own.get("backend") if not isinstance(backend, Backend) else None
        routed = route(scaler_name, backend_name, options)
        if _is_scaler(scaler) and (routed.scaler or routed.inner):
            raise ConfigError(
                "model 'tinyreason': scaler options were given with a ready scaler object; set "
                "them on the object instead."
            )
        if isinstance(backend, Backend) and (routed.backend or own["pretrained"] or own["format"]):
            raise ConfigError(
                "model 'tinyreason': pretrained, format and backend options were given with a "
                "ready backend object; build the backend with them instead."
            )

        # The scaler first: it is cheap and checks its options before any model loads.
        self.scaler: TestTimeScaler | None
        if _is_scaler(scaler):
            self.scaler = scaler  # type: ignore[assignment]
        elif scaler_name is None:
            self.scaler = None
        else:
            if routed.inner:
                routed.scaler["inner"] = registry.build("scaler", "budget-forcing", **routed.inner)
            self.scaler = registry.build("scaler", scaler_name, **routed.scaler)

        if isinstance(backend, Backend):
            self.student_backend: Backend = backend
        else:
            assert backend_name is not None
            backend_options = self._backend_options(
                backend_name, own, routed.backend, batch_size, device
            )
            self.student_backend = registry.build("backend", backend_name, **backend_options)
        self._prompts = _Prompts(
            self.student_backend, self.prompt_mode, lambda: self._chat_rendered
        )
        # TemplateLM reads ``tokenizer`` (chat templates, request caching).
        self.tokenizer = getattr(self.student_backend, "tokenizer", None)
        self._think_end: tuple[int, ...] | None = None

    # -- building ----------------------------------------------------------------------------

    def _backend_options(
        self,
        name: str,
        own: dict[str, Any],
        options: dict[str, Any],
        batch_size: int | str | None,
        device: str | None,
    ) -> dict[str, Any]:
        from ._args import parameters

        keys, _ = parameters("backend", name)
        options = dict(options)
        if own["pretrained"] is not None:
            if "model" in options:
                raise ConfigError(
                    "model 'tinyreason': give the model once, as pretrained=... (model=... is "
                    "the same option of the backend)."
                )
            options["model"] = own["pretrained"]
        if "model" not in options and "model" in keys:
            raise ConfigError(
                "model 'tinyreason' needs pretrained=MODEL (a folder or hub name), e.g. "
                "--model_args pretrained=out/s1,format=qwen-s1"
            )
        if own["format"] is not None:
            options["format"] = own["format"]
        batch_size = parse_value(batch_size)
        if "batch_size" in keys and "batch_size" not in options and isinstance(batch_size, int):
            options["batch_size"] = batch_size
        if "device" in keys and "device" not in options and device:
            options["device"] = _usable_device(str(device))
        return options

    # -- lm-eval's interface -----------------------------------------------------------------

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        """Answer each request's context with the scaler; one text per request, in order."""
        groups: dict[tuple[Any, ...], list[int]] = {}
        settings: dict[tuple[Any, ...], tuple[list[str], int | None, float]] = {}
        for i, request in enumerate(requests):
            _, gen_kwargs = request.args
            until, budget, temperature = self._gen_kwargs(gen_kwargs or {})
            key = (tuple(until), budget, temperature)
            groups.setdefault(key, []).append(i)
            settings[key] = (until, budget, temperature)
        out: list[str] = [""] * len(requests)
        for key, indices in groups.items():
            until, budget, temperature = settings[key]
            contexts = [requests[i].args[0] for i in indices]
            texts = self._generate(contexts, until, budget, temperature)
            for i, text in zip(indices, texts, strict=True):
                out[i] = text
                self.cache_hook.add_partial("generate_until", requests[i].args, text)
        return out

    def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[Any]:
        """Log-probability of each continuation, from the ``transformers`` backend's model."""
        self._scoring_model("loglikelihood")
        return super().loglikelihood(requests, disable_tqdm=disable_tqdm)  # type: ignore[no-any-return]

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        """Log-probability of each whole text, in windows of the context length (as ``hf``)."""
        from lm_eval import utils as lm_utils

        self._scoring_model("loglikelihood_rolling")
        out = []
        for request in requests:
            (text,) = request.args
            windows = [
                lm_utils.make_disjoint_window(w)
                for w in lm_utils.get_rolling_token_windows(
                    token_list=self.tok_encode(text),
                    prefix_token=self.prefix_token_id,
                    max_seq_len=self.max_length,
                    context_len=1,
                )
            ]
            scores = self._loglikelihood_tokens([(None, ctx, cont) for ctx, cont in windows])
            total = float(sum(score for score, _ in scores))
            self.cache_hook.add_partial("loglikelihood_rolling", (text,), total)
            out.append(total)
        return out

    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        """Render lm-eval's turns with the model's chat template (the format's system prompt first).

        ``generate_until`` then appends the format's ``think_start`` (``prompt="chat"``).
        """
        tokenizer = self._tokenizer("--apply_chat_template")
        messages = list(chat_history)
        system = getattr(self.student_backend.format, "system_prompt", None)
        if system and not any(m.get("role") == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": system})
        self._chat_rendered = True
        rendered: str = tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=add_generation_prompt
        )
        return rendered

    @property
    def tokenizer_name(self) -> str:
        """The tokenizer's name (lm-eval keys its request cache on it)."""
        name = getattr(self.tokenizer, "name_or_path", "") or type(self.student_backend).__name__
        return str(name).replace("/", "__")

    def get_model_info(self) -> dict[str, Any]:
        """What lm-eval records in its results' ``config``: the backend and scaler that ran."""
        from importlib import metadata

        backend = self.student_backend
        describe = getattr(backend, "describe", None)
        try:
            version = metadata.version("tinyreason")
        except metadata.PackageNotFoundError:
            version = "unknown"
        return {
            "tinyreason_version": version,
            "tinyreason_backend": describe() if callable(describe) else type(backend).__name__,
            "tinyreason_scaler": repr(self.scaler) if self.scaler is not None else "none",
            "tinyreason_prompt": self.prompt_mode,
            "tinyreason_output": self.output,
        }

    # -- TemplateLM's token interface (scoring) ---------------------------------------------------

    @property
    def eot_token_id(self) -> int:
        """The tokenizer's end-of-sequence id."""
        eos = self._tokenizer("scoring").eos_token_id
        if eos is None:
            raise UnsupportedRequestError("the tokenizer has no eos_token; scoring needs one")
        return int(eos)

    @property
    def prefix_token_id(self) -> int:
        """The id an empty context starts from: BOS when the tokenizer has one, else EOS."""
        bos = self._tokenizer("scoring").bos_token_id
        return int(bos) if bos is not None else self.eot_token_id

    @property
    def max_length(self) -> int:
        """The model's context window (2048 when unknown, as lm-eval's ``hf``)."""
        window = getattr(self.student_backend, "context_window", None)
        return int(window) if isinstance(window, int) and window > 0 else 2048

    def tok_encode(
        self, string: str, add_special_tokens: bool | None = None, **kwargs: Any
    ) -> list[int]:
        """Token ids of ``string`` (no special tokens added unless asked, as ``hf``)."""
        tokenizer = self._tokenizer("scoring")
        ids: list[int] = tokenizer.encode(string, add_special_tokens=bool(add_special_tokens))
        return ids

    def _loglikelihood_tokens(
        self,
        requests: list[tuple[Any, list[int], list[int]]],
        disable_tqdm: bool = False,
        **kwargs: Any,
    ) -> list[tuple[float, bool]]:
        import torch

        model = self._scoring_model("loglikelihood")
        tokenizer = self._tokenizer("scoring")
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eot_token_id
        size = getattr(self.student_backend, "batch_size", 1)
        size = size if isinstance(size, int) and size > 0 else 1
        # Longest first: fewer pad tokens per batch, and a memory error shows at once.
        order = sorted(range(len(requests)), key=lambda i: -len(requests[i][1] + requests[i][2]))
        out: list[tuple[float, bool]] = [(0.0, False)] * len(requests)
        for start in range(0, len(order), size):
            batch = order[start : start + size]
            rows = []
            for i in batch:
                _, context, continuation = requests[i]
                whole = (list(context) + list(continuation))[-(self.max_length + 1) :]
                rows.append((whole[:-1], whole[-len(continuation) :] if continuation else []))
            width = max(len(inputs) for inputs, _ in rows)
            ids = torch.full((len(rows), width), int(pad), dtype=torch.long)
            mask = torch.zeros((len(rows), width), dtype=torch.long)
            for r, (inputs, _) in enumerate(rows):
                ids[r, : len(inputs)] = torch.tensor(inputs, dtype=torch.long)
                mask[r, : len(inputs)] = 1
            with torch.inference_mode():
                logits = model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device))
                logprobs = torch.log_softmax(logits.logits.float(), dim=-1).cpu()
            for r, (i, (inputs, targets)) in enumerate(zip(batch, rows, strict=True)):
                n = len(targets)
                picked = logprobs[r, len(inputs) - n : len(inputs)]
                target = torch.tensor(targets, dtype=torch.long)
                score = float(picked.gather(1, target[:, None]).sum()) if n else 0.0
                greedy = bool((picked.argmax(dim=-1) == target).all()) if n else True
                out[i] = (score, greedy)
                if requests[i][0] is not None:
                    self.cache_hook.add_partial("loglikelihood", requests[i][0], out[i])
        return out

    # -- helpers -------------------------------------------------------------------------------

    def _tokenizer(self, purpose: str) -> Any:
        tokenizer = getattr(self.student_backend, "tokenizer", None)
        if tokenizer is None:
            raise UnsupportedRequestError(
                f"{purpose} needs the backend's tokenizer, and "
                f"{type(self.student_backend).__name__} has none; use the transformers backend."
            )
        return tokenizer

    def _scoring_model(self, request: str) -> Any:
        model = getattr(self.student_backend, "model", None)
        if model is None or not callable(getattr(model, "forward", None)):
            raise UnsupportedRequestError(
                f"lm-eval asked for {request}, which needs the model's log-probabilities; the "
                f"{type(self.student_backend).__name__} backend only generates. Run generation "
                "tasks (output_type: generate_until) with it, or use backend=transformers."
            )
        return model

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message)


def _is_scaler(obj: object) -> bool:
    return obj is not None and not isinstance(obj, str) and isinstance(obj, TestTimeScaler)


def _usable_device(device: str) -> str:
    """``device``, or ``"cpu"`` when it names CUDA and there is none (lm-eval's default: cuda:0)."""
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            logger.warning("tinyreason: %s is not available; using the CPU", device)
            return "cpu"
    return device
