"""Verifier-guided scaling: the rules (aggregation, weighted votes), steps, and the whole-sample
methods (PRM best-of-n, weighted majority vote) on tiny models through both local backends.

Models: a tokenizer that knows ``"\\n\\n"`` as one token (``ĊĊ``), a *scripted* Qwen2 model over
it that always writes ``56\\n\\n78</think>\\n42`` (so every count is known by hand), and a random
tiny model for the plumbing. Reward models here are fakes that score a step by its text.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest

import tinyreason as tr
from tinyreason.registry import build
from tinyreason.scaling import MajorityVote, TransformersBackend
from tinyreason.scaling.openai_backend import OpenAIServerBackend
from tinyreason.scaling.search import (
    PRMBestOfN,
    SearchSolution,
    WeightedMajorityVote,
    aggregate,
    choose,
    solution_tokens,
    weighted_vote,
)
from tinyreason.scaling.search_steps import Path, Step, Stepper, reward_steps, split_steps
from tinyreason.testing import CompletionsServer
from tinyreason.testing.tiny import tiny_tokenizer

from .conftest import scripted_lm

#: Text the step tokenizer is trained on: "\n\n" becomes the one token "ĊĊ".
STEP_TEXTS = ["first step\n\nsecond step\n\nthird step\n\n"] * 20

#: Always writes "56\n\n78</think>\n42" and ends the turn: two steps, then the answer.
STEP_CHAIN = {
    "<think>": {"5": 30.0},
    "5": {"6": 30.0},
    "6": {"ĊĊ": 30.0},
    "ĊĊ": {"7": 30.0},
    "7": {"8": 30.0},
    "8": {"</think>": 30.0},
    "</think>": {"Ċ": 30.0},
    "Ċ": {"4": 30.0},
    "4": {"2": 30.0},
    "2": {"<|im_end|>": 30.0},
}
CHAIN_TEXT = "56\n\n78</think>\n42"


@functools.cache
def step_tokenizer() -> Any:
    return tiny_tokenizer(texts=STEP_TEXTS)


@functools.cache
def chain_model() -> Any:
    return scripted_lm(step_tokenizer(), STEP_CHAIN)


class StepScores:
    """A RewardModel that scores a step by its text (a table, else 0.5); records every call."""

    def __init__(self, table: dict[str, float] | None = None) -> None:
        self.table = table or {}
        self.calls: list[list[tuple[str, list[str]]]] = []

    def score(self, question: str, steps: Sequence[str]) -> list[float]:
        return [self.table.get(step, 0.5) for step in steps]

    def score_batch(self, items: Sequence[tuple[str, Sequence[str]]]) -> list[list[float]]:
        self.calls.append([(q, list(steps)) for q, steps in items])
        return [self.score(q, steps) for q, steps in items]


@contextmanager
def local_backend(kind: str, model: Any, tokenizer: Any) -> Iterator[Any]:
    """The transformers backend, or the completions server backend over real HTTP."""
    if kind == "transformers":
        yield TransformersBackend(model, tokenizer=tokenizer, format="think-tags", progress=False)
        return
    with CompletionsServer(model, tokenizer, return_token_ids=kind == "server") as server:
        yield OpenAIServerBackend(
            server.base_url, "tiny", tokenizer, format="think-tags", max_retries=0, progress=False
        )


BACKENDS = ["transformers", "server", "server-text"]


def problems(*questions: str) -> list[tr.Problem]:
    return [tr.Problem(f"p{i}", q) for i, q in enumerate(questions)]


# -- the rules -------------------------------------------------------------------------------


def test_aggregates_are_last_min_and_product() -> None:
    scores = [0.9, 0.5, 0.8]
    assert [aggregate(scores, how) for how in ("last", "min", "prod")] == [
        0.8,
        0.5,
        pytest.approx(0.36),
    ]
    with pytest.raises(tr.ConfigError, match="aggregate must be one of"):
        aggregate(scores, "mean")
    with pytest.raises(tr.DataError):
        aggregate([], "last")


def test_weighted_vote_adds_up_equivalent_answers() -> None:
    # 1/2 and 0.5 are one group (0.5 + 0.25); 3 has one heavier vote; None never wins.
    answers = ["1/2", "3", "0.5", None, "7"]
    weights = [0.5, 1.0, 0.25, 2.0, 0.25]
    assert weighted_vote(answers, weights) == ("3", {"3": 0.25, "1/2": 0.1875, "7": 0.0625})
    assert weighted_vote(["2", "4"], [0.5, 0.5])[0] == "2"  # a tie goes to the earliest
    assert weighted_vote(["2", "4"], [math.nan, 0.1])[0] == "4"  # NaN weighs nothing
    assert weighted_vote(["2", "4"], [0.0, 0.0]) == ("2", {"2": 0.0, "4": 0.0})


def test_the_three_ways_to_choose_differ_on_one_case() -> None:
    answers, scores = ["4", "5", "5"], [0.9, 0.4, 0.4]
    assert choose(answers, scores, "best") == ("4", {})
    assert choose(answers, scores, "weighted")[0] == "4"  # 0.9 > 0.8
    assert choose(answers, scores, "majority")[0] == "5"
    assert choose(["4", "5"], [math.nan, 0.1], "best")[0] == "5"


def test_steps_are_split_on_blank_lines_and_the_answer_is_the_last() -> None:
    think_tags = tr.chat_format("think-tags")
    assert split_steps("a\n\nb\n\n\n\nc\n\n") == ["a", "b", "c"]
    assert split_steps("a\nb\n\nc") == ["a\nb", "c"]
    assert reward_steps(CHAIN_TEXT, think_tags, "\n\n") == ["56", "78", "42"]
    assert reward_steps("56\n\n7", think_tags, "\n\n") == ["56", "7"]  # no answer yet
    assert reward_steps("", think_tags, "\n\n") == [""]  # nothing yet: one empty step
    assert reward_steps("1; 2; </think>x", think_tags, "; ") == ["1", "2;", "x"]


def test_a_step_is_cut_after_the_delimiter_with_its_token_ids() -> None:
    tokenizer = step_tokenizer()
    with local_backend("transformers", chain_model(), tokenizer) as backend:
        stepper = Stepper(backend, delimiter="\n\n", max_step_tokens=8, max_new_tokens=None)
        prompt = backend.prompt("What is 6*7?")
        [first] = stepper.expand([prompt], [Path()], temperature=0.0, seed=0)
        ids = tokenizer.convert_tokens_to_ids(["5", "6", "ĊĊ"])
        assert first == Step("56\n\n", tokens=3, generated=8, end="step", token_ids=tuple(ids))
        path = Path().extend(first)
        [second] = stepper.expand([prompt], [path], temperature=0.0, seed=0)
        assert (second.text, second.tokens, second.generated, second.end) == (
            "78</think>\n42",
            6,
            7,
            "stop",
        )
        done = path.extend(second)
        assert done.done and done.tokens == 9 and len(done.token_ids or ()) == 10
        g = stepper.generation(done, backend.format)
        assert (g.thinking, g.answer_text, g.thinking_tokens, g.answer_tokens) == (
            "56\n\n78",
            "42",
            5,
            3,
        )
        assert g == backend.generate([prompt], max_new_tokens=16)[0][0]  # as one generation
        # A path budget of 5 ends the second step by length after 2 tokens.
        capped = Stepper(backend, delimiter="\n\n", max_step_tokens=8, max_new_tokens=5)
        [short] = capped.expand([prompt], [path], temperature=0.0, seed=0)
        assert (short.text, short.tokens, short.end, capped.budget(path)) == ("78", 2, "length", 2)


def test_search_needs_a_backend_with_a_tokenizer() -> None:
    class NoTokenizer:
        format = tr.chat_format("think-tags")

        def prompt(self, question: str) -> str:
            return question

        def generate(self, prompts: Any, **options: Any) -> Any:
            raise AssertionError("never called")

    with pytest.raises(tr.ConfigError, match="HasTokenizer"):
        Stepper(NoTokenizer(), delimiter="\n\n", max_step_tokens=8, max_new_tokens=None)  # type: ignore[arg-type]


# -- settings and the registry ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"reward_model": "qwen-prm"}, "reward_model must be a RewardModel"),
        ({"aggregate": "mean"}, "aggregate must be one of"),
        ({"select": "first"}, "select must be one of"),
        ({"n": 0}, "n must be a whole number"),
        ({"step_delimiter": ""}, "step_delimiter"),
        ({"temperature": -1.0}, "temperature"),
    ],
)
def test_sample_scorers_check_their_settings(options: dict[str, Any], match: str) -> None:
    settings = {"reward_model": StepScores(), **options}
    for cls in (PRMBestOfN, WeightedMajorityVote):
        with pytest.raises(tr.ConfigError, match=match):
            cls(**settings)


def test_the_verifier_methods_are_registered_scalers() -> None:
    names = {"prm-best-of-n", "weighted-majority-vote", "beam-search", "dvts", "rebase"}
    assert names <= set(tr.available("scaler"))
    prm = StepScores()
    for name in names:
        scaler = build("scaler", name, reward_model=prm, n=4)
        assert isinstance(scaler, tr.TestTimeScaler) and scaler.n == 4
        assert isinstance(scaler, tr.interfaces.Samples)
        assert isinstance(scaler, tr.interfaces.SetsGenerationBudget)
        assert scaler.control is None
        assert scaler.with_generation_budget(64).max_new_tokens == 64
        # tr.evaluate(samples=, temperature=) and a benchmark's answer kind reach every one.
        assert isinstance(scaler, tr.interfaces.SetsSampling)
        resampled = scaler.with_sampling(n=8, temperature=0.5)
        assert (resampled.n, resampled.temperature) == (8, 0.5)
        assert scaler.with_answer_kind("integer").answer_kind == "integer"
        assert scaler.with_answer_kind("integer").with_answer_kind("math").answer_kind == "integer"
    with pytest.raises(tr.ConfigError, match="needs the option 'reward_model'"):
        build("scaler", "beam-search")
    with pytest.raises(tr.ConfigError, match="must be a RewardModel object"):
        build("scaler", "rebase", reward_model="qwen-prm")


# -- whole samples, scored -------------------------------------------------------------------


@pytest.mark.parametrize("kind", BACKENDS)
def test_scored_samples_count_their_tokens_on_a_fixed_case(kind: str) -> None:
    prm = StepScores({"56": 0.9, "78": 0.8, "42": 0.6})
    with local_backend(kind, chain_model(), step_tokenizer()) as backend:
        for cls in (PRMBestOfN, WeightedMajorityVote):
            scaler = cls(prm, n=3, aggregate="min", max_new_tokens=16)
            solutions = scaler.solve(backend, problems("What is 6*7?", "And 7*6?"), seed=0)
            for s in solutions:
                assert isinstance(s, SearchSolution) and s.answer == "42"
                assert [g.text for g in s.generations] == [CHAIN_TEXT] * 3
                assert [(g.thinking_tokens, g.answer_tokens) for g in s.generations] == [(5, 3)] * 3
                # 10 tokens a sample: 5 thinking, </think>, 3 answer, the end of turn.
                assert (s.generated_tokens, s.reward_sequences) == (30, 3)
                assert s.scores == (0.6, 0.6, 0.6) and solution_tokens(s) == 30
            assert solutions[1].votes == ({} if cls is PRMBestOfN else {"42": 1.0})
    assert prm.calls[-1][0] == ("What is 6*7?", ["56", "78", "42"])
    assert len(prm.calls[-1]) == 6  # every sample of both problems in one call


def test_scored_samples_are_majority_votings_samples(tmp_path: Any) -> None:
    folder = tr.testing.tiny_model(tmp_path / "tiny", texts=STEP_TEXTS)
    backend = TransformersBackend(folder, format="think-tags", progress=False)
    pool = problems("What is 6*7?", "Solve 2x + 3 = 11.")

    class ByLength(StepScores):
        def score(self, question: str, steps: Sequence[str]) -> list[float]:
            return [1 / (1 + len(step)) for step in steps]

    vote = MajorityVote(n=4, temperature=1.0, max_new_tokens=12)
    best = PRMBestOfN(ByLength(), n=4, temperature=1.0, max_new_tokens=12)
    weighted = WeightedMajorityVote(ByLength(), n=4, temperature=1.0, max_new_tokens=12)
    plain = vote.solve(backend, pool, seed=5)
    for scaler in (best, weighted):
        first = scaler.solve(backend, pool, seed=5)
        assert first == scaler.solve(backend, pool, seed=5)  # seeded: the same every time
        for ours, theirs in zip(first, plain, strict=True):
            assert ours.generations == theirs.generations  # one pool of samples for all three
            assert ours.generated_tokens == solution_tokens(theirs)
            assert ours.generated_tokens == sum(len(g.token_ids or ()) for g in ours.generations)
    [s] = best.solve(backend, pool[:1], seed=5)
    top = max(range(4), key=lambda i: (s.scores[i], -i))
    answer = tr.answers.extract_answer(s.generations[top].text, think_end="</think>")
    assert s.answer == answer
