"""What the trainers share at run time: token counting, gathering across ranks, checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["TokenCounter", "all_ranks", "checkpoint_step", "find_checkpoint", "unwrap_selection"]


class TokenCounter:
    """Wraps a data collator and counts the tokens this process trains on.

    The count is local (no collective per step, so no overhead beyond two tensor sums); ranks are
    gathered once at the end. With ``dataloader_num_workers > 0`` collation runs in worker processes
    and the count stays at zero.

    Example:
        >>> counter = TokenCounter(lambda rows: rows)
        >>> counter.tokens, counter.batches
        (0, 0)
    """

    def __init__(self, collator: Any) -> None:
        self.inner = collator
        self.tokens = 0  # real tokens: padding excluded
        self.slots = 0  # positions computed: padding included
        self.trained = 0  # tokens with a loss
        self.batches = 0

    def __call__(self, features: list[dict[str, Any]]) -> Any:
        batch = self.inner(features)
        ids = batch["input_ids"]
        mask = batch.get("attention_mask")
        self.tokens += int(mask.sum()) if mask is not None else ids.numel()
        self.slots += ids.numel()
        self.trained += int((batch["labels"] != -100).sum())
        self.batches += 1
        return batch

    def __getattr__(self, name: str) -> Any:  # the Trainer may read the collator's settings
        return getattr(self.inner, name)

    def counts(self) -> dict[str, int]:
        """This process's counts."""
        return {
            "tokens": self.tokens,
            "slots": self.slots,
            "trained": self.trained,
            "batches": self.batches,
        }


def all_ranks(value: Any) -> list[Any]:
    """``value`` from every process, in rank order (just ``[value]`` when not distributed)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        return [value]
    gathered: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def find_checkpoint(output_dir: Path, resume: bool | str | None) -> str | None:
    """The checkpoint to resume from: the latest in ``output_dir`` for True, a path, or None.

    Raises:
        ConfigError: nothing to resume from (before any compute, unlike the Trainer's own error).
    """
    if resume in (None, False):
        return None
    if resume is True:
        from transformers.trainer_utils import get_last_checkpoint

        last = get_last_checkpoint(str(output_dir)) if output_dir.is_dir() else None
        if last is None:
            raise ConfigError(
                f"resume_from_checkpoint=True but {output_dir} holds no checkpoint-* folder; "
                "train with save_steps=N (or save_strategy='epoch') first, or pass a path."
            )
        return last
    if not Path(str(resume)).is_dir():
        raise ConfigError(f"resume_from_checkpoint: no such checkpoint folder {resume!r}")
    return str(resume)


def checkpoint_step(checkpoint: str | None) -> int:
    """The optimiser step a checkpoint was saved at (0 for None)."""
    if checkpoint is None:
        return 0
    state = Path(checkpoint) / "trainer_state.json"
    return int(json.loads(state.read_text()).get("global_step", 0)) if state.exists() else 0


def unwrap_selection(dataset: Any, selection: Any) -> tuple[Any, Any]:
    """(rows, selection) from a Dataset or a Selection passed as the dataset."""
    from ..records import Selection
    from ..trace_columns import with_traces

    if isinstance(dataset, Selection):
        dataset, selection = dataset.kept, selection if selection is not None else dataset
    # A published set's own columns (s1K-1.1's deepseek_* / gemini_*) become the trace columns
    # every stage reads, DeepSeek's unless a trace was already picked.
    return (with_traces(dataset) if hasattr(dataset, "column_names") else dataset), selection
