"""Decontamination: 59,029 training questions against 1,000 benchmark questions (word 8-grams).

Synthetic questions of 25-80 words drawn from a 5,000-word vocabulary (Zipf-distributed, like
real text); ``--planted`` training questions copy a 12-word span of a benchmark question, and every
one of them must be found. Timed: ``tr.select(pool, tr.selector("decontaminate", ...))``, index
building included. For reference, s1's own method (``data/decontaminate_util.py``: a dict of
joined 8-gram strings for each side, then a scan of the evaluation n-grams) on the same data.

Run: ``.venv/bin/python benchmarks/selection_decontaminate.py``
"""

from __future__ import annotations

import argparse
import collections
import random
import statistics
import time

from datasets import Dataset

import tinyreason as tr


def make_questions(n: int, rng: random.Random, vocabulary: list[str], weights: list[float]):
    return [" ".join(rng.choices(vocabulary, weights, k=rng.randint(25, 80))) for _ in range(n)]


def s1_method(train: list[str], evaluation: list[str], n: int = 8) -> set[int]:
    """s1's decontaminate_util: n-gram lookups of joined strings for both sides."""

    def lookup(documents: list[str]) -> dict[str, set[int]]:
        table: dict[str, set[int]] = collections.defaultdict(set)
        for doc_id, document in enumerate(documents):
            words = " ".join(document.lower().strip().split()).split()
            for i in range(len(words) - n + 1):
                table[" ".join(words[i : i + n])].add(doc_id)
        return table

    train_lookup, test_lookup = lookup(train), lookup(evaluation)
    found: set[int] = set()
    for gram in test_lookup:
        if gram in train_lookup:
            found.update(train_lookup[gram])
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=59029)
    parser.add_argument("--benchmark", type=int, default=1000)
    parser.add_argument("--planted", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rng = random.Random(0)
    vocabulary = [f"w{i}" for i in range(5000)]
    weights = [1 / (i + 1) for i in range(5000)]
    evaluation = make_questions(args.benchmark, rng, vocabulary, weights)
    train = make_questions(args.rows, rng, vocabulary, weights)
    planted = rng.sample(range(args.rows), args.planted)
    for i in planted:
        words = rng.choice(evaluation).split()
        start = rng.randrange(len(words) - 12)
        train[i] = train[i] + " " + " ".join(words[start : start + 12]).upper()
    pool = Dataset.from_dict({"id": [f"q{i}" for i in range(args.rows)], "question": train})
    selector = tr.selector("decontaminate", benchmarks={"bench": evaluation})

    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        selection = tr.select(pool, selector)
        times.append(time.perf_counter() - start)
    dropped = {int(i[1:]) for i in selection.dropped["id"]}
    start = time.perf_counter()
    s1_found = s1_method(train, evaluation)
    s1_time = time.perf_counter() - start

    print(
        f"{args.rows:,} training questions vs {args.benchmark:,} benchmark questions, word 8-grams:"
    )
    print(
        f"  tr.selector('decontaminate'): median {statistics.median(times):.2f} s over "
        f"{args.repeats} runs; dropped {len(dropped):,} (planted {args.planted}, all found: "
        f"{set(planted) <= dropped})"
    )
    print(
        f"  s1's method, same data:       {s1_time:.2f} s; flagged {len(s1_found):,} "
        f"(same rows: {s1_found == dropped})"
    )
    first = selection.dropped[0]
    print(f"  sample reason/detail: {first['reason']}: {first['detail']}")


if __name__ == "__main__":
    main()
