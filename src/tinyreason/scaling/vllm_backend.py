"""A :class:`~tinyreason.interfaces.Backend` over in-process vLLM (``vllm.LLM``), budget-forced.

Thinking control runs s1's own loop (:mod:`tinyreason.scaling.continuation`), as s1's
lm-evaluation-harness fork drove vLLM: each round is one ``llm.generate`` call over every
unfinished sample, with a ``SamplingParams`` per request that stops on the exact stop token ids
(no stop strings: vLLM returns token ids, so nothing is matched on text), the round's
``min_tokens`` (1 when waits are asked for, as s1), ``skip_special_tokens=False`` and, only with
``ban_delimiters_in_answer``, a ``logit_bias``. Samples continue from token ids, and vLLM's prefix
cache makes re-sending the growing context cheap.

vLLM is imported only when a :class:`VLLMBackend` is built; this module imports without it.
Install it on a CUDA machine with ``pip install 'tinyreason[vllm]'`` (it pins its own torch and
transformers: use a separate environment).

Known vLLM issue (s1's README): a model whose embedding rows outnumber its tokenizer's vocabulary
can sample an id the tokenizer lacks, and vLLM then refuses it in the next round's prompt ("Token
id ... out of vocabulary").
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..interfaces import StudentFormat
from .common import resolve_format
from .engine import BAN_BIAS, CompletionRequest, CompletionResult, EngineError
from .rounds import RoundsBackend

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase
    from vllm import LLM

__all__ = ["VLLMBackend", "VLLMEngine", "prompt_input", "result_from_output", "sampling_kwargs"]


def sampling_kwargs(request: CompletionRequest) -> dict[str, object]:
    """The ``vllm.SamplingParams`` keyword arguments for one request (pure Python).

    Example:
        >>> req = CompletionRequest((1, 2), 5, stop_token_ids=(9,), banned_token_ids=(3,))
        >>> kwargs = sampling_kwargs(req)
        >>> kwargs["stop_token_ids"], kwargs["logit_bias"], kwargs["skip_special_tokens"]
        ([9], {3: -100.0}, False)
    """
    return {
        "n": 1,
        "max_tokens": request.max_tokens,
        "temperature": request.temperature,
        "top_p": request.top_p,
        "seed": request.seed,
        "stop_token_ids": list(request.stop_token_ids),
        "min_tokens": request.min_tokens,
        "skip_special_tokens": False,
        "spaces_between_special_tokens": False,
        "include_stop_str_in_output": False,
        "logit_bias": {t: BAN_BIAS for t in request.banned_token_ids} or None,
    }


def prompt_input(request: CompletionRequest) -> str | dict[str, list[int]]:
    """The prompt as ``llm.generate`` takes it: text, or a ``TokensPrompt`` dict of ids.

    Example:
        >>> prompt_input(CompletionRequest((1, 2), max_tokens=1))
        {'prompt_token_ids': [1, 2]}
    """
    if isinstance(request.prompt, str):
        return request.prompt
    return {"prompt_token_ids": list(request.prompt)}


def result_from_output(output: Any) -> CompletionResult:
    """A :class:`CompletionResult` from one ``vllm.RequestOutput`` (its first completion).

    Raises:
        EngineError: the output has no completion, or finished otherwise than stop / length.

    Example:
        >>> from types import SimpleNamespace as NS
        >>> out = NS(outputs=[NS(text="42", token_ids=[19, 17, 2], finish_reason="stop",
        ...                      stop_reason=2)])
        >>> result_from_output(out).num_tokens
        3
    """
    outputs = getattr(output, "outputs", None)
    if not outputs:
        raise EngineError("vLLM returned a request output without completions")
    completion = outputs[0]
    ids = tuple(int(t) for t in completion.token_ids)
    return CompletionResult(
        text=completion.text or "",
        num_tokens=len(ids),
        finish_reason=str(completion.finish_reason),
        token_ids=ids,
        stop_reason=getattr(completion, "stop_reason", None),
    )


class VLLMEngine:
    """A :class:`~tinyreason.scaling.continuation.CompletionEngine` over a ``vllm.LLM``.

    Args:
        llm: The engine (anything with vLLM's ``generate(prompts, sampling_params, use_tqdm)``).
        sampling_params: ``vllm.SamplingParams`` (or a stand-in taking the same keywords).

    Example:
        >>> llm = vllm.LLM("Qwen/Qwen2.5-0.5B")  # doctest: +SKIP
        >>> engine = VLLMEngine(llm, vllm.SamplingParams)  # doctest: +SKIP
    """

    def __init__(self, llm: LLM, sampling_params: Callable[..., object]):
        self.llm = llm
        self.sampling_params = sampling_params

    def complete(self, requests: Sequence[CompletionRequest]) -> list[CompletionResult]:
        """One ``llm.generate`` call for every request; results in the requests' order."""
        params = [self.sampling_params(**sampling_kwargs(r)) for r in requests]
        outputs = self.llm.generate([prompt_input(r) for r in requests], params, use_tqdm=False)
        return [result_from_output(o) for o in outputs]


class VLLMBackend(RoundsBackend):
    """Generate with in-process vLLM, enforcing thinking control by stop-and-continue.

    Args:
        model: A model folder or hub name, or a ready ``vllm.LLM`` (then no engine options).
        format: A registered student format name or a
            :class:`~tinyreason.students.ThinkFormat`. None (default): the format a
            tinyreason-trained model folder records, else ``"think-tags"``.
        tokenizer: A tokenizer folder / name for vLLM, or a loaded tokenizer (its
            ``name_or_path`` goes to vLLM); None uses the model's.
        dtype: vLLM's ``dtype`` (``"auto"``, ``"bfloat16"``, ``"float32"``: s1 evaluated in fp32).
        tensor_parallel_size: GPUs to shard the model over.
        seed: vLLM's engine seed (sampled requests also get their own seeds).
        progress: Show a progress bar over samples; None shows it on a terminal for several.
        **engine_kwargs: Anything else ``vllm.LLM`` takes (``max_model_len``,
            ``gpu_memory_utilization``, ``enable_prefix_caching``...).

    Raises:
        ConfigError: vLLM is not installed (the message says how to install it), engine options
            came with a ready engine, or the format does not fit the tokenizer.
        DataError: the tokenizer has no chat template.

    Example:
        >>> import tinyreason as tr
        >>> backend = tr.backend(  # doctest: +SKIP
        ...     "vllm", model="simplescaling/s1.1-7B", format="qwen-s1", dtype="float32",
        ...     max_model_len=32768)
        >>> bf = tr.scaler("budget-forcing", max_thinking=8000, waits=1)
        >>> solutions = bf.solve(backend, problems)  # doctest: +SKIP
    """

    def __init__(
        self,
        model: str | Path | LLM,
        format: str | StudentFormat | None = None,
        tokenizer: str | Path | PreTrainedTokenizerBase | None = None,
        dtype: str = "auto",
        tensor_parallel_size: int = 1,
        seed: int = 0,
        progress: bool | None = None,
        **engine_kwargs: object,
    ):
        vllm = _import_vllm()
        self.format = resolve_format(format, model=model)
        if isinstance(model, (str, Path)):
            options = dict(engine_kwargs)
            options.update(
                model=str(model), dtype=dtype, tensor_parallel_size=tensor_parallel_size, seed=seed
            )
            name = _tokenizer_name(tokenizer)
            if name:
                options["tokenizer"] = name
            self.llm = vllm.LLM(**options)
            self.model_name = str(model)
        elif hasattr(model, "generate") and hasattr(model, "get_tokenizer"):
            if engine_kwargs:
                raise ConfigError(
                    f"engine options {sorted(engine_kwargs)} only apply when VLLMBackend builds "
                    "the vllm.LLM; pass a model name, or build the LLM with them yourself."
                )
            self.llm = model
            self.model_name = str(getattr(model, "model_name", "") or type(model).__name__)
        else:
            raise ConfigError(
                "model must be a model folder, a hub name or a vllm.LLM, got "
                f"{type(model).__name__}"
            )
        if tokenizer is None or isinstance(tokenizer, (str, Path)):
            self.tokenizer = self.llm.get_tokenizer()  # the one vLLM loaded
        else:
            self.tokenizer = tokenizer
        self.format.chat_prompt(self.tokenizer, "?")  # fail now on a missing chat template
        self.dtype, self.tensor_parallel_size = dtype, tensor_parallel_size
        self._vllm_version = str(getattr(vllm, "__version__", "unknown"))
        self._run_over(
            VLLMEngine(self.llm, vllm.SamplingParams),
            context_window=_max_model_len(self.llm),
            progress=progress,
        )

    def __repr__(self) -> str:
        return f"VLLMBackend({self.model_name!r}, format={self.format.name!r})"

    def describe(self) -> dict[str, object]:
        """Describe the backend for a run's manifest (JSON-serialisable)."""
        return {
            "backend": "vllm",
            "model": self.model_name,
            "format": self.format.name,
            "dtype": str(self.dtype),
            "tensor_parallel_size": self.tensor_parallel_size,
            "vllm": self._vllm_version,
        }


def _max_model_len(llm: object) -> int | None:
    """The engine's context length (``llm.llm_engine.model_config.max_model_len``), if it says."""
    config = getattr(getattr(llm, "llm_engine", None), "model_config", None)
    length = getattr(config, "max_model_len", None)
    return length if isinstance(length, int) and length > 0 else None


def _import_vllm() -> ModuleType:
    try:
        vllm = importlib.import_module("vllm")
    except ImportError as exc:
        raise ConfigError(
            f"the vllm backend needs vLLM, which cannot be imported ({exc}). Install it on a "
            "CUDA machine: pip install 'tinyreason[vllm]' (vLLM pins its own torch and "
            "transformers, so use a separate environment), or use the 'transformers' or "
            "'openai-server' backend."
        ) from exc
    return vllm


def _tokenizer_name(tokenizer: str | Path | PreTrainedTokenizerBase | None) -> str | None:
    if tokenizer is None:
        return None
    if isinstance(tokenizer, (str, Path)):
        return str(tokenizer)
    return getattr(tokenizer, "name_or_path", None) or None
