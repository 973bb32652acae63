"""Answer extraction and normalisation on texts built to defeat them (the claim: each under 2 s).

The tests check, by counting bytecodes, that the work grows linearly with the text, and that
strings this long never reach math-verify; a count misses work inside one C call (a regex that
backtracks), so this times the full-size texts. Each is set beside an ordinary text of the same
length (a worked solution repeated), the baseline, measured in the same run.

Run: ``.venv/bin/python benchmarks/answers_pathological.py``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

from tinyreason.answers import grading
from tinyreason.evaluation import ANSWER_KINDS, equivalent, extract_answer, normalize

THINK_END = "<|im_start|>answer"
ORDINARY = "We add 3 and 4, so $x = 7$. Then $2x = 14$ and the answer is $\\boxed{14}$.\n"

# The texts of tests/evaluation/test_answers.py and tests/evaluation/test_grading.py.
EXTRACTION = {
    "unclosed boxes": r"\boxed{" * 20_000,
    "empty answer lines": "Answer:" * 20_000,
    "braces around a box": "{" * 50_000 + r"\boxed{1}" + "}" * 10,
    "dollars": "$" * 50_000,
    "parentheses": "(" * 50_000,
    "thousands separators": "1," * 50_000,
    "backslashes": "\\" * 50_000,
}
NORMALISATION = {
    "nested braces": "{" * 20_000 + "}" * 20_000,
    "nested boxes": "\\boxed{" * 20_000 + "}" * 20_000,
    "left": "\\left" * 20_000,
    "spaces then a unit": " " * 50_000 + "degrees",
    "numbers then a unit": "1 " * 30_000 + "cm",
}


def extract_all(text: str) -> None:
    for kind in ANSWER_KINDS:
        extract_answer(text, kind=kind, think_end=THINK_END)


def normalise_and_compare(text: str) -> None:
    grading._equivalent.cache_clear()  # equivalent() caches its verdicts: time the work
    normalize(text)
    equivalent(text, text + "1", timeout=1.0)


def best(work: Callable[[str], None], text: str, repeats: int) -> float:
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        work(text)
        runs.append(time.perf_counter() - start)
    return min(runs)


def report(title: str, work: Callable[[str], None], texts: dict[str, str], repeats: int) -> None:
    print(f"{title} (best of {repeats}; ratio: against an ordinary text of the same length)")
    for label, text in texts.items():
        ordinary = (ORDINARY * (len(text) // len(ORDINARY) + 1))[: len(text)]
        seconds, baseline = best(work, text, repeats), best(work, ordinary, repeats)
        verdict = "ok" if seconds < 2.0 else "OVER 2 s"
        print(
            f"  {label:22s} {len(text):7d} chars {seconds:7.3f} s"
            f"  x{seconds / baseline:6.2f}  {verdict}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    report("extract_answer, every kind", extract_all, EXTRACTION, args.repeats)
    report("normalize + equivalent", normalise_and_compare, NORMALISATION, args.repeats)


if __name__ == "__main__":
    main()
