"""Supervised fine-tuning on reasoning traces, over TRL's ``SFTTrainer``: the ``full`` trainer.

Each trace row is rendered through the student format into a prompt (the chat template's user turn)
and a completion (``think_start``, thinking, ``think_end``, answer, end of turn). TRL trains on the
completion only, so the loss covers exactly the thinking and the answer, as in s1, whatever the
model's chat template looks like: no ``{% generation %}`` markers are needed (docs/training.md says
why tinyreason offers no ``messages`` / ``assistant_only_loss`` mode).

Every hyperparameter left unset comes from a preset (``s1`` by default: 5 epochs, lr 1e-5, 5%
warm-up then cosine, AdamW betas (0.9, 0.95), weight decay 1e-4, global batch 16 on any number of
devices, block size 32,768); :mod:`tinyreason.training.presets` lists them.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ConfigError, DataError
from ..students.formats import ThinkFormat
from ._runtime import TokenCounter, all_ranks, checkpoint_step, find_checkpoint, unwrap_selection
from .base import TrainedStudent
from .config import rank, sft_config, world_size
from .estimate import DEFAULT_MFU, gpu_key
from .preflight import (
    PreflightReport,
    TruncationWarning,
    count_parameters,
    run_preflight,
    token_lengths,
    tokenized_rows,
)
from .presets import preset

__all__ = ["FullTrainer", "SFTTrainerBase"]

logger = logging.getLogger("tinyreason.training")

_SAVE_STRATEGIES = ("no", "steps", "epoch")
_DTYPES = ("float32", "bfloat16", "float16")


def _resolve_format(fmt: Any) -> ThinkFormat:
    from ..students.protocol import as_think_format

    if isinstance(fmt, str):
        from ..registry import build

        fmt = build("student", fmt)
    return as_think_format(fmt)  # a plugin's format through its Protocol alone


@dataclass(frozen=True)
class SFTTrainerBase:
    """What the ``full`` and ``lora`` trainers share: data rendering, preflight, TRL, the card.

    Args:
        base: A model folder or hub id to start from.
        format: Student format name or object; the scalers must use the same one later.
        output_dir: Where to save the student; a ``runs/`` folder named after the base if None.
        preset: Where unset hyperparameters come from (``"s1"``, ``"s1-lora"``).
        epochs: Passes over the data (ignored when ``max_steps`` is set).
        max_steps: Optimiser steps to run; a fixed count makes runs comparable across machines.
        learning_rate: Peak learning rate.
        batch_size: Global batch (sequences per optimiser step), kept on any device count by
            gradient accumulation. With ``packing`` a sequence is a packed block of rows.
        per_device_batch_size: Sequences per forward pass on each device.
        warmup_ratio: Share of steps with linear warm-up.
        min_lr_ratio: The cosine decay's floor as a share of the peak (s1: 0).
        weight_decay: AdamW weight decay.
        adam_betas: AdamW betas.
        max_grad_norm: Gradient clipping.
        block_size: Longest sequence in tokens; longer rows are truncated (s1: 32,768).
        packing: Pack rows into blocks of ``block_size`` (TRL's best-fit decreasing, rows kept
            whole and apart), with no padding.
        padding_free: Flatten each batch into one sequence without padding (rows are not
            truncated: each must fit ``block_size``).
        attn_implementation: The model's attention (None: transformers' default, sdpa);
            ``"flash_attention_2"`` on a GPU for long packed blocks.
        group_by_length: Batch rows of similar length together (less padding).
        seed: Seed of data order and dropout.
        bf16: Compute in bfloat16 (autocast); None picks it on a GPU that supports it.
        model_dtype: The weights' dtype in memory: ``"float32"``, ``"bfloat16"``... None keeps
            float32 master weights for full fine-tuning (at s1's lr of 1e-5 most bf16 weights
            would not move: an update below 1/256 of a weight rounds away) and a bfloat16 frozen
            base for LoRA when ``bf16`` is on.
        gradient_checkpointing: Recompute activations to save memory; None enables it on a GPU.
        save_strategy: ``"no"``, ``"steps"`` or ``"epoch"``; None is ``"steps"`` when
            ``save_steps`` is set, else ``"no"``.
        save_steps: Save a checkpoint every this many steps.
        save_total_limit: Keep at most this many checkpoints.
        resume_from_checkpoint: True resumes from the latest checkpoint in ``output_dir``; a path
            resumes from that checkpoint.
        logging_steps: Log the loss every this many steps.
        progress: Show a progress bar.
    """

    base: str | Path
    format: Any = "qwen-s1"
    output_dir: str | Path | None = None
    preset: str = "s1"
    epochs: float | None = None
    max_steps: int | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    per_device_batch_size: int | None = None
    warmup_ratio: float | None = None
    min_lr_ratio: float | None = None
    weight_decay: float | None = None
    adam_betas: tuple[float, float] | None = None
    max_grad_norm: float | None = None
    block_size: int | None = None
    packing: bool = False
    padding_free: bool = False
    attn_implementation: str | None = None
    group_by_length: bool = False
    seed: int = 0
    bf16: bool | None = None
    model_dtype: str | None = None
    gradient_checkpointing: bool | None = None
    save_strategy: str | None = None
    save_steps: int | None = None
    save_total_limit: int | None = None
    resume_from_checkpoint: bool | str | None = None
    logging_steps: int = 10
    progress: bool = True
    _format: ThinkFormat = field(init=False, repr=False, compare=False)

    name: ClassVar[str] = "sft"
    is_lora: ClassVar[bool] = False

    def __post_init__(self) -> None:
        for key, value in preset(self.preset).items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)
        if not isinstance(self.adam_betas, tuple):
            object.__setattr__(self, "adam_betas", tuple(self.adam_betas))
        if self.save_strategy is None:
            object.__setattr__(self, "save_strategy", "steps" if self.save_steps else "no")
        problems = self._problems()
        if problems:
            raise ConfigError(problems)
        object.__setattr__(self, "_format", _resolve_format(self.format))

    def _problems(self) -> list[str]:
        """Every invalid option, each with its fix (subclasses add theirs)."""
        problems = []
        if self.max_steps is not None and self.max_steps < 1:
            problems.append(f"max_steps must be >= 1, got {self.max_steps}")
        if self.epochs <= 0:
            problems.append(f"epochs must be > 0, got {self.epochs}")
        for name in ("learning_rate", "batch_size", "per_device_batch_size", "block_size"):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be > 0, got {getattr(self, name)}")
        if self.batch_size % self.per_device_batch_size:
            problems.append(
                f"batch_size ({self.batch_size}) must be a multiple of per_device_batch_size "
                f"({self.per_device_batch_size})"
            )
        if not 0 <= self.warmup_ratio < 1:
            problems.append(f"warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if not 0 <= self.min_lr_ratio < 1:
            problems.append(f"min_lr_ratio must be in [0, 1), got {self.min_lr_ratio}")
        if len(self.adam_betas) != 2:
            problems.append(f"adam_betas must be two numbers, got {self.adam_betas}")
        if self.save_strategy not in _SAVE_STRATEGIES:
            problems.append(
                f"save_strategy must be one of {', '.join(_SAVE_STRATEGIES)}, got "
                f"{self.save_strategy!r}"
            )
        if self.model_dtype not in (None, *_DTYPES):
            problems.append(
                f"model_dtype must be one of {', '.join(_DTYPES)} or None, got {self.model_dtype!r}"
            )
        if self.save_steps is not None and self.save_steps < 1:
            problems.append(f"save_steps must be >= 1, got {self.save_steps}")
        return problems

    # -- data --------------------------------------------------------------------------------

    def examples(self, dataset: Any, tokenizer: Any) -> Any:
        """Render a traces Dataset into TRL prompt/completion rows through the student format.

        Raises:
            DataError: rows lack thinking or an answer (the message names the first ones).
        """
        from datasets import Dataset

        dataset, _ = unwrap_selection(dataset, None)
        missing = [
            c
            for c in ("question", "thinking_trajectories", "attempt")
            if c not in dataset.column_names
        ]
        if missing:
            raise DataError(
                f"the training Dataset lacks {missing}; it needs traces: distil with a teacher "
                "(tr.teacher(...).distill) or load a traces set such as s1K."
            )
        rows, empty = [], []
        for i, row in enumerate(dataset):
            thinking = row["thinking_trajectories"]
            thinking = "\n".join(thinking) if isinstance(thinking, list) else (thinking or "")
            answer = row["attempt"] or ""
            if not thinking.strip() or not answer.strip():
                empty.append(i)
                continue
            rows.append(self._format.training_example(tokenizer, row["question"], thinking, answer))
        if empty:
            raise DataError(
                f"{len(empty)} row(s) have no thinking or no answer (first: {empty[:5]}); "
                "drop them first, e.g. tr.select(ds, tr.selector('quality'))."
            )
        if not rows:
            raise DataError("the training Dataset holds no rows.")
        return Dataset.from_list(rows)

    # -- checks ------------------------------------------------------------------------------

    def _check_runtime(self, on_gpu: bool) -> None:
        """Settings that depend on the machine (subclasses add theirs)."""

    def _prepare(
        self, dataset: Any, gpu: str | None, mfu: float, on_gpu: bool
    ) -> tuple[Any, Any, PreflightReport, Any]:
        from transformers import AutoTokenizer

        self._check_runtime(on_gpu)
        tokenizer = AutoTokenizer.from_pretrained(str(self.base))
        self._format.tokens(tokenizer)  # delimiters must fit the tokenizer: fail before compute
        examples = self.examples(dataset, tokenizer)
        parameters = count_parameters(str(self.base)) if gpu else None
        tokens = token_lengths(tokenizer, examples)
        with warnings.catch_warnings():
            if rank() != 0:  # one warning per run, not one per process
                warnings.simplefilter("ignore", TruncationWarning)
            report = run_preflight(
                self,
                examples,
                tokenizer,
                on_gpu=on_gpu,
                parameters=parameters,
                gpu=gpu,
                mfu=mfu,
                tokens=tokens,
            )
        return tokenizer, examples, report, tokenized_rows(tokens[0], tokens[3])

    def preflight(
        self, dataset: Any, *, gpu: str | None = None, mfu: float = DEFAULT_MFU
    ) -> PreflightReport:
        """Check a traces Dataset (or Selection) against these settings, without training.

        Args:
            dataset: The traces to train on.
            gpu: GPU type for the GPU-hours estimate; None uses this machine's GPU, or H100.
            mfu: Assumed model FLOPs utilisation for the estimate.

        Raises:
            DataError: rows lack thinking or answers, or would train on nothing.
            ConfigError: the format does not fit the tokenizer, the block size is shorter than
                every row, the end of turn is not trained, or batching breaks the masking.
        """
        import torch

        on_gpu = torch.cuda.is_available()
        return self._prepare(dataset, gpu or _local_gpu(on_gpu), mfu, on_gpu)[2]

    # -- training ----------------------------------------------------------------------------

    def _dtype(self, args: Any) -> Any:
        """The weights' dtype: float32 master weights unless ``model_dtype`` says otherwise."""
        import torch

        # bf16 compute comes from the Trainer's autocast; the optimiser updates float32 weights.
        return getattr(torch, self.model_dtype or "float32")

    def _load_model(self, args: Any, on_gpu: bool) -> Any:
        from transformers import AutoModelForCausalLM

        kwargs: dict[str, Any] = {"dtype": self._dtype(args)}
        if self.attn_implementation:
            kwargs["attn_implementation"] = self.attn_implementation
        return AutoModelForCausalLM.from_pretrained(str(self.base), **kwargs)

    def _peft_config(self) -> Any:
        return None

    def _finish(self, trainer: Any, output_dir: Path, args: Any) -> None:
        """Save the model into ``output_dir`` (all ranks: saving a sharded model is collective)."""
        trainer.save_model(str(output_dir))

    def _hyperparameters(self, args: Any) -> dict[str, Any]:
        values = {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in asdict(self).items()
            if k != "format" and not k.startswith("_")
        }
        return values | {
            "trainer": self.name,
            "format": self._format.name,
            "max_steps": args.max_steps if args.max_steps > 0 else None,
            "gradient_accumulation_steps": args.gradient_accumulation_steps,
            "world_size": world_size(),
            "bf16": args.bf16,
            "model_dtype": str(self._dtype(args)).removeprefix("torch."),
            "gradient_checkpointing": bool(args.activation_checkpointing),
            "lr_scheduler": str(getattr(args.lr_scheduler_type, "value", args.lr_scheduler_type)),
        }

    def _output_dir(self) -> Path:
        # Named after the trainer, so a full and a LoRA run of one base do not overwrite each other.
        return Path(self.output_dir or Path("runs") / f"{Path(str(self.base)).name}-{self.name}")

    def sft_trainer(self, dataset: Any) -> Any:
        """The configured TRL ``SFTTrainer``, after preflight, ready to train (not trained).

        For inspection (its batches, its collator) or to add callbacks before ``.train()``; the
        usual path is :meth:`train`, which also saves the student, its manifest and card.

        Raises:
            DataError, ConfigError: as :meth:`preflight`.
        """
        import torch
        from trl import SFTTrainer

        on_gpu = torch.cuda.is_available()
        dataset, _ = unwrap_selection(dataset, None)
        gpu = _local_gpu(on_gpu)
        tokenizer, examples, report, rows = self._prepare(dataset, gpu, DEFAULT_MFU, on_gpu)
        args = sft_config(
            self, self._output_dir(), len(examples), on_gpu, self._format.eot(tokenizer)
        )
        if rank() == 0:
            logger.info("%r", report)
            logger.info("effective hyperparameters: %s", self._hyperparameters(args))
        trainer = SFTTrainer(
            model=self._load_model(args, on_gpu),
            args=args,
            train_dataset=rows,  # tokenized: trained exactly as rendered (no EOS added)
            processing_class=tokenizer,
            peft_config=self._peft_config(),
        )
        trainer.data_collator = TokenCounter(trainer.data_collator)
        return trainer

    def train(self, dataset: Any, *, selection: Any = None) -> TrainedStudent:
        """Check, fine-tune on a traces Dataset (or Selection) and save the student.

        Args:
            dataset: The traces; a Selection trains on its kept rows and records its funnel.
            selection: The Selection the rows came from, for the model card.

        Returns:
            The saved student with its metrics and effective hyperparameters.
        """
        from .card import data_manifest, write_model_card

        dataset, selection = unwrap_selection(dataset, selection)
        output_dir = self._output_dir()
        checkpoint = find_checkpoint(output_dir, self.resume_from_checkpoint)
        trainer = self.sft_trainer(dataset)
        start = time.perf_counter()
        result = trainer.train(resume_from_checkpoint=checkpoint)
        runtime = time.perf_counter() - start
        per_rank = all_ranks(trainer.data_collator.counts())  # collective: every rank
        self._finish(trainer, output_dir, trainer.args)
        metrics = _metrics(trainer, result.training_loss, runtime, per_rank)
        metrics["resumed_from_step"] = float(checkpoint_step(checkpoint))
        hyperparameters = self._hyperparameters(trainer.args)
        data = data_manifest(dataset, selection)
        student = TrainedStudent(
            output_dir, self._format, str(self.base), metrics, hyperparameters, data
        )
        if trainer.is_world_process_zero():
            trainer.processing_class.save_pretrained(str(output_dir))
            student.save_manifest()
            write_model_card(
                output_dir,
                base=str(self.base),
                trainer_name=self.name,
                format_name=self._format.name,
                data=data,
                hyperparameters=hyperparameters,
                metrics=metrics,
                adapter=self.is_lora and not getattr(self, "merge", False),
            )
        trainer.accelerator.wait_for_everyone()  # every rank returns once the folder is complete
        return student


