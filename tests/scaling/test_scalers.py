"""BudgetForcing, MajorityVote and BestOfN: configuration, voting rules, and runs on real models."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pytest

import tinyreason as tr
from tinyreason.answers import vote
from tinyreason.scaling import BestOfN, BudgetForcing, MajorityVote, TransformersBackend

from .conftest import chain_table, cycle_table


class FakeBackend:
    """A Backend that answers from a script: ``answers[question]`` lists one answer per sample."""

    def __init__(self, answers: dict[str, list[str | None]]):
        self.format = tr.chat_format("think-tags")
        self.answers = answers
        self.calls: list[dict[str, Any]] = []

    def prompt(self, question: str) -> str:
        return question

    def generate(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 1024,
        control: tr.ThinkingControl | None = None,
        seed: int | None = None,
    ) -> list[list[tr.Generation]]:
        self.calls.append(
            {
                "prompts": list(prompts),
                "n": n,
                "temperature": temperature,
                "control": control,
                "max_new_tokens": max_new_tokens,
                "seed": seed,
            }
        )
        return [[self._generation(a) for a in self.answers[p][:n]] for p in prompts]

    @staticmethod
    def _generation(answer: str | None) -> tr.Generation:
        # "\boxed{4}" in the thinking: an answer after </think> must win over it.
        answer_text = f"The answer is {answer}." if answer is not None else "I am not sure."
        thinking = "so maybe \\boxed{4}" if answer is not None else "no idea"
        return tr.Generation(
            text=f"{thinking}\n</think>\n\n{answer_text}",
            thinking=thinking,
            answer_text=answer_text,
            thinking_tokens=len(thinking),
            answer_tokens=len(answer_text),
        )


def problems(*questions: str) -> list[tr.Problem]:
    return [tr.Problem(f"p{i}", q) for i, q in enumerate(questions)]


# -- configuration -------------------------------------------------------------------------


def test_budget_forcing_validates_through_thinking_control() -> None:
    with pytest.raises(tr.ConfigError) as err:
        BudgetForcing(max_thinking=-1, waits=-2, temperature=-1.0, answer_kind="words")
    assert len(err.value.problems) == 4
    with pytest.raises(tr.ConfigError, match="above max_thinking"):
        BudgetForcing(max_thinking=10, min_thinking=20)
    with pytest.raises(tr.ConfigError, match="wait_text"):
        BudgetForcing(waits=1, wait_text="")


def test_budget_forcing_exposes_its_control_and_budget() -> None:
    bf = BudgetForcing(max_thinking=100, waits=2, max_answer_tokens=20)
    assert bf.control == tr.ThinkingControl(max_thinking=100, waits=2, max_answer_tokens=20)
    assert bf.max_new_tokens is None  # the benchmark's, else the model's context window
    assert bf.with_generation_budget(32768).max_new_tokens == 32768
    capped = dataclasses.replace(bf, max_thinking=50)
    assert capped.control.max_thinking == 50 and capped == BudgetForcing(
        50, waits=2, max_answer_tokens=20
    )
    assert BudgetForcing(min_thinking=30).with_budget(10).control.min_thinking == 10
    assert BudgetForcing(max_thinking=10).with_budget(None).control.max_thinking is None
    # s1's defaults: "auto" thinking, the answer may use the whole generation budget.
    default = BudgetForcing().control
    assert (default.max_thinking, default.max_answer_tokens, default.round_budget) == (
        "auto",
        None,
        "whole",
    )
    assert isinstance(bf, tr.TestTimeScaler) and hash(bf) == hash(dataclasses.replace(bf))


@pytest.mark.parametrize(
    "build",
    [
        lambda: MajorityVote(n=0),
        lambda: MajorityVote(temperature=-1),
        lambda: MajorityVote(inner=tr.ThinkingControl()),
        lambda: MajorityVote(max_new_tokens=0),
        lambda: MajorityVote(answer_kind="essay"),
        lambda: BestOfN(n=2),
        lambda: BestOfN(n=0, scorer=lambda p, g: 0.0),
    ],
)
def test_voting_settings_are_checked(build: Any) -> None:
    with pytest.raises(tr.ConfigError):
        build()


def test_scalers_are_registered_plugins() -> None:
    assert {"budget-forcing", "majority-vote", "best-of-n"} <= set(tr.available("scaler"))
    assert "transformers" in tr.available("backend")
    bf = tr.scaler("budget-forcing", max_thinking=64, waits=1)
    assert isinstance(bf, BudgetForcing) and bf.control.waits == 1
    assert isinstance(tr.scaler("majority-vote", n=4, inner=bf), MajorityVote)
    assert isinstance(tr.scaler("best-of-n", scorer=lambda p, g: 1.0), BestOfN)
    with pytest.raises(tr.ConfigError, match="did you mean 'max_thinking'"):
        tr.scaler("budget-forcing", max_thinkng=3)


def test_importing_scaling_does_not_import_torch() -> None:
    code = (
        "import sys, json, tinyreason as tr, tinyreason.scaling as s; tr.available('scaler');"
        "s.MajorityVote(inner=s.BudgetForcing(max_thinking=5));"
        "print(json.dumps([m for m in ('torch', 'transformers') if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


# -- voting rules --------------------------------------------------------------------------


def test_equivalent_answers_form_one_group() -> None:
    assert vote(["1/2", "3", "0.5", "\\frac{1}{2}", None]) == ("1/2", {"1/2": 0.6, "3": 0.2})


def test_ties_go_to_the_earliest_answer_and_none_never_wins() -> None:
    assert vote(["3", "1/2", "0.5", "3"])[0] == "3"
    assert vote(["0.5", "3", "3", "1/2"])[0] == "0.5"
    assert vote([None, None, None, "5"]) == ("5", {"5": 0.25})
    assert vote([None, None]) == (None, {})


def test_majority_vote_samples_everything_in_one_call() -> None:
    backend = FakeBackend(
        {"q1": ["1/2", "3", "0.5", "3", "0.50"], "q2": [None, "7", None, "8", "8"]}
    )
    inner = BudgetForcing(max_thinking=32, waits=1, temperature=0.0)
    solutions = MajorityVote(n=5, temperature=0.6, inner=inner).solve(
        backend, problems("q1", "q2"), seed=7
    )
    [call] = backend.calls
    assert call["n"] == 5 and call["temperature"] == 0.6 and call["seed"] == 7
    assert call["control"] == inner.control and call["max_new_tokens"] == inner.max_new_tokens
    first, second = solutions
    assert (first.answer, first.votes) == ("1/2", {"1/2": 0.6, "3": 0.4})
    assert (second.answer, second.votes) == ("8", {"8": 0.4, "7": 0.2})
    assert len(first.generations) == 5 and first.problem_id == "p0"


def test_majority_vote_without_inner_uses_its_own_length() -> None:
    backend = FakeBackend({"q": ["1", "1"]})
    [solution] = MajorityVote(n=2, max_new_tokens=77).solve(backend, problems("q"))
    assert backend.calls[0]["control"] is None and backend.calls[0]["max_new_tokens"] == 77
    assert solution.answer == "1"


def test_best_of_n_keeps_the_highest_score() -> None:
    backend = FakeBackend({"q": ["1", "2", "3", "4"]})

    def scorer(problem: tr.Problem, g: tr.Generation) -> float:
        return {"1": 0.5, "2": math.nan, "3": 0.9, "4": 0.9}[g.answer_text[14]]

    [solution] = BestOfN(n=4, scorer=scorer).solve(backend, problems("q"))
    assert solution.answer == "3"  # 0.9 twice: the earliest sample wins; NaN ranks last
    assert (
        solution.scores[0] == 0.5 and math.isnan(solution.scores[1]) and len(solution.scores) == 4
    )


def test_scalers_reject_non_problems() -> None:
    backend = FakeBackend({})
    for scaler in (BudgetForcing(), MajorityVote(), BestOfN(scorer=lambda p, g: 0.0)):
        with pytest.raises(tr.DataError, match="as_problems"):
            scaler.solve(backend, "What is 6*7?")
        with pytest.raises(tr.DataError, match="as_problems"):
            scaler.solve(backend, [{"question": "What is 6*7?"}])
        assert scaler.solve(backend, []) == []


def test_a_backend_returning_too_few_samples_is_an_error() -> None:
    backend = FakeBackend({"q": ["1"]})
    with pytest.raises(tr.DataError, match="n generations per prompt"):
        MajorityVote(n=3).solve(backend, problems("q"))


# -- on a real (scripted) model ------------------------------------------------------------


def test_budget_forcing_solves_every_problem_in_each_round(
    monkeypatch: pytest.MonkeyPatch, scripted: Any, tokenizer: Any
) -> None:
    model = scripted(cycle_table())
    calls = []
    original = model.generate
    monkeypatch.setattr(model, "generate", lambda **kw: calls.append(1) or original(**kw))
    backend = TransformersBackend(model, tokenizer=tokenizer, format="qwen-s1", progress=False)
    solutions = BudgetForcing(max_thinking=6, max_new_tokens=20, answer_kind="integer").solve(
        backend, problems("What is 6*7?", "And 7*6?", "Once more?")
    )
    assert len(calls) == 2  # one call thinks for all three problems, one answers for all
    for s in solutions:
        [g] = s.generations
        assert s.answer == "42" and (g.thinking_tokens, g.forced_end) == (6, True)
        assert g.text == "567895\n<|im_start|>answer\nFinal Answer:42"
    assert solutions[0].thinking_tokens == 6.0


def test_waits_make_the_scripted_model_think_longer(scripted: Any, tokenizer: Any) -> None:
    backend = TransformersBackend(scripted(chain_table(5)), tokenizer=tokenizer, progress=False)
    thinking = []
    for waits in range(3):
        [s] = BudgetForcing(waits=waits).solve(backend, problems("q"))
        thinking.append(s.thinking_tokens)
        assert s.answer == "42" and s.generations[0].waits == waits
    assert thinking == [5, 12, 19]


def test_majority_vote_over_budget_forced_samples(scripted: Any, tokenizer: Any) -> None:
    backend = TransformersBackend(scripted(cycle_table()), tokenizer=tokenizer, progress=False)
    vote_ = MajorityVote(n=3, temperature=0.8, inner=BudgetForcing(max_thinking=4))
    [solution] = vote_.solve(backend, problems("q"), seed=0)
    assert solution.answer == "42" and solution.votes == {"42": 1.0}
    assert [g.thinking_tokens for g in solution.generations] == [4, 4, 4]
