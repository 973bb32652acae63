"""Pre-flight checks: find what would make a training run silently wrong, before any compute.

TRL fails silently in several ways (``reference/peers.md``, TRL row): rows whose loss mask is empty
are dropped without a word, truncation cuts the end-of-turn token so the student never learns to
stop, and packing can let sequences attend to each other. s1 measured what truncation costs: at
a block of 4,096 tokens (74% of rows cut), AIME fell from 50% to 30%. The checks here tokenize the
rows exactly as TRL 1.16 does for prompt/completion data (the prompt alone, then prompt +
completion; the completion starts where they diverge) and count what each row would train on.
"""

from __future__ import annotations

import json
import statistics
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ConfigError, DataError, TinyReasonError
from .estimate import DEFAULT_MFU, GpuEstimate, estimate_gpu_hours

__all__ = ["TRUNCATION_WARN_FRACTION", "PreflightReport", "TruncationWarning", "run_preflight"]

#: Warn when more rows than this are truncated (s1: 74% truncated cost 20 points of AIME).
TRUNCATION_WARN_FRACTION = 0.05

#: Attention implementations that keep packed sequences apart. Flash attention reads TRL's
#: ``cu_seq_lens``; sdpa / eager / flex build a block-diagonal mask from ``position_ids`` (checked
#: numerically in tests/training/test_packing.py).
_FLASH = ("flash_attention_2", "flash_attention_3")
_MASKED = ("sdpa", "eager", "flex_attention")


class TruncationWarning(TinyReasonError, UserWarning):
    """More rows than :data:`TRUNCATION_WARN_FRACTION` are longer than the block size.

    Example:
        >>> issubclass(TruncationWarning, UserWarning)
        True
    """


