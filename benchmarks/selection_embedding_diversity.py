"""Embedding diversity: k-center greedy on 59K x 384 embeddings down to 1,000.

``tr.selector("embedding-diversity", k=1000, embeddings=vectors)`` on 59,029 random unit vectors
(float32, all-MiniLM-L6-v2's dimension), against the straightforward implementation: each step
computes every row's distance to the newest center (one pass over the whole matrix per pick,
float32 numpy) and takes the argmax. Both start from the same row; the picks must be identical.
Also shown: a from-scratch version that recomputes the distances to *all* centers at every step,
timed for its first ``--recompute-steps`` picks and extrapolated (its cost grows with k squared).

Median of ``--repeats`` interleaved runs. Target: the selector under 15 s on 2 cores.

Run: ``.venv/bin/python benchmarks/selection_embedding_diversity.py``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from datasets import Dataset

import tinyreason as tr


def naive_k_center(vectors: np.ndarray, k: int, first: int) -> list[int]:
    """The textbook loop: after each pick, every row's distance to the new center."""
    nearest = np.full(len(vectors), np.inf, dtype=np.float32)
    chosen = [first]
    for _ in range(k - 1):
        np.minimum(nearest, 2.0 - 2.0 * (vectors @ vectors[chosen[-1]]), out=nearest)
        nearest[chosen] = -np.inf
        chosen.append(int(np.argmax(nearest)))
    return chosen


def recompute_k_center(vectors: np.ndarray, steps: int, first: int) -> list[int]:
    """From scratch each step: distances of every row to every center chosen so far."""
    chosen = [first]
    for _ in range(steps - 1):
        d2 = 2.0 - 2.0 * (vectors @ vectors[chosen].T)
        nearest = d2.min(axis=1)
        nearest[chosen] = -np.inf
        chosen.append(int(np.argmax(nearest)))
    return chosen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=59029)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--recompute-steps", type=int, default=50)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((args.rows, args.dim), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    pool = Dataset.from_dict({"id": [f"q{i}" for i in range(args.rows)]})
    selector = tr.selector("embedding-diversity", k=args.k, embeddings=vectors, seed=0)
    first = int(np.random.default_rng(0).integers(args.rows))  # the selector's first pick

    runs: dict[str, list[float]] = {"selector": [], "naive": []}
    picks: dict[str, list[int]] = {}
    for _ in range(args.repeats):
        start = time.perf_counter()
        selection = tr.select(pool, selector)
        runs["selector"].append(time.perf_counter() - start)
        picks["selector"] = [int(i[1:]) for i in selection.kept["id"]]
        start = time.perf_counter()
        picks["naive"] = naive_k_center(vectors, args.k, first)
        runs["naive"].append(time.perf_counter() - start)

    start = time.perf_counter()
    recompute_k_center(vectors, args.recompute_steps, first)
    partial = time.perf_counter() - start
    # Step s costs ~s matrix-vector products: the total grows with k^2 / 2.
    projected = partial * (args.k**2) / (args.recompute_steps**2)

    fast, naive = statistics.median(runs["selector"]), statistics.median(runs["naive"])
    same = sum(a == b for a, b in zip(picks["selector"], picks["naive"], strict=True))
    common = len(set(picks["selector"]) & set(picks["naive"]))
    print(f"{args.rows:,} x {args.dim} unit vectors -> k={args.k:,}, median of {args.repeats}:")
    print(f"  tr.selector('embedding-diversity'):  {fast:6.2f} s  (target < 15 s)")
    print(f"  straightforward k-center (baseline): {naive:6.2f} s")
    print(
        f"  speed-up: {naive / fast:.1f}x; same pick at the same step: {same} of {args.k}, "
        f"same rows picked: {common} of {args.k} (float32 rounding differs between BLAS kernels)"
    )
    print(
        f"  from-scratch recomputation: {partial:.1f} s for {args.recompute_steps} picks, "
        f"~{projected / 60:.0f} min projected for {args.k:,}"
    )


if __name__ == "__main__":
    main()
