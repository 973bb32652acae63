"""What each of s1's other control methods costs against plain budget forcing at the same compute.

For every method of ``tr.compare`` (TCC, TCC + BF, SCC, SCC + BF, CCC, rejection sampling) and each
of its settings, this runs the method, then plain budget forcing at the same compute in s1's sense
(the same mean thinking tokens per answer: the smallest cap at which budget forcing keeps as much
thinking as the method did, found by bisection), and prints the ratio of

* generated tokens: every token the model generated, kept or not (rejected tries, thinking cut
  after the last allowed step, answers written again), counted over every generation a backend
  call returned;
* time: the process's CPU time (one torch thread by default), median of ``--repeats`` interleaved
  runs. CPU time rather than wall time, so other work on a shared machine does not decide the
  ratio.

The student is a scripted one (a real Qwen2 forward pass whose next token depends only on the
last one, as in the tests): at temperature 1 it thinks in steps of digits separated by blank
lines and ends its thinking with a fixed chance after each digit, so thinking lengths vary as a
real model's do, and rejection sampling's acceptance rate is that of the length distribution. It
cannot read instructions, so TCC, SCC and CCC think as much as BF(auto) would: their ratios show
the cost of the machinery, not of a student's obedience.

Run: ``.venv/bin/python benchmarks/compare_methods.py``
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Sequence
from typing import Any

import torch
from transformers import Qwen2ForCausalLM

import tinyreason as tr
from tinyreason.scaling import BudgetForcing, TransformersBackend
from tinyreason.scaling.conditional import ClassConditional, StepConditional, TokenConditional
from tinyreason.scaling.rejection import RejectionSampling
from tinyreason.testing.tiny import scripted_model, tiny_tokenizer

STEP_TEXTS = ["step one.\n\nstep two:\n\nstep three\n\n\nfour)\n\nfive\n\n"] * 20
DIGITS = "56789"


def scripted(tokenizer: Any, table: dict[str, dict[str, float]]) -> Qwen2ForCausalLM:
    """A one-layer Qwen2 whose logits after token ``a`` are ``table[a]`` (as the tests build)."""
    return scripted_model(tokenizer, table)


def table(end_chance: float) -> dict[str, dict[str, float]]:
    """Digits; after each: another digit, a blank line (a new step) or the end of thinking.

    Logits are 30 + log(chance): every token the table leaves out (logit 0) is then e^-30 less
    likely than a scripted one, so sampling at temperature 1 stays on the script.
    """
    go_on = 30 + math.log((1 - end_chance) / 2)
    out: dict[str, dict[str, float]] = {"<think>": dict.fromkeys(DIGITS, 30.0)}
    for digit in DIGITS:
        out[digit] = {d: go_on - math.log(len(DIGITS)) for d in DIGITS}
        out[digit] |= {"ĊĊ": go_on, "</think>": 30 + math.log(end_chance)}
    out["ĊĊ"] = dict.fromkeys(DIGITS, 30.0)
    out["</think>"] = {"Ċ": 30.0}
    out["Ċ"] = {"4": 30.0}
    out[":"] = {"4": 30.0}
    out["4"] = {"2": 30.0}
    out["2"] = {"<|im_end|>": 30.0}
    return out


class Counting:
    """A Backend that counts the tokens generated in every generation it returns."""

    def __init__(self, backend: Any):
        self.backend, self.format, self.tokenizer = backend, backend.format, backend.tokenizer
        self.generated = 0

    def prompt(self, question: str) -> str:
        return str(self.backend.prompt(question))

    def generate(self, prompts: Sequence[str], **options: Any) -> list[list[tr.Generation]]:
        out: list[list[tr.Generation]] = self.backend.generate(prompts, **options)
        self.generated += sum(g.thinking_tokens + g.answer_tokens for gs in out for g in gs)
        return out


def run(scaler: Any, backend: Counting, problems: list[tr.Problem], seed: int) -> tuple:
    """(generated tokens, CPU seconds, mean kept thinking tokens) of one scaler's run."""
    before = backend.generated
    start = time.process_time()
    solutions = scaler.solve(backend, problems, seed=seed)
    seconds = time.process_time() - start
    kept = statistics.mean(s.thinking_tokens for s in solutions)
    return backend.generated - before, seconds, kept


