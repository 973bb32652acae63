"""A :class:`~tinyreason.interfaces.Backend` over ``transformers``, budget-forced as s1 does.

Thinking control runs s1's own loop (:mod:`tinyreason.scaling.continuation`): each round is one
left-padded ``model.generate()`` call per batch of unfinished samples, stopping where the model
tries to end thinking, so the token ids are those of s1's vLLM loop. Every round re-reads its
prompt (no KV cache is kept between rounds), as s1's did; ``docs/performance.md`` has the cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, PreTrainedModel, PreTrainedTokenizerBase

from ..errors import ConfigError, DataError
from ..interfaces import StudentFormat
from .common import load_tokenizer, model_context_window, resolve_format
from .engine import CompletionRequest, CompletionResult, EngineError
from .rounds import RoundsBackend

__all__ = ["TransformersBackend", "TransformersEngine"]


class TransformersBackend(RoundsBackend):
    """Generate from a local ``transformers`` causal LM, enforcing thinking control natively.

    Args:
        model: A model folder or hub name, or a loaded ``PreTrainedModel``.
        tokenizer: Its tokenizer, or a folder / name to load one from; None loads the model's own.
        format: A registered student format name (``"think-tags"``, ``"qwen-s1"``) or a
            :class:`~tinyreason.students.ThinkFormat`. None (default): the format a
            tinyreason-trained model folder records, else ``"think-tags"``.
        device: Where to run (``"cpu"``, ``"cuda"``, ``"cuda:1"``); None keeps a loaded model
            where it is and puts a model loaded here on CUDA when there is one.
        dtype: ``torch.dtype`` or its name (``"bfloat16"``, ``"auto"``); None keeps the default.
        batch_size: Rows (samples) per ``generate`` call.
        progress: Show a progress bar over samples; None shows it only on a terminal.

    Raises:
        DataError: the tokenizer has no chat template.
        ConfigError: the format's delimiters do not fit the tokenizer, or an option is invalid.

    Notes:
        With ``temperature=0`` the ``n`` samples of a prompt would all be identical, so the prompt
        is generated once and its :class:`~tinyreason.Generation` repeated ``n`` times. Samples
        (``temperature > 0``) are drawn under a seed derived from ``seed``: the same prompts,
        options, ``batch_size`` and seed give the same samples. Rows are batched longest first
        (less padding); results keep the prompts' order.

    Example:
        >>> import tinyreason as tr
        >>> from tinyreason.scaling import TransformersBackend
        >>> backend = TransformersBackend(tr.testing.tiny_model())  # doctest: +SKIP
        >>> control = tr.ThinkingControl(max_thinking=16, max_answer_tokens=8)
        >>> prompts = [backend.prompt("What is 6*7?")]  # doctest: +SKIP
        >>> [[g]] = backend.generate(prompts, control=control)  # doctest: +SKIP
        >>> g.thinking_tokens, g.forced_end  # doctest: +SKIP
        (16, True)
    """

    def __init__(
        self,
        model: str | Path | PreTrainedModel,
        tokenizer: str | Path | PreTrainedTokenizerBase | None = None,
        format: str | StudentFormat | None = None,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        batch_size: int = 16,
        progress: bool | None = None,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
        self.batch_size = batch_size
        self.progress = progress
        self.format = resolve_format(format, "the transformers backend", model=model)
        torch_dtype = _resolve_dtype(dtype)
        if isinstance(model, (str, Path)):
            self.model = _load_model(str(model), torch_dtype)
            source: str | None = str(model)
            if device is None:
                device = "cuda" if torch.cuda.is_available() else "cpu"
        elif isinstance(model, PreTrainedModel):
            self.model = model
            source = getattr(model, "name_or_path", None) or None
            if torch_dtype is not None and torch_dtype != "auto":
                self.model.to(torch_dtype)
        else:
            raise ConfigError(
                f"model must be a folder, a hub name or a transformers PreTrainedModel, got "
                f"{type(model).__name__}"
            )
        if device is not None:
            self.model.to(device)
        self.model.eval()
        self.device = self.model.device
        self.tokenizer = load_tokenizer(
            tokenizer,
            source,
            missing="the model has no name_or_path to load its tokenizer from; pass tokenizer=...",
            hint="Pass tokenizer=... explicitly.",
        )
        # Fail now, not after loading a batch: both raise errors that say how to fix them.
        self.format.chat_prompt(self.tokenizer, "?")
        eos = self.model.generation_config.eos_token_id
        extra = [eos] if isinstance(eos, int) else list(eos or ())
        self.end_of_turn = self.format.eot(self.tokenizer)
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.model.generation_config.pad_token_id
        if pad is None:
            pad = self.tokenizer.convert_tokens_to_ids(self.end_of_turn)
        self.pad_token_id = int(pad)
        self.context_window = model_context_window(self.model.config, self.tokenizer)
        self.engine = TransformersEngine(self.model, self.pad_token_id, batch_size)
        self._run_over(
            self.engine, extra_stop=extra, context_window=self.context_window, progress=progress
        )

    def __repr__(self) -> str:
        name = getattr(self.model, "name_or_path", "") or type(self.model).__name__
        return f"TransformersBackend({name!r}, format={self.format.name!r}, device={self.device})"

    def describe(self) -> dict[str, object]:
        """Describe the backend for a run's manifest (JSON-serialisable)."""
        return {
            "backend": "transformers",
            "model": getattr(self.model, "name_or_path", "") or type(self.model).__name__,
            "format": self.format.name,
            "device": str(self.device),
            "dtype": str(getattr(self.model, "dtype", "")),
            "batch_size": self.batch_size,
            "context_window": self.context_window,
            "budget_forcing": "s1 rounds (stop, strip, append, regenerate)",
        }


