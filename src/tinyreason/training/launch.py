"""``tinyreason train``: the trainers from the command line, under ``torchrun`` or ``accelerate``.

The command is the same code as ``tr.trainer(...).train(ds)``. Launched by ``torchrun`` or
``accelerate launch`` it runs once per process; every process trains, rank 0 alone prints and writes
the student's card. Config templates for FSDP and DeepSpeed ZeRO-3 ship with the package
(:func:`accelerate_config`).
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError, DataError

__all__ = [
    "ACCELERATE_CONFIGS",
    "accelerate_config",
    "add_train_parser",
    "load_traces",
    "parse_sets",
]

_DATA = Path(__file__).resolve().parent.parent / "data"

# The --help text (the module docstring's reST markup reads badly in a terminal).
_DESCRIPTION = """\
Fine-tune a student on reasoning traces: the same code as tr.trainer(...).train(ds).

Under torchrun or accelerate launch it runs once per process; every process trains and rank 0
writes the student, its tinyreason.json and its model card. The global batch stays the same on
any number of processes (gradient accumulation is derived from WORLD_SIZE).

  tinyreason train --data traces.jsonl --base Qwen/Qwen2.5-0.5B-Instruct --trainer lora
  accelerate launch --config_file FSDP_YAML -m tinyreason train --data ... --base ...

FSDP_YAML: python -c 'import tinyreason as tr; print(tr.training.accelerate_config("fsdp"))'
"""

#: Shipped accelerate configs: name -> (yaml, files it refers to).
ACCELERATE_CONFIGS = {
    "fsdp": ("fsdp.yaml", ()),
    "deepspeed_zero3": ("deepspeed_zero3.yaml", ("deepspeed_zero3.json",)),
}


def accelerate_config(name: str, dest: str | Path | None = None) -> Path:
    """The path of a shipped accelerate config; with ``dest``, a copy there, ready to launch.

    Args:
        name: ``"fsdp"`` (full shard, auto-wrap on the decoder layer, as s1) or
            ``"deepspeed_zero3"``.
        dest: A folder to copy the config (and the DeepSpeed JSON, its path made absolute) into.

    Raises:
        ConfigError: unknown name.

    Example:
        >>> accelerate_config("fsdp").name
        'fsdp.yaml'
    """
    if name not in ACCELERATE_CONFIGS:
        raise ConfigError(
            f"unknown accelerate config {name!r}; shipped: {', '.join(ACCELERATE_CONFIGS)}"
        )
    yaml_name, extras = ACCELERATE_CONFIGS[name]
    if dest is None:
        return _DATA / yaml_name
    folder = Path(dest)
    folder.mkdir(parents=True, exist_ok=True)
    text = (_DATA / yaml_name).read_text()
    for extra in extras:
        shutil.copy(_DATA / extra, folder / extra)
        text = text.replace(f": {extra}", f": {(folder / extra).resolve()}")
    (folder / yaml_name).write_text(text)
    return folder / yaml_name


def parse_sets(items: list[str]) -> dict[str, Any]:
    """``key=value`` pairs from ``--set``; values are JSON when they parse (numbers, true, lists).

    Example:
        >>> parse_sets(["max_steps=10", "adam_betas=[0.9, 0.98]", "packing=true", "bf16=null"])
        {'max_steps': 10, 'adam_betas': [0.9, 0.98], 'packing': True, 'bf16': None}
        >>> parse_sets(["attn_implementation=sdpa"])
        {'attn_implementation': 'sdpa'}
    """
    options: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set takes key=value, got {item!r}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            lowered = raw.strip().lower()
            value = {"true": True, "false": False, "none": None}.get(lowered, raw)
        options[key.strip().replace("-", "_")] = value
    return options


def load_traces(source: str) -> Any:
    """Traces from a saved Selection, a ``save_to_disk`` folder, data files, a file or a hub name.

    A folder written by ``Selection.save`` loads as that Selection: the trainer trains on its kept
    rows and the model card records its funnel.

    Raises:
        DataError: nothing readable there.
    """
    from datasets import load_from_disk

    from ..data import load_problems
    from ..selection.report import SUMMARY_FILE

    path = Path(source)
    if path.is_dir() and (path / SUMMARY_FILE).exists():
        from ..selection import Selection

        return Selection.load(path)
    if path.is_dir():
        if (path / "state.json").exists() or (path / "dataset_dict.json").exists():
            loaded = load_from_disk(str(path))
            return loaded["train"] if hasattr(loaded, "keys") else loaded
        files = sorted(
            f for ext in ("jsonl", "json", "parquet", "csv") for f in path.glob(f"*.{ext}")
        )
        if not files:
            raise DataError(
                f"{path} holds no dataset: save one with Dataset.save_to_disk, or put .jsonl / "
                ".json / .parquet / .csv files in it."
            )
        return load_problems([str(f) for f in files])
    return load_problems(source)


def add_train_parser(commands: Any) -> None:
    """Add the ``train`` subcommand to the ``tinyreason`` parser's subcommands."""
    train = commands.add_parser(
        "train",
        help="fine-tune a student on traces (works under torchrun and accelerate launch)",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--data", required=True, help="traces: dataset folder, file or hub name")
    train.add_argument("--base", required=True, help="model folder or hub id to start from")
    train.add_argument("--format", default="qwen-s1", help="student format (default qwen-s1)")
    train.add_argument("--trainer", default="full", help="full or lora (default full)")
    train.add_argument("--preset", default=None, help="s1 or s1-lora (default: the trainer's)")
    train.add_argument(
        "--output", default=None, help="student folder (default runs/<base>-<trainer>)"
    )
    train.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any trainer option, e.g. --set max_steps=100 --set lora_r=8 (repeatable)",
    )
    train.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="CHECKPOINT",
        help="resume from the latest checkpoint in --output, or from CHECKPOINT",
    )
    train.add_argument("--preflight", action="store_true", help="check the data only; no training")
    train.add_argument("--gpu", default=None, help="GPU type for the estimate (default: this one)")
    train.set_defaults(run=run_train)


def _say(message: str) -> None:
    from .config import rank

    if rank() == 0:
        print(message, flush=True)


def run_train(args: argparse.Namespace) -> int:
    """Run ``tinyreason train`` with parsed arguments; returns the exit code."""
    from ..registry import build

    options = parse_sets(args.set)
    options.setdefault("format", args.format)
    if args.preset is not None:
        options["preset"] = args.preset
    if args.output is not None:
        options["output_dir"] = args.output
    if args.resume is not None:
        options["resume_from_checkpoint"] = args.resume
    trainer = build("trainer", args.trainer, base=args.base, **options)
    dataset = load_traces(args.data)
    if args.preflight:
        report = trainer.preflight(dataset, gpu=args.gpu)
        _say(repr(report))
        return 0
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("tinyreason.training")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        student = trainer.train(dataset)
    finally:
        log.removeHandler(handler)
    _say(json.dumps({"student": str(student.path), "metrics": dict(student.metrics)}, default=str))
    return 0
