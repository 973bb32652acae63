"""Supervised fine-tuning on reasoning traces, over TRL's ``SFTTrainer``.

Each trace row is rendered through the student format into a prompt (the chat template's user turn)
and a completion (``think_start``, thinking, ``think_end``, answer, end of turn). TRL trains on the
completion only, so the loss covers exactly the thinking and the answer, as in s1, whatever the
model's chat template looks like.

The defaults are s1's (``reference/s1.md`` section 2): 5 epochs, lr 1e-5, 5% warm-up then cosine,
AdamW betas (0.9, 0.95), weight decay 1e-4, global batch 16 on any number of devices.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError
from ..students.formats import ThinkFormat
from .base import TrainedStudent

__all__ = ["FullTrainer"]


def _resolve_format(fmt: str | ThinkFormat) -> ThinkFormat:
    if isinstance(fmt, ThinkFormat):
        return fmt
    from ..plugins import build

    return build("student", fmt)


@dataclass(frozen=True)
class FullTrainer:
    """Full fine-tuning of every weight of a causal LM on a traces Dataset.

    Args:
        base: A model folder or hub id to start from.
        format: Student format name or object; the scalers must use the same one later.
        output_dir: Where to save the student; a ``runs/`` folder named after the base if None.
        epochs: Passes over the data (ignored when ``max_steps`` is set).
        max_steps: Optimiser steps to run; a fixed count makes runs comparable across machines.
        learning_rate: Peak learning rate.
        batch_size: Global batch (sequences per optimiser step), kept on any device count by
            gradient accumulation.
        per_device_batch_size: Sequences per forward pass on each device.
        warmup_ratio: Share of steps with linear warm-up.
        min_lr_ratio: The cosine decay's floor as a share of the peak (s1: 0).
        weight_decay: AdamW weight decay.
        adam_betas: AdamW betas.
        max_grad_norm: Gradient clipping.
        block_size: Longest sequence in tokens; longer rows are truncated (s1: 32,768).
        group_by_length: Batch rows of similar length together (less padding).
        seed: Seed of data order and dropout.
        bf16: Train in bfloat16; None picks it on a GPU that supports it.
        gradient_checkpointing: Recompute activations to save memory; None enables it on a GPU.
        logging_steps: Log the loss every this many steps.
        progress: Show a progress bar.

    Example:
        >>> import tinyreason as tr
        >>> trainer = tr.trainer("full", base="Qwen/Qwen2.5-0.5B-Instruct", format="qwen-s1")
        >>> trainer.batch_size, trainer.learning_rate
        (16, 1e-05)
    """

    base: str | Path
    format: Any = "qwen-s1"
    output_dir: str | Path | None = None
    epochs: float = 5.0
    max_steps: int | None = None
    learning_rate: float = 1e-5
    batch_size: int = 16
    per_device_batch_size: int = 1
    warmup_ratio: float = 0.05
    min_lr_ratio: float = 0.0
    weight_decay: float = 1e-4
    adam_betas: tuple[float, float] = (0.9, 0.95)
    max_grad_norm: float = 1.0
    block_size: int = 32768
    group_by_length: bool = False
    seed: int = 0
    bf16: bool | None = None
    gradient_checkpointing: bool | None = None
    logging_steps: int = 10
    progress: bool = True
    _format: ThinkFormat = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
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
        if problems:
            raise ConfigError(problems)
        object.__setattr__(self, "_format", _resolve_format(self.format))

    # -- data --------------------------------------------------------------------------------

    def examples(self, dataset: Any, tokenizer: Any) -> Any:
        """Render a traces Dataset into TRL prompt/completion rows through the student format.

        Raises:
            DataError: rows lack thinking or an answer (the message names the first ones).
        """
        from datasets import Dataset

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
        return Dataset.from_list(rows)

    # -- training ----------------------------------------------------------------------------

    def _world_size(self) -> int:
        return int(os.environ.get("WORLD_SIZE", "1"))

    def _config(self, output_dir: Path, n_examples: int, on_gpu: bool) -> Any:
        from trl import SFTConfig

        world = self._world_size()
        per_step = self.per_device_batch_size * world
        if self.batch_size % per_step:
            raise ConfigError(
                f"batch_size {self.batch_size} is not a multiple of per_device_batch_size x "
                f"devices = {per_step}; change per_device_batch_size so the global batch stays "
                "exact."
            )
        accumulation = self.batch_size // per_step  # s1's own script silently dropped this
        steps = self.max_steps or math.ceil(self.epochs * n_examples / self.batch_size)
        bf16 = self.bf16 if self.bf16 is not None else on_gpu and _bf16_supported()
        checkpointing = (
            self.gradient_checkpointing if self.gradient_checkpointing is not None else on_gpu
        )
        scheduler, scheduler_kwargs = "cosine", None
        if self.min_lr_ratio > 0:
            scheduler, scheduler_kwargs = "cosine_with_min_lr", {"min_lr_rate": self.min_lr_ratio}
        return SFTConfig(
            output_dir=str(output_dir),
            max_steps=steps,
            per_device_train_batch_size=self.per_device_batch_size,
            gradient_accumulation_steps=accumulation,
            learning_rate=self.learning_rate,
            lr_scheduler_type=scheduler,
            lr_scheduler_kwargs=scheduler_kwargs,
            warmup_steps=self.warmup_ratio,
            weight_decay=self.weight_decay,
            adam_beta1=self.adam_betas[0],
            adam_beta2=self.adam_betas[1],
            max_grad_norm=self.max_grad_norm,
            max_length=self.block_size,
            completion_only_loss=True,
            train_sampling_strategy="group_by_length" if self.group_by_length else "random",
            use_cpu=not on_gpu,
            bf16=bf16,
            activation_checkpointing=checkpointing,
            seed=self.seed,
            data_seed=self.seed,
            logging_steps=self.logging_steps,
            save_strategy="no",
            report_to="none",
            disable_tqdm=not self.progress,
        )

    def train(self, dataset: Any) -> TrainedStudent:
        """Fine-tune on a traces Dataset and save the student.

        Returns:
            The saved student with its metrics and effective hyperparameters.
        """
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from trl import SFTTrainer

        on_gpu = torch.cuda.is_available()
        output_dir = Path(self.output_dir or Path("runs") / f"{Path(str(self.base)).name}-sft")
        tokenizer = AutoTokenizer.from_pretrained(str(self.base))
        self._format.tokens(tokenizer)  # delimiters must fit the tokenizer: fail before compute
        examples = self.examples(dataset, tokenizer)
        args = self._config(output_dir, len(examples), on_gpu)
        model = AutoModelForCausalLM.from_pretrained(
            str(self.base), dtype=torch.bfloat16 if args.bf16 else torch.float32
        )
        trainer = SFTTrainer(
            model=model, args=args, train_dataset=examples, processing_class=tokenizer
        )
        start = time.perf_counter()
        result = trainer.train()
        runtime = time.perf_counter() - start
        trainer.save_model(str(output_dir))
        tokenizer.save_pretrained(str(output_dir))
        losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
        metrics = {
            "train_loss": float(result.training_loss),
            # The last logged loss is already a mean over its logging window.
            "final_loss": float(losses[-1]) if losses else math.nan,
            "steps": float(trainer.state.global_step),
            "runtime_s": runtime,
            "examples": float(len(examples)),
        }
        hyperparameters = {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in asdict(self).items()
            if k != "format" and not k.startswith("_")
        } | {
            "format": self._format.name,
            "gradient_accumulation_steps": args.gradient_accumulation_steps,
            "world_size": self._world_size(),
            "bf16": args.bf16,
        }
        student = TrainedStudent(output_dir, self._format, str(self.base), metrics, hyperparameters)
        student.save_manifest()
        return student


def _bf16_supported() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
