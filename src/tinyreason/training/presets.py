"""Named sets of training hyperparameters; a trainer fills every value it was not given from one.

``s1`` is the paper's recipe (``reference/s1.md`` section 2). ``s1-lora`` is the same schedule
with a learning rate ten times higher, the usual setting for low-rank adapters (an adapter starts
at zero and has few parameters; at 1e-5 it barely moves): a convention, not from the s1 paper.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError

__all__ = ["PRESETS", "PRESET_FIELDS", "preset"]

#: The hyperparameters a preset sets; anything else is an ordinary option with its own default.
PRESET_FIELDS = (
    "epochs",
    "learning_rate",
    "batch_size",
    "per_device_batch_size",
    "warmup_ratio",
    "min_lr_ratio",
    "weight_decay",
    "adam_betas",
    "max_grad_norm",
    "block_size",
)

_S1: Mapping[str, Any] = MappingProxyType(
    {
        "epochs": 5.0,
        "learning_rate": 1e-5,
        # Global batch 16, one sequence per device: gradient accumulation makes up the rest on any
        # device count (s1's single-node script forgot this and trained with batch 8).
        "batch_size": 16,
        "per_device_batch_size": 1,
        "warmup_ratio": 0.05,
        "min_lr_ratio": 0.0,
        "weight_decay": 1e-4,
        "adam_betas": (0.9, 0.95),
        "max_grad_norm": 1.0,
        # s1 trained without truncation; at 4,096 tokens AIME fell from 50% to 30%.
        "block_size": 32768,
    }
)

#: Every preset by name.
PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "s1": _S1,
        # s1.1 (s1K-1.1's DeepSeek-R1 traces): the same recipe with block size 20,000, which
        # s1's authors used to avoid running out of memory on the longer traces.
        "s1.1": MappingProxyType({**_S1, "block_size": 20000}),
        "s1-lora": MappingProxyType({**_S1, "learning_rate": 1e-4}),
    }
)


def preset(name: str) -> dict[str, Any]:
    """The hyperparameters of the preset ``name``.

    Raises:
        ConfigError: no such preset (the message lists the known ones).

    Example:
        >>> preset("s1")["batch_size"], preset("s1")["adam_betas"]
        (16, (0.9, 0.95))
        >>> preset("s2")
        Traceback (most recent call last):
        ...
        tinyreason.errors.ConfigError: unknown preset 's2'; known presets: s1, s1-lora, s1.1
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; known presets: {', '.join(sorted(PRESETS))}")
    return dict(PRESETS[name])
