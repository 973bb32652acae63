"""A :class:`~tinyreason.interfaces.Backend` over ``transformers``: budget forcing in one call.

Each batch of prompts is one ``model.generate()`` call: left-padded, with every sample of every
prompt as its own row, and a :class:`~tinyreason.scaling.processor.ThinkingProcessor` enforcing
the thinking control and choosing (greedy or sampled) tokens, so no row is ever restarted or
re-prefilled and the KV cache is kept throughout.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, LogitsProcessorList, PreTrainedModel

from ..errors import ConfigError, DataError
from ..records import Generation
from ..students.formats import ThinkFormat
from .common import check_generate_args, find_ids, load_tokenizer, resolve_format
from .control import ThinkingControl
from .processor import ControlIds, RowStats, ThinkingProcessor, control_ids

__all__ = ["TransformersBackend"]


class TransformersBackend:
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
        batch_size: Prompts per ``generate`` call; each call holds ``batch_size * n`` rows.
        progress: Show a progress bar over batches; None shows it only on a terminal.

    Raises:
        DataError: the tokenizer has no chat template.
        ConfigError: the format's delimiters do not fit the tokenizer, or an option is invalid.

    Notes:
        With ``temperature=0`` the ``n`` samples of a prompt would all be identical, so the prompt
        is generated once and its :class:`~tinyreason.Generation` repeated ``n`` times. Samples
        (``temperature > 0``) come from a ``torch.Generator`` seeded with ``seed``: the same
        prompts, options, ``batch_size`` and seed give the same samples. Prompts are batched
        longest first (less padding); results keep the prompts' order.

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
        tokenizer: Any = None,
        format: str | ThinkFormat | None = None,
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
        self._ids: dict[ThinkingControl | None, ControlIds] = {
            None: control_ids(None, self.format, self.tokenizer, extra_stop=extra)
        }
        self._extra_stop = extra
        self.end_of_turn = self.format.eot(self.tokenizer)
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.model.generation_config.pad_token_id
        self.pad_token_id = int(pad) if pad is not None else self._ids[None].end_of_turn

    def __repr__(self) -> str:
        name = getattr(self.model, "name_or_path", "") or type(self.model).__name__
        return f"TransformersBackend({name!r}, format={self.format.name!r}, device={self.device})"

    def describe(self) -> dict[str, Any]:
        """Describe the backend for a run's manifest (JSON-serialisable)."""
        return {
            "backend": "transformers",
            "model": getattr(self.model, "name_or_path", "") or type(self.model).__name__,
            "format": self.format.name,
            "device": str(self.device),
            "dtype": str(getattr(self.model, "dtype", "")),
            "batch_size": self.batch_size,
        }

    def prompt(self, question: str) -> str:
        """Render ``question`` with the chat template, ending with the format's ``think_start``."""
        return self.format.prompt(self.tokenizer, question)

    def control_ids(self, control: ThinkingControl | None) -> ControlIds:
        """Return the token ids a control needs in this tokenizer (cached)."""
        if control not in self._ids:
            self._ids[control] = control_ids(
                control, self.format, self.tokenizer, extra_stop=self._extra_stop
            )
        return self._ids[control]

    def generate(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 1024,
        control: ThinkingControl | None = None,
        seed: int | None = None,
        top_p: float = 1.0,
    ) -> list[list[Generation]]:
        """Return ``n`` generations per prompt, in prompt order; one ``generate`` call per batch.

        Args:
            prompts: Prompts from :meth:`prompt` (the text the model continues).
            n: Samples per prompt, all in the same ``generate`` call. Greedy samples would be
                identical, so with ``temperature=0`` one is generated and repeated ``n`` times.
            temperature: 0 for greedy decoding; above 0 samples.
            max_new_tokens: Tokens per sample at most, delimiters and answer included.
            control: The thinking control to enforce; None lets the model think freely (the
                thinking and answer are still split and counted using the format).
            seed: Seed for sampling; None draws a fresh one.
            top_p: Nucleus sampling mass (1.0: off).

        Raises:
            ConfigError: ``n``, ``temperature``, ``max_new_tokens``, ``top_p`` or ``control`` are
                invalid.
            DataError: ``prompts`` is not a sequence of strings.
        """
        check_generate_args(prompts, n, temperature, max_new_tokens, control, seed, top_p)
        if not prompts:
            return []
        ids = self.control_ids(control)
        encoded = [self.tokenizer.encode(p, add_special_tokens=False) for p in prompts]
        copies = n if temperature > 0 else 1
        generator = None
        if temperature > 0:
            generator = torch.Generator(device=self.device)
            if seed is None:
                generator.seed()
            else:
                generator.manual_seed(seed)
        order = sorted(range(len(prompts)), key=lambda i: -len(encoded[i]))
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        results: list[list[Generation]] = [[] for _ in prompts]

        from tqdm.auto import tqdm

        bar = tqdm(batches, desc="generate", unit="batch", disable=_disable(self.progress, batches))
        for batch in bar:
            rows = [encoded[i] for i in batch for _ in range(copies)]
            generations = self._generate_rows(
                rows, ids, control, temperature, top_p, max_new_tokens, generator
            )
            for k, i in enumerate(batch):
                samples = generations[k * copies : (k + 1) * copies]
                results[i] = samples * n if copies == 1 else samples
        return results

    def _generate_rows(
        self,
        rows: list[list[int]],
        ids: ControlIds,
        control: ThinkingControl | None,
        temperature: float,
        top_p: float,
        max_new_tokens: int,
        generator: torch.Generator | None,
    ) -> list[Generation]:
        input_ids, attention_mask = _left_pad(rows, self.pad_token_id, self.device)
        processor = None
        if control is not None or temperature > 0:
            processor = ThinkingProcessor(
                control, ids, temperature=temperature, top_p=top_p, generator=generator
            )
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                max_new_tokens=max_new_tokens,
                # The processor picks every token itself (greedy or sampled), so HF must only
                # take its single finite score; HF's own warpers stay off.
                do_sample=False,
                num_beams=1,
                temperature=None,
                top_p=None,
                top_k=None,
                eos_token_id=list(ids.stop),
                pad_token_id=self.pad_token_id,
                logits_processor=LogitsProcessorList([processor] if processor else []),
            )
        generated = out[:, input_ids.shape[1] :].tolist()
        width = out.shape[1] - input_ids.shape[1]
        if control is not None:
            assert processor is not None
            stats = processor.stats(width)
        else:
            stats = [_uncontrolled_stats(row, ids, self._separator_ids) for row in generated]
        return [self._generation(row, s) for row, s in zip(generated, stats, strict=True)]

    @property
    def _separator_ids(self) -> tuple[int, ...]:
        sep = self.format.answer_separator
        return tuple(self.tokenizer.encode(sep, add_special_tokens=False)) if sep else ()

    def _generation(self, row: list[int], stats: RowStats) -> Generation:
        # The end-of-turn token is not part of the text: finish_reason says how the turn ended.
        tokens = row[: stats.length - 1] if stats.finished else row[: stats.length]
        text = self.tokenizer.decode(
            tokens, skip_special_tokens=False, clean_up_tokenization_spaces=False
        )
        thinking, answer = self.format.parse(text, end_of_turn=self.end_of_turn)
        return Generation(
            text=text,
            thinking=thinking,
            answer_text=answer,
            thinking_tokens=stats.thinking_tokens,
            answer_tokens=stats.answer_tokens,
            finish_reason="stop" if stats.finished and not stats.answer_cut else "length",
            waits=stats.waits,
            forced_end=stats.forced_end,
        )


