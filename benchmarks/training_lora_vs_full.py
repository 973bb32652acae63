"""LoRA against full fine-tuning on the same model: peak memory and time per optimiser step.

Each trainer runs in its own fresh subprocess, so each peak resident set size (``ru_maxrss``) is
that run's alone (tracemalloc cannot see torch's allocations). Reported per run: memory after the
imports, after the model and trainer are built, the peak over training, the peak's growth over the
loaded model (optimiser state, gradients, activations), the median step time over the steps after
the first, and the trainable parameters. Ratios are LoRA against full, measured in the same run,
without gradient checkpointing (the CPU default) and with it (the GPU default: activations shrink
to one per layer, so gradients and optimiser state, which LoRA removes, dominate).

The model is a Qwen2-shaped decoder built locally with random weights (width 768, 8 layers, about
43M parameters by default), big enough that weights and optimiser state dominate Python's own.

Run: ``.venv/bin/python benchmarks/training_lora_vs_full.py``
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path


def _rss_mib() -> float:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize() / 2**20


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(kind: str, base: str, args: argparse.Namespace) -> None:
    """One training run; prints one JSON line."""
    import torch

    torch.set_num_threads(args.threads)
    from transformers import TrainerCallback

    import tinyreason as tr

    imported = _rss_mib()
    teacher = tr.testing.FakeTeacher()
    problems = [tr.Problem(f"p{i}", f"Add {i} and {i + 1}.", answer="x") for i in range(16)]
    for i in range(16):
        teacher.enqueue(" ".join(f"{i} + {j} = {i + j}." for j in range(args.words // 5)), "x")
    traces = teacher.distill(problems)
    options = {"lora_r": args.rank} if kind == "lora" else {}
    options["gradient_checkpointing"] = args.checkpointing == "on"
    trainer = tr.trainer(
        kind,
        base=base,
        format="think-tags",
        output_dir=str(Path(base).parent / f"{kind}-{args.checkpointing}"),
        max_steps=args.steps,
        batch_size=args.batch,
        per_device_batch_size=args.batch,
        learning_rate=1e-4,
        progress=False,
        **options,
    )
    sft = trainer.sft_trainer(traces)
    loaded = _rss_mib()
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, *a, **k):
            self.start = time.perf_counter()

        def on_step_end(self, *a, **k):
            times.append(time.perf_counter() - self.start)

    sft.add_callback(Clock())
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        sft.train()
    trainable = sum(p.numel() for p in sft.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in sft.model.parameters())
    print(
        json.dumps(
            {
                "kind": kind,
                "imported_mib": imported,
                "loaded_mib": loaded,
                "peak_mib": _peak_mib(),
                "step_s": statistics.median(times[1:]),
                "trainable": trainable,
                "parameters": total,
                "tokens_per_step": sft.data_collator.tokens / max(1, len(times)),
            }
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--words", type=int, default=100, help="thinking words per row")
    parser.add_argument("--checkpointing", default="both", choices=["on", "off", "both"])
    parser.add_argument("--rank", type=int, default=16, help="LoRA rank")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--base", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.base, args)
        return
    from tinyreason.testing import tiny_model

    base = tiny_model(
        Path(tempfile.mkdtemp(prefix="tinyreason-lora-")) / "base",
        hidden_size=args.hidden,
        num_layers=args.layers,
        num_heads=args.heads,
    )
    modes = ["off", "on"] if args.checkpointing == "both" else [args.checkpointing]
    for mode in modes:
        runs = {}
        for kind in ("full", "lora"):
            command = [sys.executable, __file__, "--child", kind, "--base", str(base)]
            options = vars(args) | {"checkpointing": mode}
            command += [f"--{k}={v}" for k, v in options.items() if k not in ("child", "base")]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            runs[kind] = json.loads(done.stdout.strip().splitlines()[-1])
        report(runs, args, mode)


def report(runs: dict, args: argparse.Namespace, mode: str) -> None:
    full, lora = runs["full"], runs["lora"]
    print(
        f"model: width {args.hidden}, {args.layers} layers, {full['parameters'] / 1e6:.1f}M "
        f"parameters, fp32; batch {args.batch} x ~{full['tokens_per_step'] / args.batch:.0f} "
        f"tokens; {args.steps} steps; {args.threads} threads; LoRA r={args.rank} all-linear; "
        f"gradient checkpointing {mode}"
    )
    print(
        f"{'run':<6}{'trainable':>12}{'imported':>10}{'loaded':>9}{'peak':>9}{'growth':>9}"
        f"{'s/step':>9}   (MiB, resident)"
    )
    for kind, r in runs.items():
        growth = r["peak_mib"] - r["loaded_mib"]
        print(
            f"{kind:<6}{r['trainable']:>12,}{r['imported_mib']:>10.0f}{r['loaded_mib']:>9.0f}"
            f"{r['peak_mib']:>9.0f}{growth:>9.0f}{r['step_s']:>9.3f}"
        )
    growth = (lora["peak_mib"] - lora["loaded_mib"]) / (full["peak_mib"] - full["loaded_mib"])
    print(
        f"LoRA / full: peak {lora['peak_mib'] / full['peak_mib']:.2f}, growth over the loaded "
        f"model {growth:.2f}, step time {lora['step_s'] / full['step_s']:.2f}"
    )


if __name__ == "__main__":
    main()
