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
import sys
from pathlib import Path
from typing import Any

from .. import artifacts
from ..errors import ConfigError
from .inputs import load_traces

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
    text = (_DATA / yaml_name).read_text()
    for extra in extras:
        artifacts.write_bytes(folder / extra, (_DATA / extra).read_bytes())
        text = text.replace(f": {extra}", f": {(folder / extra).resolve()}")
    return artifacts.write_text(folder / yaml_name, text)


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
        help="resume from the newest complete checkpoint in --output (an error if none), "
        "from CHECKPOINT, or with 'auto' from the newest complete one or else from the start",
    )
    train.add_argument(
        "--overwrite",
        action="store_true",
        help="write into an --output folder that holds other files (only tinyreason's files are "
        "replaced) and, on a fresh start, delete an earlier run's checkpoints there",
    )
    train.add_argument("--preflight", action="store_true", help="check the data only; no training")
    train.add_argument("--gpu", default=None, help="GPU type for the estimate (default: this one)")
    train.set_defaults(run=run_train)


def output_options(
    output: str | Path | None, resume: str | bool | None, overwrite: bool
) -> dict[str, Any]:
    """The trainer options for ``train``'s output settings (flags or a recipe's section).

    Args:
        output: Where the student goes (None: the trainer's default).
        resume: What ``--resume`` gives: True (the newest complete checkpoint), ``"auto"`` or a
            checkpoint (None: start afresh).
        overwrite: Replace an existing student.

    Returns:
        Only the options that were set, under the trainers' names.

    Example:
        >>> output_options("runs/s1", None, True)
        {'output_dir': 'runs/s1', 'overwrite': True}
    """
    options: dict[str, Any] = {}
    if output is not None:
        options["output_dir"] = output
    if resume is not None:
        options["resume_from_checkpoint"] = resume
    if overwrite:
        options["overwrite"] = True
    return options


def train_with_progress(trainer: Any, dataset: Any) -> Any:
    """Train with the trainer's progress lines (the ``tinyreason.training`` logger) on stdout.

    The command-line ``train`` (flags or a recipe) shows them; library callers choose their own
    logging, so the handler is removed again when training ends or fails.

    Args:
        trainer: The trainer (``tr.trainer(...)``).
        dataset: The traces it trains on.

    Returns:
        What ``trainer.train(dataset)`` returns: the trained student.

    Example:
        >>> class Echo:
        ...     def train(self, dataset):
        ...         logging.getLogger("tinyreason.training").info("step 1")
        ...         return dataset
        >>> train_with_progress(Echo(), ["trace"])
        step 1
        ['trace']
    """
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("tinyreason.training")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        return trainer.train(dataset)
    finally:
        log.removeHandler(handler)


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
    options.update(output_options(args.output, args.resume, args.overwrite))
    trainer = build("trainer", args.trainer, base=args.base, **options)
    dataset = load_traces(args.data)
    if args.preflight:
        report = trainer.preflight(dataset, gpu=args.gpu)
        _say(repr(report))
        return 0
    student = train_with_progress(trainer, dataset)
    _say(json.dumps({"student": str(student.path), "metrics": dict(student.metrics)}, default=str))
    return 0
