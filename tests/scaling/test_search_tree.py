"""Beam search, DVTS and REBASE: which paths each grows (against hand-worked cases), what they
count, and runs on tiny models through the transformers and completions-server backends.

The selection rules are checked with :class:`ScriptedSteps`, a Backend that hands out scripted
next steps, and a reward model that scores a step by its text, so every choice is known by hand.
Token counts are checked on the scripted Qwen2 model of ``test_search``, which always writes
``56\\n\\n78</think>\\n42``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import Qwen2Config, Qwen2ForTokenClassification

import tinyreason as tr
from tinyreason.scaling.reward import QwenPRM
from tinyreason.scaling.search import SearchSolution, aggregate
from tinyreason.scaling.search_rebase import REBASE, rebase_widths
from tinyreason.scaling.search_steps import reward_steps
from tinyreason.scaling.search_tree import DVTS, BeamSearch
from tinyreason.testing.tiny import tied_config, tiny_tokenizer

from .test_search import (
    BACKENDS,
    CHAIN_TEXT,
    STEP_TEXTS,
    StepScores,
    chain_model,
    local_backend,
    problems,
    step_tokenizer,
)

# -- a scripted backend ------------------------------------------------------------------------


class ScriptedSteps:
    """A Backend whose next step after ``path`` is ``script[path][k]``, k counting within a call.

    A step ending in ``"$"`` ends the turn (the ``$`` is not written); any other runs out of tokens
    (the stepper then cuts it after its first blank line).
    """

    def __init__(self, script: dict[str, list[str]]) -> None:
        self.format = tr.chat_format("think-tags")
        self.tokenizer = step_tokenizer()
        self.script = script
        self.calls: list[dict[str, Any]] = []

    def prompt(self, question: str) -> str:
        return f"Q: {question}\nA: "

    def generate(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int | None = None,
        control: Any = None,
        seed: int | None = None,
    ) -> list[list[tr.Generation]]:
        paths = [p.split("\nA: ", 1)[1] for p in prompts]
        self.calls.append({"paths": paths, "temperature": temperature, "n": n})
        turns: Counter[str] = Counter()
        out = []
        for path in paths:
            step = self.script[path][turns[path] % len(self.script[path])]
            turns[path] += 1
            text, finished = step.removesuffix("$"), step.endswith("$")
            thinking, answer = self.format.parse(text)
            g = tr.Generation(
                text, thinking, answer, len(text), 0, "stop" if finished else "length"
            )
            out.append([g] * n)
        return out


def spent(*texts_and_ends: tuple[str, bool]) -> int:
    """Tokens generated for scripted steps (their text re-encoded, plus each end of turn)."""
    encode = step_tokenizer().encode
    return sum(len(encode(t, add_special_tokens=False)) + e for t, e in texts_and_ends)


# -- REBASE's allocation -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scores", "width", "temperature", "expected"),
    [
        # exp(s/T) best first, each ceil(left * w / w_left):
        # 0.9: ceil(8 * 1 / (1 + e^-2 + e^-4)) = ceil(6.93) = 7; 0.5: ceil(1 * 0.881) = 1; 0.1: 0.
        ([0.1, 0.9, 0.5], 8, 0.2, [0, 7, 1]),
        # T = 1: ceil(3 * e^.9 / (e^.9 + e^.5 + e^.1)) = ceil(1.42) = 2, then ceil(0.60) = 1.
        ([0.9, 0.5, 0.1], 3, 1.0, [2, 1, 0]),
        # equal scores: ceil(6/4) = 2, ceil(4/3) = 2, ceil(2/2) = 1, 1.
        ([0.5, 0.5, 0.5, 0.5], 6, 1.0, [2, 2, 1, 1]),
        # T = 1, weights 1, e^-.4, e^-.8 best first: ceil(4 / 2.120) = ceil(1.89) = 2, then
        # ceil(2 * 0.670 / 1.120) = ceil(1.20) = 2: rounding up favours the better nodes.
        ([0.9, 0.1, 0.5], 4, 1.0, [2, 0, 2]),
        ([0.3, math.nan], 2, 0.2, [2, 0]),  # NaN weighs nothing
        ([math.nan, math.nan], 3, 0.2, [2, 1]),
        ([], 4, 0.2, []),
    ],
)
def test_rebase_widths_match_the_hand_computation(
    scores: list[float], width: int, temperature: float, expected: list[int]
) -> None:
    assert rebase_widths(scores, width, temperature) == expected


@pytest.mark.parametrize(("softmax_temperature", "second_round"), [(1.0, 2), (0.2, 3)])
def test_rebase_expands_nodes_in_proportion_to_their_softmaxed_rewards(
    softmax_temperature: float, second_round: int
) -> None:
    # The root's 8 children: A, B, C go on, five finish (each uses up a unit of width): the 3
    # units left go to A, B, C as rebase_widths([0.9, 0.5, 0.1], 3, T) says: T=1 -> 2, 1, 0;
    # T=0.2 -> 3, 0, 0.
    backend = ScriptedSteps(
        {
            "": ["A\n\nx", "B\n\nx", "C\n\nx", *["</think>5$"] * 5],
            "A\n\n": ["</think>6$"],
            "B\n\n": ["</think>7$"],
        }
    )
    prm = StepScores({"A": 0.9, "B": 0.5, "C": 0.1, "5": 0.2, "6": 0.8, "7": 0.4})
    rebase = REBASE(prm, n=8, softmax_temperature=softmax_temperature, max_steps=4)
    [solution] = rebase.solve(backend, problems("q"), seed=0)
    first, second = backend.calls
    assert first["paths"] == [""] * 8
    assert Counter(second["paths"]) == Counter({"A\n\n": second_round, "B\n\n": 3 - second_round})
    assert len(backend.calls) == 2  # 8 finished solutions: the width is spent
    texts = Counter(g.text for g in solution.generations)
    assert texts == Counter(
        {"</think>5": 5, "A\n\n</think>6": second_round, "B\n\n</think>7": 3 - second_round}
    )
    assert isinstance(solution, SearchSolution) and solution.reward_sequences == 11
    # "6" (0.8) x 2-3 outweighs "5" (0.2) x 5.
    assert solution.answer == "6"
    generated = 3 * spent(("A\n\nx", False)) + 5 * spent(("</think>5", True))
    generated += second_round * spent(("</think>6", True))
    generated += (3 - second_round) * spent(("</think>7", True))
    assert solution.generated_tokens == generated


# -- beam search and DVTS: which paths grow ----------------------------------------------------


def test_beam_search_keeps_the_best_n_over_m_and_grows_each_m_times() -> None:
    backend = ScriptedSteps(
        {
            "": ["A\n\nx", "B\n\nx", "C\n\nx", "D\n\nx"],
            "A\n\n": ["</think>1$"],
            "C\n\n": ["</think>2$"],
        }
    )
    prm = StepScores({"A": 0.9, "B": 0.1, "C": 0.5, "D": 0.3, "1": 0.7, "2": 0.6})
    [solution] = BeamSearch(prm, n=4, beam_width=2).solve(backend, problems("q"), seed=0)
    assert [c["paths"] for c in backend.calls] == [
        [""] * 4,
        ["A\n\n", "C\n\n", "A\n\n", "C\n\n"],  # the best 4/2 = 2, repeated up to 4
    ]
    assert [g.text for g in solution.generations] == ["A\n\n</think>1", "C\n\n</think>2"] * 2
    assert solution.scores == (0.7, 0.6, 0.7, 0.6)  # aggregate "last": the answer step's
    assert solution.answer == "1"
    assert solution.votes == pytest.approx({"1": 1.4 / 2.6, "2": 1.2 / 2.6})
    generated = 4 * spent(("A\n\nx", False)) + 2 * spent(("</think>1", True), ("</think>2", True))
    assert (solution.generated_tokens, solution.reward_sequences) == (generated, 8)
    # "min" ranks a path by its weakest step: the same choice here, other scores.
    [by_min] = BeamSearch(prm, n=4, beam_width=2, aggregate="min").solve(backend, problems("q"))
    assert by_min.scores == (0.7, 0.5, 0.7, 0.5)


def test_dvts_grows_independent_subtrees_and_returns_only_complete_candidates() -> None:
    backend = ScriptedSteps(
        {
            "": ["A\n\nx", "B\n\nx", "C\n\nx", "D\n\nx"],
            # Subtree 1 (from A): its best next step (E, 0.8) goes on; the finished one (0.7) is
            # left behind. Subtree 2 (from C): its best (3) finishes it; F is unfinished.
            "A\n\n": ["</think>1$", "E\n\nx"],
            "C\n\n": ["</think>3$", "F\n\nx"],
            "A\n\nE\n\n": ["</think>4$"],
        }
    )
    prm = StepScores({"A": 0.9, "B": 0.1, "C": 0.5, "D": 0.3, "1": 0.7, "E": 0.8})
    prm.table.update({"3": 0.65, "F": 0.5, "4": 0.75})
    dvts = DVTS(prm, n=4, beam_width=2, max_steps=3)
    [solution] = dvts.solve(backend, problems("q"), seed=0)
    assert [c["paths"] for c in backend.calls] == [
        [""] * 4,  # subtree 1 gets A, B; subtree 2 gets C, D
        ["A\n\n", "A\n\n", "C\n\n", "C\n\n"],
        ["A\n\nE\n\n", "A\n\nE\n\n"],  # the last round: subtree 2 has ended
    ]
    # Subtree 1's last two (both complete) and subtree 2's complete one; never "C...F".
    assert [g.text for g in solution.generations] == [
        "A\n\nE\n\n</think>4",
        "A\n\nE\n\n</think>4",
        "C\n\n</think>3",
    ]
    assert solution.scores == (0.75, 0.75, 0.65) and solution.answer == "4"
    assert solution.reward_sequences == 10


def test_lookahead_rolls_out_greedy_steps_for_the_score_only() -> None:
    backend = ScriptedSteps(
        {
            "": ["A\n\nx", "B\n\nx"],
            "A\n\n": ["G\n\nx"],  # A looks ahead to a weak step, B to a strong one
            "B\n\n": ["H\n\nx", "</think>9$"],
            "A\n\nG\n\n": ["</think>1$"],
            "B\n\nH\n\n": ["</think>2$"],
        }
    )
    prm = StepScores({"A": 0.9, "B": 0.2, "G": 0.1, "H": 0.8, "1": 0.5, "2": 0.5, "9": 0.5})
    beams = BeamSearch(prm, n=2, beam_width=2, lookahead=1, max_steps=2)
    [solution] = beams.solve(backend, problems("q"), seed=0)
    first, look, last = backend.calls
    assert look == {"paths": ["A\n\n", "B\n\n"], "temperature": 0.0, "n": 1}  # greedy
    assert first["temperature"] == last["temperature"] == 0.8
    assert last["paths"] == ["B\n\n", "B\n\n"]  # B + H (0.8) beat A + G (0.1)
    # The lookahead is not kept on the path, but its tokens were generated.
    assert {g.text for g in solution.generations} <= {"B\n\nH\n\nx", "B\n\n</think>9"}
    looked = spent(("G\n\nx", False), ("H\n\nx", False))
    assert solution.generated_tokens == looked + 2 * spent(("A\n\nx", False)) + spent(
        ("H\n\nx", False), ("</think>9", True)
    )


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda p: BeamSearch(p, n=6, beam_width=4), "multiple of beam_width"),
        (lambda p: DVTS(p, beam_width=0), "beam_width must be"),
        (lambda p: BeamSearch(p, temperature=0.0), "temperature must be above 0"),
        (lambda p: DVTS(p, lookahead=-1), "lookahead"),
        (lambda p: REBASE(p, softmax_temperature=0), "softmax_temperature"),
        (lambda p: REBASE(p, max_steps=0), "max_steps"),
        (lambda p: REBASE(p, max_step_tokens=0), "max_step_tokens"),
        (lambda p: REBASE(p, max_new_tokens=0), "max_new_tokens"),
        (lambda p: BeamSearch(p, select="vote"), "select must be one of"),
        (lambda p: REBASE(object()), "RewardModel"),
    ],
)
def test_tree_search_settings_are_checked(build: Any, match: str) -> None:
    with pytest.raises(tr.ConfigError, match=match):
        build(StepScores())


# -- fixed token counts on a real model, every backend -------------------------------------------


def strip_ids(solution: tr.Solution) -> list[tuple[str, int, int, str]]:
    return [
        (g.text, g.thinking_tokens, g.answer_tokens, g.finish_reason) for g in solution.generations
    ]


@pytest.mark.parametrize("kind", BACKENDS)
def test_every_search_counts_its_tokens_on_a_fixed_case(kind: str) -> None:
    # Each path: step 1 generates 8 tokens (5 6 ĊĊ 7 8 </think> Ċ 4) and keeps 3 (56\n\n);
    # step 2 generates 7 (78</think>\n42 and the end of turn). 4 paths: 4 x (8 + 7) = 60 tokens,
    # 4 + 4 scored partial solutions. Beam search's lookahead adds one greedy step (7) to each
    # of the 4 partial paths: 88.
    prm = StepScores({"56": 0.9, "78": 0.8, "42": 0.6})
    pool = problems("What is 6*7?", "And 7*6?")
    searches: list[tuple[Any, int]] = [
        (BeamSearch(prm, n=4, beam_width=2, max_step_tokens=8), 60),
        (BeamSearch(prm, n=4, beam_width=2, max_step_tokens=8, lookahead=1), 88),
        (DVTS(prm, n=4, beam_width=2, max_step_tokens=8), 60),
        (REBASE(prm, n=4, max_step_tokens=8), 60),
    ]
    with local_backend(kind, chain_model(), step_tokenizer()) as backend:
        for search, generated in searches:
            for solution in search.solve(backend, pool, seed=0):
                assert solution.answer == "42"
                assert strip_ids(solution) == [(CHAIN_TEXT, 5, 3, "stop")] * 4
                assert (solution.generated_tokens, solution.reward_sequences) == (generated, 8)
                assert solution.scores == (0.6,) * 4 and solution.votes == {"42": 1.0}
                if kind != "server-text":  # exact ids: the same as one whole generation's
                    whole = backend.generate([backend.prompt("q")], max_new_tokens=16)[0][0]
                    assert {g.token_ids for g in solution.generations} == {whole.token_ids}
        # A path budget of 5 tokens: step 1 generates 5 and keeps 3, step 2 may take 2 (7, 8).
        capped = REBASE(prm, n=2, max_step_tokens=8, max_new_tokens=5)
        [solution] = capped.solve(backend, pool[:1], seed=0)
        assert strip_ids(solution) == [("56\n\n78", 5, 0, "length")] * 2
        assert solution.generated_tokens == 2 * (5 + 2)


# -- the random tiny model, with a tiny reward model -------------------------------------------


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tr.testing.tiny_model(tmp_path_factory.mktemp("search") / "tiny", texts=STEP_TEXTS)


@pytest.fixture(scope="module")
def tiny_prm() -> QwenPRM:
    prm_tokenizer = tiny_tokenizer(texts=STEP_TEXTS)
    prm_tokenizer.add_tokens(["<extra_0>"], special_tokens=True)
    torch.manual_seed(0)
    config = tied_config(
        Qwen2Config,
        prm_tokenizer,
        num_labels=2,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
    )
    return QwenPRM(Qwen2ForTokenClassification(config), prm_tokenizer, device="cpu")


@pytest.mark.parametrize("kind", ["transformers", "server"])
def test_searches_on_the_random_tiny_model_are_seeded(
    kind: str, tiny_folder: Path, tiny_prm: QwenPRM
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tiny_folder)
    tokenizer = AutoTokenizer.from_pretrained(tiny_folder)
    pool = problems("What is 6*7?", "Solve 2x + 3 = 11.")
    # A space ends a step here, so the random model writes several steps per path.
    options = dict(step_delimiter=" ", max_step_tokens=6, max_steps=3, temperature=1.0)
    searches = [
        BeamSearch(tiny_prm, n=4, beam_width=2, **options),
        DVTS(tiny_prm, n=4, beam_width=2, **options),
        REBASE(tiny_prm, n=4, softmax_temperature=0.5, **options),
    ]
    with local_backend(kind, model, tokenizer) as backend:
        for search in searches:
            first = search.solve(backend, pool, seed=3)
            assert first == search.solve(backend, pool, seed=3)
            assert first != search.solve(backend, pool, seed=4)
            for problem, solution in zip(pool, first, strict=True):
                assert 1 <= len(solution.generations) <= 4
                longest = max(len(g.token_ids or ()) for g in solution.generations)
                assert solution.generated_tokens >= longest > 0
                for g, score in zip(solution.generations, solution.scores, strict=True):
                    assert len(g.token_ids or ()) <= 3 * 6 + 1
                    steps = reward_steps(g.text, backend.format, " ")
                    assert score == pytest.approx(
                        aggregate(tiny_prm.score(problem.question, steps), "last"), abs=1e-5
                    )
                    assert 0 < score < 1
