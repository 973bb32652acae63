"""Training tokens per second: padded batches against padding-free and packed ones.

s1K's traces vary about tenfold in length, so a padded batch spends much of its compute on padding.
This runs the ``full`` trainer on a synthetic traces set whose row lengths are log-uniform over a
10x range, on a small local Qwen2, in four ways:

* padded, random order (TRL's default and s1's);
* padded, grouped by length (``group_by_length=True``: less padding, same masking);
* padding-free (``padding_free=True``: each batch flattened into one sequence);
* packed (``packing=True``: TRL's best-fit decreasing into blocks of 1,024 and 4,096 tokens).

Throughput counts real tokens only (padding excluded), over ``trainer.train()``; ratios are against
padded random batches measured in the same run, median of ``--repeats`` interleaved runs.

Run: ``.venv/bin/python benchmarks/training_packing.py``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import random
import statistics
import tempfile
import warnings
from pathlib import Path

import torch

import tinyreason as tr
from tinyreason.testing import tiny_model

MODES = {
    "padded, random order": {},
    "padded, grouped by length": {"group_by_length": True},
    "padding-free": {"padding_free": True},
    "packed (BFD), block 1024": {"packing": True, "block_size": 1024},
    "packed (BFD), block 4096": {"packing": True, "block_size": 4096},
}


def skewed_traces(rows: int, low: int, high: int, seed: int = 0):
    """Traces whose thinking has log-uniform lengths in [low, high] words."""
    rng = random.Random(seed)
    teacher = tr.testing.FakeTeacher()
    problems = []
    for i in range(rows):
        words = round(math.exp(rng.uniform(math.log(low), math.log(high))))
        steps = " ".join(f"{rng.randint(1, 9)} + {rng.randint(1, 9)}" for _ in range(words // 4))
        problems.append(tr.Problem(f"p{i}", f"Add these numbers: {i} and {i + 1}.", answer="x"))
        teacher.enqueue(f"Wait, {steps}", f"Answer: {i}")
    return teacher.distill(problems)


def run(base: Path, traces, mode: dict, args: argparse.Namespace, out: Path) -> dict:
    packed = mode.get("packing", False)
    mode = {k: v for k, v in mode.items() if k != "block_size"} | {
        "block_size": mode.get("block_size", args.block)
    }
    trainer = tr.trainer(
        "full",
        base=str(base),
        format="think-tags",
        output_dir=str(out),
        max_steps=args.steps,
        batch_size=1 if packed else args.batch,
        per_device_batch_size=1 if packed else args.batch,
        learning_rate=1e-4,
        logging_steps=args.steps,
        progress=False,
        **mode,
    )
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")  # the Trainer prints its logs when tqdm is off
        student = trainer.train(traces)
    m = student.metrics
    return {
        "tokens_per_s": m["tokens"] / m["runtime_s"],
        "padding": m["padding_fraction"],
        "tokens_per_step": m["tokens"] / m["steps"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=256)
    parser.add_argument("--batch", type=int, default=8, help="rows per padded batch")
    parser.add_argument("--block", type=int, default=1024, help="block size (tokens)")
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: steadiest)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="tinyreason-packing-"))
    base = tiny_model(work / "base", hidden_size=args.hidden, num_layers=args.layers)
    traces = skewed_traces(args.rows, 24, 720)
    report = tr.trainer("full", base=str(base), format="think-tags").preflight(traces)
    r = report.row_tokens
    print(
        f"{args.rows} rows of {r['min']:.0f}-{r['max']:.0f} tokens (median {r['median']:.0f}); "
        f"model width {args.hidden}, {args.layers} layers; {args.steps} steps a run; "
        f"{args.threads} thread(s)"
    )
    results: dict[str, list[dict]] = {name: [] for name in MODES}
    for i in range(args.repeats):
        for name, mode in MODES.items():
            results[name].append(run(base, traces, mode, args, work / f"run-{i}"))
    baseline = statistics.median(x["tokens_per_s"] for x in results["padded, random order"])
    print(f"{'batching':<28}{'tokens/s':>10}{'padding':>9}{'tokens/step':>13}{'ratio':>8}")
    for name, runs in results.items():
        speed = statistics.median(x["tokens_per_s"] for x in runs)
        padding = statistics.median(x["padding"] for x in runs)
        per_step = statistics.median(x["tokens_per_step"] for x in runs)
        print(f"{name:<28}{speed:>10.0f}{padding:>9.1%}{per_step:>13.0f}{speed / baseline:>8.2f}")


if __name__ == "__main__":
    main()
