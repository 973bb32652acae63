"""Verifier-guided search against majority voting at the same n: generated tokens and wall time.

Every method samples ``n`` solutions per problem from one policy with one process reward model:
majority voting (the baseline), PRM best-of-n, weighted majority vote, beam search, DVTS and REBASE.
Compute is counted in generated tokens (``solution_tokens``: every token the backend generated,
discarded branches and the tokens a step wrote past its ``"\\n\\n"`` included), so the parallel
methods sit on the sequential methods' axis. The reward model's work is printed apart (texts
scored, forward passes).

The policy is a *scripted* tiny Qwen2 model (one-hot bigram weights, like the test suite's) that
writes thinking digits in steps separated by blank lines (about 5 tokens a step, about 6 steps)
and then a short answer, so the searches really branch over several steps. The reward model is a
random tiny Qwen2.5-Math-PRM-shaped token classifier (`QwenPRM`). Both run on the CPU. Ratios are
medians of ``--repeats`` interleaved runs against majority voting in the same run.

The Backend protocol has no stop strings, so a step is generated up to its cap and cut after its
first blank line. The "if stopped" column counts what the same search would generate on a backend
that stopped at the blank line (each step's kept tokens plus its end-of-turn token), measured by
wrapping the stepper's cut: the price of that missing capability.

Run: ``.venv/bin/python benchmarks/search_methods.py`` (``--step-tokens 64``: a looser step cap).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM, Qwen2ForTokenClassification

import tinyreason as tr
from tinyreason.scaling import MajorityVote, TransformersBackend, search_steps
from tinyreason.scaling.reward import QwenPRM
from tinyreason.scaling.search import PRMBestOfN, WeightedMajorityVote, solution_tokens
from tinyreason.scaling.search_rebase import REBASE
from tinyreason.scaling.search_tree import DVTS, BeamSearch
from tinyreason.testing.tiny import scripted_model, tied_config, tiny_tokenizer

THINK = "56789"


def policy_table() -> dict[str, dict[str, float]]:
    """Thinking digits; after each, a blank line (p ~0.15) or the end of thinking (p ~0.03)."""
    table: dict[str, dict[str, float]] = {"<think>": dict.fromkeys(THINK, 0.0)}
    for digit in THINK:
        table[digit] = {**dict.fromkeys(THINK, 0.0), "ĊĊ": -0.09, "</think>": -1.7}
    table["ĊĊ"] = {**dict.fromkeys(THINK, 0.0), "</think>": -1.0}
    table["</think>"] = {"Ċ": 30.0}
    table["Ċ"] = {"4": 0.0, "2": 0.0}
    table["4"] = {"2": 0.0, "<|im_end|>": 0.0}
    table["2"] = {"4": 0.0, "<|im_end|>": 0.0}
    return table


def scripted_policy(tokenizer: Any) -> Qwen2ForCausalLM:
    """A Qwen2 model whose next-token logits after token ``a`` are ``policy_table()[a]``."""
    # Anything not in the table is (nearly) never written.
    return scripted_model(tokenizer, policy_table(), floor=-30.0)


def tiny_prm() -> QwenPRM:
    tokenizer = tiny_tokenizer(texts=["a step\n\nanother step\n\n"] * 20)
    tokenizer.add_tokens(["<extra_0>"], special_tokens=True)
    sizes = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2)
    config = tied_config(
        Qwen2Config, tokenizer, num_labels=2, num_attention_heads=4, num_key_value_heads=2, **sizes
    )
    torch.manual_seed(0)
    return QwenPRM(Qwen2ForTokenClassification(config), tokenizer, device="cpu", batch_size=64)


#: Tokens the steps of the current run kept (plus end-of-turn tokens): what a backend that stops
#: at the step delimiter would have generated.
_KEPT = [0]


def _count_kept() -> None:
    original = search_steps.Stepper._step

    def step(self: Any, g: Any, path: Any, *, to_end: bool) -> Any:
        result = original(self, g, path, to_end=to_end)
        _KEPT[0] += result.tokens + int(result.end == "stop")
        return result

    search_steps.Stepper._step = step  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=8, help="samples per problem")
    parser.add_argument("--problems", type=int, default=8)
    parser.add_argument("--step-tokens", type=int, default=16, help="tokens one step may take")
    parser.add_argument("--max-new-tokens", type=int, default=96, help="tokens a solution may take")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    tokenizer = tiny_tokenizer(texts=["first step\n\nsecond step\n\nthird step\n\n"] * 20)
    backend = TransformersBackend(
        scripted_policy(tokenizer),
        tokenizer=tokenizer,
        format="think-tags",
        batch_size=64,
        progress=False,
    )
    prm = tiny_prm()
    problems = [tr.Problem(f"p{i}", f"What is {i} + {2 * i}?") for i in range(args.problems)]
    n, budget, step = args.n, args.max_new_tokens, args.step_tokens
    tree = dict(temperature=1.0, max_step_tokens=step, max_new_tokens=budget, max_steps=24)
    methods: dict[str, Any] = {
        "majority-vote": MajorityVote(n=n, temperature=1.0, max_new_tokens=budget),
        "prm-best-of-n": PRMBestOfN(prm, n=n, temperature=1.0, max_new_tokens=budget),
        "weighted-majority-vote": WeightedMajorityVote(
            prm, n=n, temperature=1.0, max_new_tokens=budget
        ),
        "beam-search (m=4)": BeamSearch(prm, n=n, beam_width=4, **tree),
        "dvts (m=4)": DVTS(prm, n=n, beam_width=4, **tree),
        "rebase (T=0.2)": REBASE(prm, n=n, **tree),
    }
    _count_kept()
    seconds: dict[str, list[float]] = {name: [] for name in methods}
    stopped: dict[str, list[float]] = {name: [] for name in methods}
    tokens: dict[str, list[float]] = {name: [] for name in methods}
    scored: dict[str, list[float]] = {name: [] for name in methods}
    passes: dict[str, list[float]] = {name: [] for name in methods}
    for scaler in methods.values():  # warm-up
        scaler.solve(backend, problems[:1], seed=0)
    for repeat in range(args.repeats):
        for name, scaler in methods.items():
            before, _KEPT[0] = prm.usage.forward_passes, 0
            start = time.perf_counter()
            solutions = scaler.solve(backend, problems, seed=repeat)
            seconds[name].append((time.perf_counter() - start) / len(problems))
            tokens[name].append(sum(solution_tokens(s) for s in solutions) / len(problems))
            stopped[name].append((_KEPT[0] or tokens[name][-1] * len(problems)) / len(problems))
            scored[name].append(
                sum(getattr(s, "reward_sequences", 0) for s in solutions) / len(problems)
            )
            passes[name].append(prm.usage.forward_passes - before)

    base_t = statistics.median(seconds["majority-vote"])
    base_k = statistics.median(tokens["majority-vote"])
    print(
        f"{args.problems} problems, n={n}, step cap {step} tokens, solution cap {budget} tokens, "
        f"{torch.get_num_threads()} threads; medians of {args.repeats} interleaved runs"
    )
    print(
        f"{'method':<24}{'tokens/problem':>15}{'ratio':>7}{'if stopped':>12}{'ratio':>7}"
        f"{'ms/problem':>12}{'ratio':>7}{'PRM texts/problem':>19}{'PRM passes/run':>16}"
    )
    for name in methods:
        t, k = statistics.median(seconds[name]), statistics.median(tokens[name])
        q = statistics.median(stopped[name])
        print(
            f"{name:<24}{k:>15.1f}{k / base_k:>7.2f}{q:>12.1f}{q / base_k:>7.2f}"
            f"{1e3 * t:>12.1f}{t / base_t:>7.2f}"
            f"{statistics.median(scored[name]):>19.1f}{statistics.median(passes[name]):>16.0f}"
        )


if __name__ == "__main__":
    main()
