"""What the trainers share at run time: token counting, gathering across ranks, the metrics."""

from __future__ import annotations

import math
from typing import Any

from .checkpoints import combine_counts

__all__ = ["TokenCounter", "all_ranks", "run_metrics", "unwrap_selection"]


class TokenCounter:
    """Counts the tokens this process trains on; stands in for the data collator it wraps.

    Batches are counted when a training step takes them (:meth:`install` wraps the Trainer's
    ``training_step``), not when they are collated: the data loader collates one batch ahead, and
    a batch collated but never trained (the one after the last step, or the one before a
    checkpoint) must not count, or a resumed run would count it twice. Sums stay on the batch's
    device until read, so counting adds no synchronisation per step; ranks are gathered once at
    the end.

    Example:
        >>> counter = TokenCounter(lambda rows: rows)
        >>> counter.tokens, counter.batches
        (0, 0)
        >>> import torch
        >>> counter.observe({"input_ids": torch.ones(2, 3, dtype=torch.long),
        ...                  "attention_mask": torch.tensor([[1, 1, 1], [1, 0, 0]]),
        ...                  "labels": torch.tensor([[-100, 5, 5], [-100, -100, -100]])})
        >>> counter.counts()
        {'tokens': 4, 'slots': 6, 'trained': 2, 'batches': 1}
    """

    def __init__(self, collator: Any) -> None:
        self.inner = collator
        # tokens: real tokens (padding excluded); slots: positions computed (padding included);
        # trained: tokens with a loss. Ints or 0-d tensors on the batch's device.
        self._sums: dict[str, Any] = {"tokens": 0, "slots": 0, "trained": 0}
        self.batches = 0

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        return self.inner(features)

    def __getattr__(self, name: str) -> Any:  # the Trainer may read the collator's settings
        if name in ("inner", "_sums"):  # not set yet (while unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.inner, name)

    def observe(self, batch: Any) -> None:
        """Count one batch a training step takes."""
        ids = batch["input_ids"]
        mask = batch.get("attention_mask")
        self._sums["tokens"] += mask.sum() if mask is not None else ids.numel()
        self._sums["slots"] += ids.numel()
        labels = batch.get("labels")
        if labels is not None:
            self._sums["trained"] += (labels != -100).sum()
        self.batches += 1

    def install(self, trainer: Any) -> None:
        """Become ``trainer``'s collator and count each batch its ``training_step`` takes."""
        trainer.data_collator = self
        step = trainer.training_step

        def training_step(model: Any, inputs: Any, *args: Any, **kwargs: Any) -> Any:
            self.observe(inputs)
            return step(model, inputs, *args, **kwargs)

        trainer.training_step = training_step

    @property
    def tokens(self) -> int:
        """Real tokens trained on so far (padding excluded)."""
        return int(self._sums["tokens"])

    def counts(self) -> dict[str, int]:
        """This process's counts."""
        return {key: int(value) for key, value in self._sums.items()} | {"batches": self.batches}


def all_ranks(value: Any) -> list[Any]:
    """``value`` from every process, in rank order (just ``[value]`` when not distributed)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return [value]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def unwrap_selection(dataset: Any, selection: Any) -> tuple[Any, Any]:
    """(rows, selection) from a Dataset, a Selection or a path: :func:`.inputs.training_data`."""
    from .inputs import training_data

    return training_data(dataset, selection)


def run_metrics(
    trainer: Any,
    train_loss: float,
    runtime: float,
    per_rank: list[dict[str, int]],
    plan: Any,
) -> dict[str, Any]:
    """The run's metrics; after a resume, the whole run's (the checkpoint's progress added)."""
    before = plan.progress or {}
    per_rank = combine_counts(before.get("counts"), per_rank)
    steps = trainer.state.global_step
    losses = [e["loss"] for e in trainer.state.log_history if "loss" in e]
    if plan.checkpoint is not None and steps > 0:
        # The Trainer's train_loss after a resume covers only the steps it ran itself.
        if before.get("loss_sum") is not None:
            train_loss = (float(before["loss_sum"]) + train_loss * (steps - plan.step)) / steps
        elif steps == plan.step and losses:  # no step ran here: the logged windows' mean
            train_loss = sum(losses) / len(losses)
    runtime += float(before.get("runtime_s", 0.0))
    tokens = sum(r["tokens"] for r in per_rank)
    return {
        "train_loss": float(train_loss),
        # The last logged loss is already a mean over its logging window; a run shorter than
        # logging_steps logged none, and then its mean loss is the best figure there is.
        "final_loss": float(losses[-1]) if losses else float(train_loss),
        "steps": float(steps),
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
        "resumed_from_step": float(plan.step),
    }
