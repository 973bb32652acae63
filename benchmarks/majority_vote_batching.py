"""Majority voting with all samples in one batched call, against one call per sample.

``tr.scaler("majority-vote", n=8)`` asks the backend for 8 samples of every prompt in the same
``generate`` call (8 rows per prompt). The baseline draws the 8 samples with 8 sequential calls
of one sample each, as a Python loop over samples would. Same model, prompts, budget and
temperature; seconds per problem, median of ``--repeats`` interleaved runs. Target: >= 3x.

Run: ``.venv/bin/python benchmarks/majority_vote_batching.py``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

import tinyreason as tr
from tinyreason.scaling import TransformersBackend
from tinyreason.testing import tiny_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=8, help="samples per problem")
    parser.add_argument("--problems", type=int, default=8)
    parser.add_argument("--thinking", type=int, default=64, help="thinking budget per sample")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)

    folder = tiny_model(Path(tempfile.mkdtemp()) / "model", hidden_size=128, num_layers=3)
    backend = TransformersBackend(folder, format="think-tags", batch_size=64, progress=False)
    problems = [
        tr.Problem(f"p{i}", f"What is {i} + {2 * i}?", answer=str(3 * i))
        for i in range(args.problems)
    ]
    forcing = tr.scaler("budget-forcing", max_thinking=args.thinking, max_answer_tokens=8)
    vote = tr.scaler("majority-vote", n=args.n, temperature=0.7, inner=forcing)
    one_sample = tr.scaler(
        "budget-forcing", max_thinking=args.thinking, max_answer_tokens=8, temperature=0.7
    )

    def batched() -> None:
        vote.solve(backend, problems, seed=0)

    def sequential() -> None:
        for i in range(args.n):
            one_sample.solve(backend, problems, seed=i)

    runs: dict[str, list[float]] = {"batched": [], "sequential": []}
    batched(), sequential()  # warm-up
    for _ in range(args.repeats):
        for name, fn in (("batched", batched), ("sequential", sequential)):
            start = time.perf_counter()
            fn()
            runs[name].append((time.perf_counter() - start) / len(problems))
    b, s = statistics.median(runs["batched"]), statistics.median(runs["sequential"])
    print(
        f"{args.problems} problems x {args.n} samples, thinking budget {args.thinking}, "
        f"{torch.get_num_threads()} threads; median of {args.repeats}"
    )
    print(f"   batched: {1e3 * b:8.1f} ms/problem (one generate call, {args.n} rows per prompt)")
    print(f"sequential: {1e3 * s:8.1f} ms/problem ({args.n} calls of one sample)")
    print(f"speed-up sequential / batched = {s / b:.2f}x  (target >= 3x)")


if __name__ == "__main__":
    main()