@dataclass(frozen=True)
class PreflightReport:
    """What a training run would train on, and what is wrong with it.

    Attributes:
        rows: Training rows.
        block_size: Longest sequence in tokens.
        batching: ``"padded"``, ``"padding-free"`` or ``"packed"`` (TRL's best-fit decreasing).
        prompt_tokens: Prompt tokens over all rows (not trained).
        completion_tokens: Completion tokens (thinking, answer, end of turn) before truncation.
        total_tokens: Prompt plus completion tokens before truncation.
        kept_tokens: Prompt plus completion tokens after truncation (what an epoch computes).
        trained_tokens: Tokens with a loss after truncation.
        row_tokens: ``min``, ``median`` and ``max`` tokens per row.
        truncated_rows: Rows longer than the block size (they lose their end).
        epochs: Passes over the data the run makes (from ``max_steps`` when set).
        estimate: GPU-hours for the whole run, when the model's size is known.
        warnings: Problems that do not stop training.

    Example:
        >>> report = PreflightReport(2, 64, "padded", 20, 40, 60, 60, 40,
        ...                          {"min": 25, "median": 30, "max": 35}, 0)
        >>> report.truncated_fraction
        0.0
        >>> json.loads(report.to_json())["trained_tokens"]
        40
    """

    rows: int
    block_size: int
    batching: str
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    kept_tokens: int
    trained_tokens: int
    row_tokens: dict[str, float]
    truncated_rows: int
    epochs: float = 1.0
    estimate: GpuEstimate | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def truncated_fraction(self) -> float:
        """Share of rows longer than the block size."""
        return self.truncated_rows / self.rows if self.rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy (with ``truncated_fraction``)."""
        data = asdict(self)
        data["estimate"] = self.estimate.to_dict() if self.estimate else None
        data["warnings"] = list(self.warnings)
        data["truncated_fraction"] = self.truncated_fraction
        return data

    def to_json(self) -> str:
        """The report as JSON."""
        return json.dumps(self.to_dict(), indent=2)

    def __repr__(self) -> str:
        r = self.row_tokens
        lines = [
            f"Preflight: {self.rows:,} rows, block {self.block_size:,} tokens, "
            f"{self.batching} batches, {self.epochs:g} epochs",
            f"  tokens     prompt {self.prompt_tokens:,}  completion {self.completion_tokens:,}  "
            f"total {self.total_tokens:,}",
            f"  after cut  kept {self.kept_tokens:,}  trained {self.trained_tokens:,}",
            f"  per row    min {r['min']:,.0f}  median {r['median']:,.0f}  max {r['max']:,.0f}",
            f"  truncated  {self.truncated_rows:,} rows ({self.truncated_fraction:.1%})",
        ]
        if self.estimate:
            lines.append(
                f"  estimate   {self.estimate}; {self.estimate.parameters:,} parameters, "
                f"{self.estimate.tokens:,} tokens"
            )
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def token_lengths(
    tokenizer: Any, examples: Any
) -> tuple[list[int], list[int], int, list[list[int]]]:
    """Per row: prompt tokens (where the completion starts) and total tokens, as TRL counts them.

    Returns:
        The prompt lengths, the total lengths, the number of rows whose tokenized prompt is not a
        prefix of prompt + completion (TRL then drops the prompt's diverging tail), and the ids of
        prompt + completion.
    """
    prompts = list(examples["prompt"])
    full = [p + c for p, c in zip(prompts, examples["completion"], strict=True)]
    prompt_ids = tokenizer(prompts)["input_ids"]
    full_ids = tokenizer(full)["input_ids"]
    starts = [_common_prefix(p, f) for p, f in zip(prompt_ids, full_ids, strict=True)]
    diverging = sum(s < len(p) for s, p in zip(starts, prompt_ids, strict=True))
    return starts, [len(f) for f in full_ids], diverging, full_ids


def tokenized_rows(starts: Sequence[int], full_ids: Sequence[Sequence[int]]) -> Any:
    """The rows TRL trains on, tokenized here: ``input_ids`` and ``completion_mask``.

    Handing TRL tokenized rows keeps the trained text exactly the rendered one: given text, TRL
    appends its EOS to every completion that does not end with it, which would add a second end
    of turn after s1's ``<|im_end|>\\n``. The tokenization is TRL's own (the prompt alone, then
    prompt + completion; the completion starts where they diverge), from :func:`token_lengths`.

    Example:
        >>> rows = tokenized_rows([2], [[5, 6, 7, 8]])
        >>> rows[0]["completion_mask"]
        [0, 0, 1, 1]
    """
    from datasets import Dataset

    return Dataset.from_dict(
        {
            "input_ids": [list(ids) for ids in full_ids],
            "completion_mask": [
                [0] * s + [1] * (len(ids) - s) for s, ids in zip(starts, full_ids, strict=True)
            ],
        }
    )


def _rows_text(indices: Sequence[int]) -> str:
    shown = ", ".join(str(i) for i in indices[:5])
    return shown + (f" and {len(indices) - 5} more" if len(indices) > 5 else "")


def _check_batching(trainer: Any, on_gpu: bool, longest: int) -> list[str]:
    problems: list[str] = []
    if not (trainer.packing or trainer.padding_free):
        return problems
    impl = trainer.attn_implementation or "sdpa"
    what = "packing=True" if trainer.packing else "padding_free=True"
    if impl in _FLASH and not on_gpu:
        problems.append(
            f"{what} with attn_implementation={impl!r} needs a CUDA GPU; on CPU leave "
            "attn_implementation unset (sdpa keeps packed sequences apart through position_ids)."
        )
    elif impl in _MASKED:
        from transformers import masking_utils

        # transformers builds a block-diagonal mask from position_ids only since the 4.5x
        # masking rewrite; without it packed rows would attend to each other, silently.
        if not hasattr(masking_utils, "find_packed_sequence_indices"):
            problems.append(
                f"{what}: this transformers cannot keep packed sequences apart with {impl!r}; "
                "upgrade transformers, use attn_implementation='flash_attention_2' on a GPU, or "
                "train with padded batches (packing=False, padding_free=False)."
            )
    elif impl not in _FLASH:
        problems.append(
            f"{what}: attn_implementation={impl!r} is not known to keep packed sequences apart; "
            f"use one of {', '.join(_FLASH + _MASKED)}."
        )
    if trainer.padding_free and not trainer.packing and longest > trainer.block_size:
        problems.append(
            f"padding_free=True without packing does not truncate (TRL flattens whole rows), and "
            f"the longest row has {longest:,} tokens > block_size {trainer.block_size:,}: raise "
            "block_size, drop the long rows, or use packing=True (which truncates them)."
        )
    return problems


def run_preflight(
    trainer: Any,
    examples: Any,
    tokenizer: Any,
    *,
    on_gpu: bool,
    parameters: int | None = None,
    gpu: str | None = "H100",
    mfu: float = DEFAULT_MFU,
    warn_above: float = TRUNCATION_WARN_FRACTION,
    tokens: tuple[list[int], list[int], int, list[list[int]]] | None = None,
) -> PreflightReport:
    """Check rendered prompt/completion rows against a trainer's settings.

    Args:
        trainer: The trainer (its ``block_size``, ``packing``, ``padding_free``,
            ``attn_implementation``, ``epochs``, ``max_steps``, ``batch_size`` and ``_format``).
        examples: Rows with ``prompt`` and ``completion`` (``trainer.examples(...)``).
        tokenizer: The base model's tokenizer.
        on_gpu: Whether training will run on a CUDA GPU.
        parameters: The model's parameter count, for the estimate (None: no estimate).
        gpu: GPU type for the estimate (None: no estimate).
        mfu: Assumed model FLOPs utilisation for the estimate.
        warn_above: Warn when a larger share of rows is truncated.
        tokens: :func:`token_lengths` of the rows, when the caller has them already.

    Raises:
        ConfigError: the block size is shorter than every row, the end of turn is not trained,
            or the batching settings cannot keep the masking right.
        DataError: some rows would train on nothing (their prompt fills the block).
    """
    block = trainer.block_size
    eot_id = trainer._format.tokens(tokenizer).end_of_turn[0]
    starts, totals, diverging, full_ids = tokens or token_lengths(tokenizer, examples)
    n = len(totals)
    problems: list[str] = []
    shortest = min(totals)
    if shortest > block:
        problems.append(
            f"block_size {block:,} is shorter than every row (shortest {shortest:,} tokens, median "
            f"{statistics.median(totals):,.0f}): every row would be truncated. Raise block_size "
            "(s1 used 32,768)."
        )
    trained = [max(0, min(t, block) - s) for s, t in zip(starts, totals, strict=True)]
    empty = [i for i, k in enumerate(trained) if k == 0]
    untrained_eot = [
        i
        for i, (s, t, ids) in enumerate(zip(starts, totals, full_ids, strict=True))
        if t <= block and eot_id not in ids[s:]
    ]
    if untrained_eot:
        problems.append(
            f"the end-of-turn token {tokenizer.convert_ids_to_tokens(eot_id)!r} is outside the "
            f"trained span of row(s) {_rows_text(untrained_eot)}: the student would never learn "
            "to stop. Check the format's end_of_turn against the tokenizer's chat template."
        )
    problems += _check_batching(trainer, on_gpu, max(totals))
    if problems:
        raise ConfigError(problems)
    if empty:
        raise DataError(
            f"{len(empty)} row(s) would train on nothing: their prompt fills the block of "
            f"{block:,} tokens (rows {_rows_text(empty)}; TRL would drop them silently). Raise "
            "block_size or drop those rows."
        )
    notes = []
    truncated = sum(t > block for t in totals)
    if n and truncated / n > warn_above:
        notes.append(
            f"{truncated} of {n} rows ({truncated / n:.0%}) are longer than block_size {block:,} "
            f"and lose their end, end of turn included (s1: truncating 74% of rows at 4,096 tokens "
            f"cut AIME from 50% to 30%). Raise block_size to at least {max(totals):,}."
        )
        warnings.warn(notes[-1], TruncationWarning, stacklevel=4)  # the caller of preflight()
    if diverging:
        notes.append(
            f"{diverging} row(s): the tokenized prompt is not a prefix of prompt + completion (the "
            "chat template renders the prompt differently, or tokens merge at the boundary); TRL "
            "starts the completion where they diverge."
        )
    epochs = trainer.epochs
    if trainer.max_steps is not None:
        epochs = trainer.max_steps * trainer.batch_size / n
        if trainer.packing:  # a packed sequence holds many rows: bound by full blocks
            epochs = min(epochs, trainer.max_steps * trainer.batch_size * block / sum(totals))
    tokens_per_epoch = sum(min(t, block) for t in totals)
    estimate = None
    if parameters and gpu:
        lora = getattr(trainer, "is_lora", False)
        run_tokens = round(tokens_per_epoch * epochs)
        estimate = estimate_gpu_hours(parameters, run_tokens, gpu=gpu, mfu=mfu, lora=lora)
    batching = "padded"
    if trainer.packing or trainer.padding_free:
        batching = "packed" if trainer.packing else "padding-free"
    return PreflightReport(
        rows=n,
        block_size=block,
        batching=batching,
        prompt_tokens=sum(starts),
        completion_tokens=sum(t - s for s, t in zip(starts, totals, strict=True)),
        total_tokens=sum(totals),
        kept_tokens=tokens_per_epoch,
        trained_tokens=sum(trained),
        row_tokens={"min": shortest, "median": statistics.median(totals), "max": max(totals)},
        truncated_rows=truncated,
        epochs=round(epochs, 4),
        estimate=estimate,
        warnings=tuple(notes),
    )


def count_parameters(base: str) -> int | None:
    """The parameter count of a model folder or hub id, built on the meta device (no weights read).

    Returns None when the config cannot be read (an estimate is then skipped, not an error).
    """
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        config = AutoConfig.from_pretrained(base)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
        return sum(p.numel() for p in model.parameters())
    except Exception:  # an estimate is a nicety; never let it stop training
        return None
