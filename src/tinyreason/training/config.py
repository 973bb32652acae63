"""A trainer's options -> TRL's ``SFTConfig``, with the global batch kept on any number of devices.

TRL 1.16 on CPU needs a few settings spelled out (``reference/stack.md`` section 3): it defaults to
bf16 and gradient checkpointing, which a CPU cannot use or does not want, and saves checkpoints
unless told not to. ``report_to`` and ``run_name`` are passed only when set, so TRL's default holds
otherwise (transformers 5: ``"none"``); ``trl_args`` adds any other ``SFTConfig`` field
(:mod:`tinyreason.training.trackers` checks them when the trainer is made).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["gradient_accumulation", "rank", "sft_config", "world_size"]


def world_size() -> int:
    """Processes taking part (``WORLD_SIZE``, set by ``torchrun`` and ``accelerate launch``)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's global rank (0 when not distributed)."""
    return int(os.environ.get("RANK", "0"))


def gradient_accumulation(batch_size: int, per_device_batch_size: int, world: int) -> int:
    """Accumulation steps that keep ``batch_size`` sequences per step on ``world`` devices.

    Raises:
        ConfigError: the global batch is not a multiple of per-device batch x devices.

    Example:
        >>> gradient_accumulation(16, 1, 8), gradient_accumulation(16, 2, 2)
        (2, 4)
    """
    per_step = per_device_batch_size * world
    if batch_size % per_step:
        fits = [d for d in range(1, per_device_batch_size + 1) if batch_size % (d * world) == 0]
        if fits:
            fix = f"set per_device_batch_size={max(fits)}"
        else:
            near = sorted({batch_size // world * world, (batch_size // world + 1) * world} - {0})
            fix = f"set batch_size to a multiple of {world} devices ({' or '.join(map(str, near))})"
        raise ConfigError(
            f"batch_size {batch_size} is not a multiple of per_device_batch_size x devices = "
            f"{per_device_batch_size} x {world} = {per_step}: {fix}, so the global batch stays "
            "exact."
        )
    # s1's single-node script silently dropped this and trained with batch 8 on 8 GPUs.
    return batch_size // per_step


def _bf16_supported() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def sft_config(
    trainer: Any, output_dir: Path, n_examples: int, on_gpu: bool, end_of_turn: str
) -> Any:
    """The ``trl.SFTConfig`` for a trainer's effective options.

    Args:
        trainer: A tinyreason trainer (its options are read).
        output_dir: Where checkpoints and the model go.
        n_examples: Training rows (sets the step count when ``max_steps`` is None).
        on_gpu: Whether a CUDA GPU trains.
        end_of_turn: The student format's end-of-turn text; TRL uses it as EOS so it appends no
            second end token and the saved generation config stops on it.
    """
    from trl import SFTConfig

    accumulation = gradient_accumulation(
        trainer.batch_size, trainer.per_device_batch_size, world_size()
    )
    if trainer.max_steps is not None:
        steps, epochs = trainer.max_steps, 1.0
    elif trainer.packing:
        # Packing merges rows into fewer, longer sequences; only TRL knows how many after packing,
        # so let the Trainer count steps from the packed dataset and the epochs.
        steps, epochs = -1, trainer.epochs
    else:
        # As the Trainer counts: every epoch ends with a (possibly short) step, so 1,000 rows for
        # 5 epochs at batch 16 are 5 x 63 = 315 steps, s1's count (not ceil(5000 / 16) = 313).
        per_epoch = math.ceil(n_examples / trainer.batch_size)
        steps, epochs = math.ceil(trainer.epochs * per_epoch), 1.0
    bf16 = trainer.bf16 if trainer.bf16 is not None else on_gpu and _bf16_supported()
    checkpointing = (
        trainer.gradient_checkpointing if trainer.gradient_checkpointing is not None else on_gpu
    )
    scheduler, scheduler_kwargs = "cosine", None
    if trainer.min_lr_ratio > 0:
        scheduler, scheduler_kwargs = "cosine_with_min_lr", {"min_lr_rate": trainer.min_lr_ratio}
    save: dict[str, Any] = {"save_strategy": trainer.save_strategy}
    if trainer.save_steps is not None:
        save["save_steps"] = trainer.save_steps
    if trainer.save_total_limit is not None:
        save["save_total_limit"] = trainer.save_total_limit
    # Trackers: only what the user set, so TRL's and transformers' defaults hold otherwise.
    trainer_args = dict(getattr(trainer, "trl_args", None) or {})
    extra: dict[str, Any] = dict(trainer_args)
    for key in ("report_to", "run_name"):
        if getattr(trainer, key, None) is not None:
            extra[key] = getattr(trainer, key)
    values: dict[str, Any] = dict(
        output_dir=str(output_dir),
        max_steps=steps,
        num_train_epochs=epochs,
        per_device_train_batch_size=trainer.per_device_batch_size,
        gradient_accumulation_steps=accumulation,
        learning_rate=trainer.learning_rate,
        lr_scheduler_type=scheduler,
        lr_scheduler_kwargs=scheduler_kwargs,
        warmup_steps=trainer.warmup_ratio,  # a value below 1 is a ratio of the total steps
        weight_decay=trainer.weight_decay,
        adam_beta1=trainer.adam_betas[0],
        adam_beta2=trainer.adam_betas[1],
        max_grad_norm=trainer.max_grad_norm,
        # Padding-free without packing does not truncate; preflight checked every row fits.
        max_length=None if trainer.padding_free and not trainer.packing else trainer.block_size,
        packing=trainer.packing,
        packing_strategy="bfd",  # keeps row boundaries ("wrapped" cuts rows mid-way)
        padding_free=trainer.padding_free,
        completion_only_loss=True,
        eos_token=end_of_turn,
        train_sampling_strategy="group_by_length" if trainer.group_by_length else "random",
        use_cpu=not on_gpu,
        bf16=bf16,
        activation_checkpointing=checkpointing,
        seed=trainer.seed,
        data_seed=trainer.seed,
        logging_steps=trainer.logging_steps,
        disable_tqdm=not trainer.progress,
        **save,
    )
    try:
        return SFTConfig(**values, **extra)
    except ValueError as exc:  # TRL's and transformers' own checks of the combination
        raise ConfigError(
            f"TRL refused the training settings{' (with trl_args)' if trainer_args else ''}: {exc}"
        ) from None
