"""s1's whole selection on a synthetic 59,029-row pool with precomputed features.

The pool mimics s1's ``qfq/train_featurized`` joined with the Gemini traces: s1's 16 sources in
their proportions, ~8% failed calls, ~4% questions with s1's formatting patterns, 51 MSC domains,
trace lengths in tokens (log-normal, mean ~3.6K), and stored judgments of Qwen2.5-7B and 32B
(graded by Claude) plus the teacher's own correctness. The pipeline is s1's: quality ->
difficulty from the stored judgments (no model call) -> diversity to 1,000 with s1's
include-first rules and its switch to the AIME+GPQA domain distribution after 700 rows.

Timed: ``tr.select(pool, quality, difficulty, diversity)``, median of ``--repeats`` runs (building
the pool is not timed). Target: under 5 s.

Run: ``.venv/bin/python benchmarks/selection_s1_pipeline.py``
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import numpy as np

import tinyreason as tr
from tinyreason.selection import s1_include_first
from tinyreason.selection.domains import load_msc

# s1's sources: question count and mean thinking tokens (reference/s1.md, section 1).
SOURCES = {
    "AI-MO/NuminaMath-CoT": (30660, 4100),
    "qfq/openaimath/Algebra": (11999, 2900),
    "GAIR/OlympicArena": (4250, 3200),
    "KbsdJames/Omni-MATH": (4238, 4400),
    "baber/agieval": (2385, 1200),
    "0xharib/xword1": (999, 700),
    "Hothan/OlympiadBench": (896, 3900),
    "qq8933/AIME_1983_2024": (890, 4700),
    "TIGER-Lab/TheoremQA": (747, 2100),
    "codeparrot/usaco": (519, 3600),
    "daman1209arora/jeebench": (515, 2900),
    "Idavidrein/gpqa": (348, 2900),
    "OpenDFM/SciEval": (227, 700),
    "simplescaling/s1-prob": (182, 4000),
    "livecodebench/code_generation_lite": (151, 3500),
    "simplescaling/s1-teasers": (23, 4100),
}
SOLVERS = ["local:Qwen/Qwen2.5-7B-Instruct", "local:Qwen/Qwen2.5-32B-Instruct"]
JUDGE = "anthropic:claude-3-5-sonnet-20241022"
VOCABULARY = (
    "find the number of integers such that sum of all real roots triangle circle area prove "
    "that for every positive integer n there exists a prime probability chosen random point "
    "inside square function satisfies equation determine smallest value expression given "
    "sequence defined by recurrence compute remainder when divided matrix determinant"
)
WORDS = VOCABULARY.split()
FORMATS = ["[asy] draw((0,0)--(1,1)); [/asy]", "![Image](https://x/y.png)", "p3.", "**12**"]


def make_pool(n_total: int = 59029, seed: int = 0):
    """The synthetic featurised pool (a Dataset)."""
    from datasets import Dataset

    rng = np.random.default_rng(seed)
    pyrng = random.Random(seed)
    counts = [c for c, _ in SOURCES.values()]
    sources = np.repeat(list(SOURCES), counts)[:n_total]
    means = np.repeat([m for _, m in SOURCES.values()], counts)[:n_total]
    n = len(sources)
    domains = [d.title for d in load_msc()][:51]
    weights = 1.0 / np.arange(1, 52) ** 1.1
    domain = rng.choice(domains, size=n, p=weights / weights.sum())
    failed = rng.random(n) < 0.083
    formatted = rng.random(n) < 0.047
    sigma = 0.5
    lengths = rng.lognormal(np.log(means) - sigma**2 / 2, sigma, size=n)
    lengths = np.clip(lengths, 100, 32000).astype(np.int64)
    # Harder questions (long traces) are solved less often; the two solvers agree mostly.
    hard = rng.random(n) < 1 / (1 + np.exp(-(np.log(lengths) - np.log(3000)) * 2.2))
    solved7 = ~hard & (rng.random(n) < 0.75)
    solved32 = (~hard & (rng.random(n) < 0.93)) | solved7
    competition = np.isin(sources, ["qq8933/AIME_1983_2024", "Idavidrein/gpqa"])
    teacher_ok = rng.random(n) < np.where(competition, 0.4, 0.6)
    questions, thinking, attempts, errors, judgments = [], [], [], [], []
    for i in range(n):
        words = pyrng.choices(WORDS, k=pyrng.randint(25, 70))
        if formatted[i]:
            words.insert(pyrng.randrange(len(words)), pyrng.choice(FORMATS))
        questions.append(f"Problem {i}: " + " ".join(words) + "?")
        thinking.append([] if failed[i] else [f"Let me think about problem {i} step by step."])
        attempts.append("" if failed[i] else f"The answer is {i % 97}.")
        errors.append("server: HTTP 503" if failed[i] else None)
        judgments.append(
            [
                {
                    "solver": SOLVERS[0],
                    "judge": f"llm:{JUDGE}",
                    "answer": f"{i % 89}",
                    "extracted": f"{i % 89}",
                    "correct": bool(solved7[i]),
                },
                {
                    "solver": SOLVERS[1],
                    "judge": f"llm:{JUDGE}",
                    "answer": f"{i % 83}",
                    "extracted": f"{i % 83}",
                    "correct": bool(solved32[i]),
                },
            ]
        )
    return Dataset.from_dict(
        {
            "id": [f"q{i}" for i in range(n)],
            "question": questions,
            "answer": [str(i % 97) for i in range(n)],
            "solution": ["" for _ in range(n)],
            "cot_type": ["math"] * n,
            "source_type": sources.tolist(),
            "thinking_trajectories": thinking,
            "attempt": attempts,
            "finish_reason": ["error" if f else "stop" for f in failed],
            "error": errors,
            "usage": [
                {"input_tokens": 100, "output_tokens": 200, "thinking_tokens": int(t)}
                for t in lengths
            ],
            "domain": domain.tolist(),
            "trace_tokens": lengths,
            "teacher_correct": teacher_ok.tolist(),
            "difficulty_judgments": judgments,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=59029)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    pool = make_pool(args.rows)
    print(f"built a {len(pool):,}-row pool in {time.perf_counter() - start:.1f} s (not timed)")

    selectors = (
        tr.selector("quality"),
        tr.selector("difficulty", solvers=SOLVERS, judge=JUDGE, progress=False),
        tr.selector(
            "diversity",
            k=args.k,
            seed=0,
            domain_column="domain",
            include_first=s1_include_first(),
            switch_after=700,
        ),
    )
    times, selection = [], None
    for _ in range(args.repeats):
        start = time.perf_counter()
        selection = tr.select(pool, *selectors)
        times.append(time.perf_counter() - start)
    assert selection is not None
    print(selection)
    summary = selection.summary()
    print(
        f"domains kept: {len(summary['domains'])}; included first: "
        f"{summary['stages'][-1]['included_first']}; median trace tokens kept: "
        f"{summary['lengths']['median']:,.0f} (pool: {int(np.median(pool['trace_tokens'])):,})"
    )
    print(
        f"s1 pipeline on {len(pool):,} rows -> {len(selection.kept):,}: "
        f"median {statistics.median(times):.2f} s over {args.repeats} runs "
        f"(min {min(times):.2f} s; target < 5 s)"
    )


if __name__ == "__main__":
    main()
