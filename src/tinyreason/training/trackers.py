"""Trackers and the rest of TRL's ``SFTConfig``: ``report_to``, ``run_name``, ``trl_args``.

A trainer's ``report_to`` (``"tensorboard"``, ``"wandb"``, ``"trackio"``, ``"mlflow"``, any
integration transformers knows, ``"all"`` or ``"none"``), ``run_name`` and ``logging_steps`` go to
TRL's ``SFTConfig`` as they are, so training logs through transformers' own tracker callbacks.
Left unset, ``report_to`` is not passed at all and TRL's default holds: in transformers 5 (5.24
here) that is ``"none"``, no tracker (transformers 4 reported to every installed one).

Any other ``SFTConfig`` field goes through ``trl_args={...}``, checked when the trainer is made,
before any model loads: the name against ``SFTConfig``'s fields (with a did-you-mean), the value
against the field's type, and plain values only (str, number, bool, None, lists and dicts of
them: they are recorded in the card). A field that a tinyreason option already sets is refused,
naming that option; so is a Hub token (huggingface_hub's login gives it, and a token never goes
into arguments that trackers log).

Example:
    >>> trl_args_problems({"learning_rate": 1e-5})
    ['trl_args: learning_rate is set by tinyreason: pass learning_rate=... to the trainer instead']
    >>> trl_args_problems({"neftune_noise_alpha": 5.0, "optim": "adamw_torch_fused"})
    []
"""

from __future__ import annotations

import contextlib
import difflib
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..options import check_value

__all__ = [
    "FIXED_FIELDS",
    "OWNED_FIELDS",
    "report_to_problems",
    "tensorboard_dir",
    "tensorboard_reports",
    "trl_args_problems",
    "trl_field_names",
]

#: transformers 5 reads tensorboard's folder from this variable (``logging_dir`` is gone from
#: ``TrainingArguments``), when its ``TensorBoardCallback`` is made.
TENSORBOARD_ENV = "TENSORBOARD_LOGGING_DIR"

#: ``SFTConfig`` fields a tinyreason option sets, with that option (``trl_args`` refuses them).
OWNED_FIELDS: Mapping[str, str] = {
    "output_dir": "output_dir",
    "per_device_train_batch_size": "per_device_batch_size",
    "num_train_epochs": "epochs",
    "max_steps": "max_steps",
    "learning_rate": "learning_rate",
    "lr_scheduler_type": "min_lr_ratio",  # s1's cosine, with a floor
    "lr_scheduler_kwargs": "min_lr_ratio",
    "warmup_steps": "warmup_ratio",
    "weight_decay": "weight_decay",
    "adam_beta1": "adam_betas",
    "adam_beta2": "adam_betas",
    "gradient_accumulation_steps": "batch_size",  # the global batch; accumulation follows
    "max_grad_norm": "max_grad_norm",
    "max_length": "block_size",
    "packing": "packing",
    "padding_free": "padding_free",
    "train_sampling_strategy": "group_by_length",
    "bf16": "bf16",
    "activation_checkpointing": "gradient_checkpointing",
    "gradient_checkpointing": "gradient_checkpointing",
    "seed": "seed",
    "data_seed": "seed",
    "logging_steps": "logging_steps",
    "report_to": "report_to",
    "run_name": "run_name",
    "disable_tqdm": "progress",
    "save_strategy": "save_strategy",
    "save_steps": "save_steps",
    "save_total_limit": "save_total_limit",
    "resume_from_checkpoint": "resume_from_checkpoint",
}

_LOSS = "the loss is always on the thinking and the answer (the s1 recipe), whatever the template"
#: ``SFTConfig`` fields tinyreason decides itself, with why (``trl_args`` refuses them).
FIXED_FIELDS: Mapping[str, str] = {
    "completion_only_loss": _LOSS,
    "assistant_only_loss": _LOSS,
    "eos_token": "the student format's end of turn is the EOS",
    "packing_strategy": "packing=True packs rows whole (best-fit decreasing), never cut mid-row",
    "use_cpu": "a GPU trains when there is one; hide it with CUDA_VISIBLE_DEVICES=''",
    "model_init_kwargs": "tinyreason loads the model: use model_dtype= / attn_implementation=",
    "push_to_hub": "publish the finished student with student.push_to_hub(repo_id)",
    "hub_token": "the token comes from huggingface_hub's login (`hf auth login` or HF_TOKEN)",
}

# What each integration needs installed, for the message when it is missing.
_PIP = {
    "tensorboard": "tensorboard (or tinyreason[track])",
    "wandb": "wandb",
    "mlflow": "mlflow",
    "trackio": "trackio",
    "comet_ml": "comet-ml",
    "azure_ml": "azureml-core",
    "clearml": "clearml",
    "neptune": "neptune",
    "dvclive": "dvclive",
    "swanlab": "swanlab",
    "codecarbon": "codecarbon",
    "dagshub": "dagshub",
    "flyte": "flytekitplugins-deck-standard",
}
# transformers' availability check of each integration (transformers.integrations).
_AVAILABLE = {
    "tensorboard": "is_tensorboard_available",
    "wandb": "is_wandb_available",
    "mlflow": "is_mlflow_available",
    "trackio": "is_trackio_available",
    "comet_ml": "is_comet_available",
    "azure_ml": "is_azureml_available",
    "clearml": "is_clearml_available",
    "neptune": "is_neptune_available",
    "dvclive": "is_dvclive_available",
    "swanlab": "is_swanlab_available",
    "codecarbon": "is_codecarbon_available",
    "dagshub": "is_dagshub_available",
    "flyte": "is_flyte_deck_standard_available",
    "kubeflow": "is_kubeflow_available",
}