class TransformersEngine:
    """A :class:`~tinyreason.scaling.continuation.CompletionEngine` over ``model.generate``.

    Requests with the same settings go into one left-padded ``generate`` call of at most
    ``batch_size`` rows (longest first); each stops on its stop ids with HF's ``eos_token_id``
    list, honours ``min_tokens`` with ``min_new_tokens`` and bans ids with ``suppress_tokens``.
    Sampling draws from a generator seeded by the requests' seeds, under ``torch.random.fork_rng``
    so the caller's global random state is left alone.

    Args:
        model: A loaded causal LM.
        pad_token_id: The id used to pad rows.
        batch_size: Rows per ``generate`` call.

    Example:
        >>> engine = TransformersEngine(model, pad_token_id=0)  # doctest: +SKIP
        >>> [r] = engine.complete([CompletionRequest((1, 2), max_tokens=4)])  # doctest: +SKIP
        >>> r.finish_reason  # doctest: +SKIP
        'length'
    """

    # Any: a causal LM's generate() comes from GenerationMixin, which transformers' own types do
    # not put on PreTrainedModel.
    def __init__(self, model: Any, pad_token_id: int, batch_size: int = 16):
        self.model = model
        self.pad_token_id = pad_token_id
        self.batch_size = batch_size

    def complete(self, requests: Sequence[CompletionRequest]) -> list[CompletionResult]:
        """Generate every request; results in the requests' order."""
        groups: dict[tuple[object, ...], list[int]] = {}
        for i, r in enumerate(requests):
            key = (r.max_tokens, r.min_tokens, r.stop_token_ids, r.banned_token_ids)
            groups.setdefault((*key, r.temperature, r.top_p), []).append(i)
        calls = []
        for indices in groups.values():
            indices.sort(key=lambda i: -len(requests[i].prompt))
            calls += [
                indices[k : k + self.batch_size] for k in range(0, len(indices), self.batch_size)
            ]
        # No bar of its own: the round driver (Continuation) shows progress over samples.
        results: list[CompletionResult | None] = [None] * len(requests)
        for call in calls:
            for i, result in zip(call, self._call([requests[i] for i in call]), strict=True):
                results[i] = result
        return results  # type: ignore[return-value]

    def _call(self, requests: list[CompletionRequest]) -> list[CompletionResult]:
        first = requests[0]
        rows = []
        for r in requests:
            if isinstance(r.prompt, str):
                raise EngineError("the transformers engine takes token-id prompts")
            rows.append(list(r.prompt))
        input_ids, attention_mask = _left_pad(rows, self.pad_token_id, self.model.device)
        stop = list(first.stop_token_ids)
        options: dict[str, bool | float | None]
        options = {"do_sample": False, "temperature": None, "top_p": None}
        if first.temperature > 0:
            options = {"do_sample": True, "temperature": first.temperature, "top_p": first.top_p}
        devices = [self.model.device] if self.model.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            if first.temperature > 0:
                torch.manual_seed(sum(r.seed or 0 for r in requests))
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                max_new_tokens=first.max_tokens,
                min_new_tokens=first.min_tokens or None,
                eos_token_id=stop or None,
                pad_token_id=self.pad_token_id,
                suppress_tokens=list(first.banned_token_ids) or None,
                num_beams=1,
                top_k=None,
                **options,
            )
        stops = set(stop)
        results = []
        for row in out[:, input_ids.shape[1] :].tolist():
            end = next((k for k, t in enumerate(row) if t in stops), None)
            ids = row[: end + 1] if end is not None else row[: first.max_tokens]
            results.append(
                CompletionResult(
                    text="",
                    num_tokens=len(ids),
                    finish_reason="stop" if end is not None else "length",
                    token_ids=tuple(ids),
                )
            )
        return results


def _left_pad(
    rows: list[list[int]], pad: int, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    # Padded by hand rather than by the tokenizer, so the caller's tokenizer is never mutated
    # (padding_side, a missing pad token).
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), pad, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        input_ids[i, width - len(r) :] = torch.tensor(r, dtype=torch.long)
        attention_mask[i, width - len(r) :] = 1
    return input_ids.to(device), attention_mask.to(device)


def _resolve_dtype(dtype: str | torch.dtype | None) -> torch.dtype | str | None:
    if dtype is None or isinstance(dtype, torch.dtype) or dtype == "auto":
        return dtype
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise ConfigError(
            f"dtype {dtype!r} is not a torch dtype; use e.g. 'bfloat16', 'float16', 'float32' or "
            "'auto'."
        )
    return value


def _looks_local(source: str) -> bool:
    """A path, not a hub id (``owner/name``): absolute, relative with ``./``, or deeper."""
    return (
        source.startswith(("/", "./", "../", "~", "\\"))
        or source.count("/") > 1
        or (len(source) > 1 and source[1] == ":")
    )


def _load_model(source: str, dtype: torch.dtype | str | None) -> PreTrainedModel:
    kwargs = {"dtype": dtype} if dtype is not None else {}
    if _looks_local(source) and not Path(source).expanduser().exists():
        raise DataError(
            f"no model folder {source!r} (relative paths start at {Path.cwd()}); give a folder "
            "with config.json and weights (model.save_pretrained(folder)), or a hub name such "
            "as 'Qwen/Qwen2.5-0.5B-Instruct'."
        )
    try:
        return AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:  # no weights; a config without model_type
        raise DataError(
            f"cannot load the model {source!r}: {exc}. Give a local folder with config.json and "
            "weights, or a hub name (with HF_HUB_OFFLINE=1 it must already be in the cache)."
        ) from exc