def _uncontrolled_stats(row: list[int], ids: ControlIds, separator: tuple[int, ...]) -> RowStats:
    """Count thinking and answer tokens of a free generation from its ids.

    Thinking is everything before the first ``think_end``; the answer is what follows it and the
    answer separator (when the model wrote exactly the separator's tokens), end of turn excluded.
    """
    stop = set(ids.stop)
    eot = next((i for i, t in enumerate(row) if t in stop), None)
    finished = eot is not None
    length = eot + 1 if eot is not None else len(row)
    body = row[:eot] if eot is not None else row
    end = find_ids(body, ids.think_end)
    if end < 0:
        return RowStats(len(body), 0, 0, False, finished, False, length)
    answer_start = end + len(ids.think_end)
    if separator and tuple(body[answer_start : answer_start + len(separator)]) == separator:
        answer_start += len(separator)
    return RowStats(end, len(body) - answer_start, 0, False, finished, False, length)


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


def _disable(progress: bool | None, batches: list) -> bool | None:
    if progress is None:
        return True if len(batches) <= 1 else None  # None: tqdm shows it on a terminal only
    return not progress


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


def _load_model(source: str, dtype: torch.dtype | str | None) -> PreTrainedModel:
    kwargs = {"dtype": dtype} if dtype is not None else {}
    try:
        return AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except OSError as exc:
        raise DataError(
            f"cannot load the model {source!r}: {exc}. Give a local folder with config.json and "
            "weights, or a hub name (with HF_HUB_OFFLINE=1 it must already be in the cache)."
        ) from exc