def _hint(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _names(report_to: str | Sequence[str]) -> list[str]:
    return [report_to] if isinstance(report_to, str) else list(report_to)


def report_to_problems(report_to: str | Sequence[str] | None) -> list[str]:
    """What is wrong with ``report_to``: an unknown integration, or one not installed.

    Names are transformers' own (its ``INTEGRATION_TO_CALLBACK``), with ``"all"`` and ``"none"``;
    whether each is installed is asked of transformers too, so the run cannot fail on it after
    the model has loaded.

    Example:
        >>> report_to_problems("tensorbord")
        ["report_to: unknown tracker 'tensorbord' (did you mean 'tensorboard'?); ..."]
    """
    if report_to is None:
        return []
    from transformers.integrations import integration_utils

    known = sorted(integration_utils.INTEGRATION_TO_CALLBACK)
    names = _names(report_to)
    problems = []
    for name in names:
        if name in ("all", "none"):
            if len(names) > 1:
                problems.append(f"report_to: {name!r} stands alone, not in a list with others")
            continue
        if name not in known:
            problems.append(
                f"report_to: unknown tracker {name!r}{_hint(name, [*known, 'all', 'none'])}; "
                f"transformers knows {', '.join(known)}, 'all' and 'none'"
            )
            continue
        available = getattr(integration_utils, _AVAILABLE.get(name, ""), None)
        if available is not None and not available():
            problems.append(
                f"report_to: {name!r} is not installed: pip install {_PIP.get(name, name)}"
            )
    return problems


def tensorboard_reports(report_to: str | Sequence[str] | None) -> bool:
    """Whether ``report_to`` may include tensorboard (``"all"`` may).

    Example:
        >>> [tensorboard_reports(r) for r in ("tensorboard", "all", ["wandb"], None)]
        [True, True, False, False]
    """
    if report_to is None:
        return False
    return bool({"tensorboard", "all"} & set(_names(report_to)))


@contextlib.contextmanager
def tensorboard_dir(folder: str | os.PathLike[str] | None) -> Iterator[None]:
    """While the Trainer is made, point transformers' tensorboard callback at ``folder``.

    Nothing changes when ``folder`` is None; the variable is put back as it was afterwards.
    """
    if folder is None:
        yield
        return
    before = os.environ.get(TENSORBOARD_ENV)
    os.environ[TENSORBOARD_ENV] = str(Path(folder).expanduser())
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(TENSORBOARD_ENV, None)
        else:
            os.environ[TENSORBOARD_ENV] = before


def trl_field_names() -> list[str]:
    """The fields of TRL's ``SFTConfig`` (imports TRL)."""
    from dataclasses import fields

    from trl import SFTConfig

    return [f.name for f in fields(SFTConfig) if f.init]


def _plain(value: Any) -> bool:
    """A value a card, a manifest and a tracker's argument log can hold as it is."""
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def trl_args_problems(trl_args: Mapping[str, Any] | None) -> list[str]:
    """What is wrong with ``trl_args``: unknown fields, fields tinyreason sets, bad values.

    Example:
        >>> trl_args_problems({"optim_arg": "x"})
        ["trl_args: SFTConfig has no field 'optim_arg' (did you mean 'optim_args'?)"]
        >>> trl_args_problems({"neftune_noise_alpha": "5"})
        ["trl_args: neftune_noise_alpha must be a number or None, got str '5' (write 5, not '5')"]
    """
    if not trl_args:
        return []
    import typing

    from trl import SFTConfig

    names = trl_field_names()
    hints = typing.get_type_hints(SFTConfig)
    problems = []
    for key, value in trl_args.items():
        if not isinstance(key, str) or key not in names:
            problems.append(f"trl_args: SFTConfig has no field {key!r}{_hint(str(key), names)}")
        elif key in OWNED_FIELDS:
            problems.append(
                f"trl_args: {key} is set by tinyreason: pass {OWNED_FIELDS[key]}=... to the "
                "trainer instead"
            )
        elif key in FIXED_FIELDS:
            problems.append(f"trl_args: {key} is not passed through: {FIXED_FIELDS[key]}")
        elif not _plain(value):
            problems.append(
                f"trl_args: {key} must be a plain value (str, number, bool, None, or a list or "
                f"dict of them), got {type(value).__name__}"
            )
        else:
            problem = check_value(value, hints.get(key, Any), key, where="trl_args")
            if problem is not None:
                problems.append(problem)
    return problems