def _metrics(
    trainer: Any, train_loss: float, runtime: float, per_rank: list[dict[str, int]]
) -> dict[str, Any]:
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    tokens = sum(r["tokens"] for r in per_rank)
    return {
        "train_loss": float(train_loss),
        # The last logged loss is already a mean over its logging window; a run shorter than
        # logging_steps logged none, and then its mean loss is the best figure there is.
        "final_loss": float(losses[-1]) if losses else float(train_loss),
        "steps": float(trainer.state.global_step),
        "runtime_s": runtime,
        "examples": float(len(trainer.train_dataset)),
        "tokens": float(tokens),
        "trained_tokens": float(sum(r["trained"] for r in per_rank)),
        "tokens_per_s": tokens / runtime if runtime > 0 else math.nan,
        "padding_fraction": 1 - tokens / max(1, sum(r["slots"] for r in per_rank)),
        "tokens_per_rank": [r["tokens"] for r in per_rank],
        # (step, loss) at every logging step: the training curve, for plots and for checks.
        "loss_curve": [
            [int(e["step"]), float(e["loss"])] for e in trainer.state.log_history if "loss" in e
        ],
    }


@dataclass(frozen=True)
class FullTrainer(SFTTrainerBase):
    """Full fine-tuning of every weight of a causal LM on a traces Dataset.

    Takes every option of :class:`SFTTrainerBase`; LoRA options belong to the ``lora`` trainer.

    Example:
        >>> import tinyreason as tr
        >>> trainer = tr.trainer("full", base="Qwen/Qwen2.5-0.5B-Instruct", format="qwen-s1")
        >>> trainer.batch_size, trainer.learning_rate, trainer.block_size
        (16, 1e-05, 32768)
        >>> tr.trainer("full", base="m", preset="s1", learning_rate=2e-5).learning_rate
        2e-05
        >>> report = trainer.preflight(traces)  # doctest: +SKIP
    """

    name: ClassVar[str] = "full"


def _local_gpu(on_gpu: bool) -> str:
    """The table key of this machine's GPU, or H100 (s1's GPU) when none or unknown."""
    if on_gpu:
        import torch

        try:
            return gpu_key(torch.cuda.get_device_name(0))
        except ConfigError:
            pass
    return "H100"