def matching_cap(
    inner: BudgetForcing, backend: Counting, problems: list[tr.Problem], kept: float
) -> int:
    """The smallest cap at which budget forcing keeps at least ``kept`` thinking tokens per answer.

    With the same seed, a higher cap only lets the same samples think longer, so the mean kept
    thinking grows with the cap: a bisection finds it.
    """
    low, high = 1, 512
    while low < high:
        middle = (low + high) // 2
        if run(inner.with_budget(middle), backend, problems, seed=0)[2] >= kept:
            high = middle
        else:
            low = middle + 1
    return low


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--problems", type=int, default=64)
    parser.add_argument("--end-chance", type=float, default=0.08, help="per digit")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-tries", type=int, default=64, help="rejection sampling's limit")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    tokenizer = tiny_tokenizer(STEP_TEXTS)
    model = scripted(tokenizer, table(args.end_chance))
    backend = Counting(
        TransformersBackend(model, tokenizer=tokenizer, format="think-tags", progress=False)
    )
    problems = [tr.Problem(f"p{i}", f"question {i}", answer="42") for i in range(args.problems)]
    inner = BudgetForcing(max_new_tokens=512, temperature=1.0, max_answer_tokens=8)
    tokens, steps = [8, 16, 32], [2, 4, 8]
    methods: dict[str, tuple[Any, list[Any]]] = {
        "TCC": (TokenConditional(inner=inner), tokens),
        "TCC+BF": (TokenConditional(forcing=True, inner=inner), tokens),
        "SCC": (StepConditional(inner=inner), steps),
        "SCC+BF": (StepConditional(forcing=True, inner=inner), steps),
        "CCC": (ClassConditional(inner=inner), ["short", "long"]),
        "RS": (RejectionSampling(max_tries=args.max_tries, inner=inner), tokens),
    }
    print(
        f"scripted student: {sum(p.numel() for p in model.parameters()):,} parameters, "
        f"{torch.get_num_threads()} threads; {args.problems} problems, temperature 1, "
        f"end chance {args.end_chance} per digit; median of {args.repeats}"
    )
    print(
        f"{'method':<8}{'setting':>8}{'thinks':>9}{'BF thinks':>10}{'cap':>6}{'tokens':>9}"
        f"{'BF tokens':>10}{'ratio':>8}{'CPU s':>9}{'BF s':>8}{'ratio':>8}"
    )
    totals: dict[str, list[float]] = {}
    for name, (scaler, settings) in methods.items():
        for setting in settings:
            configured = scaler.with_budget(setting)
            _, _, kept = run(configured, backend, problems, seed=0)
            cap = matching_cap(inner, backend, problems, kept)
            bf = inner.with_budget(cap)
            mine, theirs = [], []
            for repeat in range(args.repeats):  # interleaved, the same seeds for both
                mine.append(run(configured, backend, problems, seed=repeat))
                theirs.append(run(bf, backend, problems, seed=repeat))
            g, s, k = (statistics.median(m[i] for m in mine) for i in range(3))
            bg, bs, bk = (statistics.median(t[i] for t in theirs) for i in range(3))
            totals.setdefault(name, [0, 0, 0, 0])
            totals[name] = [a + b for a, b in zip(totals[name], (g, bg, s, bs), strict=True)]
            print(
                f"{name:<8}{setting!s:>8}{k:>9.1f}{bk:>10.1f}{cap:>6}{g:>9.0f}{bg:>10.0f}"
                f"{g / bg:>8.2f}{s:>9.2f}{bs:>8.2f}{s / bs:>8.2f}"
            )
    print("\nover all settings (sums): generated tokens and CPU time against plain BF")
    for name, (g, bg, s, bs) in totals.items():
        print(f"{name:<8} tokens {g / bg:6.2f}x   CPU time {s / bs:6.2f}x")


if __name__ == "__main__":
    main()
