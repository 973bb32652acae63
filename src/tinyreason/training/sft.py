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
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, ClassVar, Literal

from ..errors import ConfigError
from ..interfaces import StudentFormat
from ..options import check_options
from ..students.formats import ThinkFormat
from ._runtime import TokenCounter, all_ranks, run_metrics
from .base import TrainedStudent
from .basemodel import loading
from .checkpoints import (
    ResumePlan,
    RunComplete,
    make_sealer,
)
from .config import rank, sft_config, world_size
from .estimate import DEFAULT_MFU
from .inputs import training_data
from .output import StudentFolder
from .presets import preset
from .ranges import Range, range_problems
from .sft_checks import SFTChecks, _local_gpu
from .trackers import report_to_problems, tensorboard_dir, tensorboard_reports, trl_args_problems

__all__ = ["FullTrainer", "SFTTrainerBase"]

logger = logging.getLogger("tinyreason.training")

_UNIT = Range(0, 1, high_open=True)


def _resolve_format(fmt: Any) -> ThinkFormat:
    from ..students.protocol import as_think_format

    if isinstance(fmt, str):
        from ..registry import build

        fmt = build("student", fmt)
    return as_think_format(fmt)  # a plugin's format through its Protocol alone


@dataclass(frozen=True)
class SFTTrainerBase(SFTChecks):
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
        conditioning: Train a token- (``"tokens"``: "Think for up to N tokens.") or
            step-conditional (``"steps"``: "K steps left" markers) student, as s1's TCC / SCC
            baselines (:mod:`tinyreason.students.conditioning`); None trains on the traces as
            they are.
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
        resume_from_checkpoint: Where training starts. None (a fresh start; refused while
            ``output_dir`` holds an earlier run's checkpoints, unless ``overwrite``); True (the
            newest checkpoint in ``output_dir`` that verifies complete; an error if none);
            ``"auto"`` (that checkpoint, or a fresh start if none); a checkpoint folder (which
            must verify). docs/training.md has the rules.
        logging_steps: Log the loss every this many steps (to the trackers too).
        report_to: Trackers the loss and learning rate go to, through transformers' callbacks:
            ``"tensorboard"``, ``"wandb"``, ``"trackio"``, ``"mlflow"`` (any integration
            transformers knows), a list of them, ``"all"`` (every one installed) or ``"none"``.
            None leaves TRL's default: no tracker in transformers 5 (docs/training.md).
        run_name: The run's name in the trackers (wandb, trackio, mlflow...).
        logging_dir: Where ``"tensorboard"`` writes its event files (default: transformers',
            ``runs/<date>_<host>`` inside ``output_dir``, so they are part of the student).
        trl_args: Any other field of TRL's ``SFTConfig`` (``{"neftune_noise_alpha": 5}``),
            checked against its fields and types when the trainer is made; fields a tinyreason
            option sets are refused, naming the option (:mod:`tinyreason.training.trackers`).
        progress: Show a progress bar.
        overwrite: Write into an ``output_dir`` that holds files tinyreason did not write (only
            tinyreason's files are replaced; the others are left alone), and on a fresh start
            delete an earlier run's checkpoints there.

    Options are checked when the trainer is made: their types against these annotations
    (:func:`tinyreason.options.check_options`, all type problems at once), then their values
    against :attr:`RANGES` (all at once). Files and folders are checked by :meth:`preflight` and
    :meth:`train` before any model loads.
    """

    base: str | Path
    format: str | StudentFormat = "qwen-s1"
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
    conditioning: Literal["tokens", "steps"] | None = None
    seed: int = 0
    bf16: bool | None = None
    model_dtype: Literal["float32", "bfloat16", "float16"] | None = None
    gradient_checkpointing: bool | None = None
    save_strategy: Literal["no", "steps", "epoch"] | None = None
    save_steps: int | None = None
    save_total_limit: int | None = None
    resume_from_checkpoint: bool | str | Path | None = None
    logging_steps: int = 10
    report_to: str | list[str] | None = None
    run_name: str | None = None
    logging_dir: str | Path | None = None
    trl_args: Mapping[str, Any] | None = None
    progress: bool = True
    overwrite: bool = False
    _format: ThinkFormat = field(init=False, repr=False, compare=False)

    name: ClassVar[str] = "sft"
    is_lora: ClassVar[bool] = False
    #: The values each numeric option may take (None always means "unset": the preset's value).
    RANGES: ClassVar[Mapping[str, Range]] = {
        "epochs": Range(0, low_open=True),
        "max_steps": Range(1),
        "learning_rate": Range(0, low_open=True),
        "batch_size": Range(1),
        "per_device_batch_size": Range(1),
        "warmup_ratio": _UNIT,
        "min_lr_ratio": _UNIT,
        "weight_decay": Range(0),
        "adam_betas": _UNIT,
        "max_grad_norm": Range(0),  # 0 turns clipping off
        "block_size": Range(1),
        "seed": Range(0),
        "save_steps": Range(1),
        "save_total_limit": Range(1),
        "logging_steps": Range(1),
    }

    def __post_init__(self) -> None:
        given = {f.name: getattr(self, f.name) for f in fields(self) if f.init}
        # Types first: the hand-written checks after the ranges assume the right types.
        problems = check_options(type(self), given)
        complete = not problems  # every type right, and (below) every preset value filled in
        try:
            values = preset(self.preset) if isinstance(self.preset, str) else {}
        except ConfigError as exc:
            problems += exc.problems
            complete = False
        else:
            for key, value in values.items():
                if getattr(self, key) is None:
                    object.__setattr__(self, key, value)
        self._normalise()
        problems += range_problems(self, self.RANGES)
        if complete:
            problems += self._problems()
        if problems:
            raise ConfigError(problems)
        object.__setattr__(self, "_format", _resolve_format(self.format))

    def _normalise(self) -> None:
        """Lists from JSON or the command line become tuples; a default save strategy."""
        if isinstance(self.adam_betas, list):
            object.__setattr__(self, "adam_betas", tuple(self.adam_betas))
        if isinstance(self.report_to, tuple):
            object.__setattr__(self, "report_to", list(self.report_to))
        if self.trl_args is not None and not isinstance(self.trl_args, dict):
            object.__setattr__(self, "trl_args", dict(self.trl_args))
        if self.save_strategy is None:
            object.__setattr__(self, "save_strategy", "no" if self.save_steps is None else "steps")

    def _problems(self) -> list[str]:
        """What the types and :attr:`RANGES` cannot say (subclasses add theirs).

        Called when every type is right and the preset filled in the rest; values may still be
        out of range.
        """
        problems = []
        batch, per_device = self.batch_size, self.per_device_batch_size
        assert batch is not None and per_device is not None  # filled in from the preset
        if per_device > 0 and batch % per_device:
            problems.append(
                f"batch_size ({self.batch_size}) must be a multiple of per_device_batch_size "
                f"({self.per_device_batch_size})"
            )
        if self.save_strategy == "no" and self.save_steps is not None:
            problems.append(
                f"save_steps={self.save_steps} with save_strategy='no' saves nothing: drop one"
            )
        resume = self.resume_from_checkpoint
        if isinstance(resume, str) and not resume.strip():
            problems.append(
                "resume_from_checkpoint is empty: pass True, 'auto' or a checkpoint folder"
            )
        # Trackers and TRL's own fields: transformers and TRL load only when these are set.
        problems += report_to_problems(self.report_to)
        problems += trl_args_problems(self.trl_args)
        if self.logging_dir is not None and not tensorboard_reports(self.report_to):
            problems.append(
                "logging_dir is where tensorboard writes: add report_to='tensorboard' (or drop "
                "logging_dir)"
            )
        return problems

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
        with loading(self.base, "model"):
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
            if k not in ("format", "overwrite") and not k.startswith("_")
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

    def sft_trainer(self, dataset: Any) -> Any:
        """The configured TRL ``SFTTrainer``, after preflight, ready to train (not trained).

        For inspection (its batches, its collator) or to add callbacks before ``.train()``; the
        usual path is :meth:`train`, which also marks the output folder, resumes from a verified
        checkpoint, and saves the student, its manifest and card.

        Raises:
            DataError, ConfigError, ArtifactError: as :meth:`preflight`.
        """
        return self._build(dataset)[0]

    def _build(self, dataset: Any) -> tuple[Any, ResumePlan]:
        import torch
        from trl import SFTTrainer

        on_gpu = torch.cuda.is_available()
        dataset, _ = training_data(dataset)
        prepared = self._prepare(dataset, _local_gpu(on_gpu), DEFAULT_MFU, on_gpu)
        tokenizer, plan = prepared.tokenizer, prepared.plan
        args = sft_config(
            self, self._output_dir(), len(prepared.examples), on_gpu, self._format.eot(tokenizer)
        )
        if rank() == 0:
            logger.info("%r", prepared.report)
            logger.info("effective hyperparameters: %s", self._hyperparameters(args))
        meta = {"trainer": self.name, "base": str(self.base), "data": prepared.fingerprint}
        model = self._load_model(args, on_gpu)
        with tensorboard_dir(self.logging_dir):  # transformers 5 reads it when the Trainer starts
            trainer = SFTTrainer(
                model=model,
                args=args,
                train_dataset=prepared.rows,  # tokenized: trained as rendered (no EOS added)
                processing_class=tokenizer,
                peft_config=self._peft_config(),
            )
        counter = TokenCounter(trainer.data_collator)
        counter.install(trainer)
        sealer = make_sealer(meta, counter, plan.progress)
        sealer.trainer = trainer
        trainer.add_callback(sealer)
        return trainer, plan

    def train(self, dataset: Any, *, selection: Any = None) -> TrainedStudent:
        """Check, fine-tune on a traces Dataset (or Selection, or a path) and save the student.

        Every input is checked before any model loads (:meth:`preflight`'s checks, the output
        folder and the checkpoint to resume from). The student's folder is written whole: the
        model, tokenizer, ``tinyreason.json`` and card, then its manifest, last.

        Args:
            dataset: The traces; a Selection trains on its kept rows and records its funnel; a
                path is read as ``tinyreason train --data`` reads it.
            selection: The Selection the rows came from, for the model card.

        Returns:
            The saved student with its metrics and effective hyperparameters.
        """
        from .card import data_manifest, write_model_card

        dataset, selection = training_data(dataset, selection)
        output_dir = self._output_dir()
        trainer, plan = self._build(dataset)
        folder = StudentFolder(output_dir, overwrite=self.overwrite)
        trainer.accelerator.wait_for_everyone()  # every rank has planned from the same folder
        if trainer.is_world_process_zero():
            plan.tidy()
            folder.open(resuming=plan.checkpoint is not None)
        trainer.accelerator.wait_for_everyone()  # no rank writes before the folder is ours
        start = time.perf_counter()
        checkpoint = str(plan.checkpoint) if plan.checkpoint is not None else None
        try:
            train_loss = trainer.train(resume_from_checkpoint=checkpoint).training_loss
        except RunComplete:  # the checkpoint is the run's last step: its weights are the student
            train_loss = 0.0  # no step here; the checkpoint's progress holds the run's loss
        runtime = time.perf_counter() - start
        per_rank = all_ranks(trainer.data_collator.counts())  # collective: every rank
        self._finish(trainer, output_dir, trainer.args)
        metrics = run_metrics(trainer, train_loss, runtime, per_rank, plan)
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
            folder.seal(
                {
                    "trainer": self.name,
                    "base": str(self.base),
                    "format": self._format.name,
                    "steps": int(metrics["steps"]),
                    "data": data.get("fingerprint"),
                }
            )
        trainer.accelerator.wait_for_everyone()  # every rank returns once the folder is complete
        return student


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
