"""Rejection sampling (s1's RS): tries until the thinking fits, a limit, and what happens at it."""

from __future__ import annotations

from typing import Any

import pytest

import tinyreason as tr
from tinyreason.scaling import BudgetForcing
from tinyreason.scaling.rejection import RejectionSampling, RejectionSolution

from . import test_conditional
from .conftest import chain_table, random_table
from .test_conditional import PROBLEMS, Recording

#: Both backends: transformers in process, and the server backend over the completions server.
make_backend = test_conditional.make_backend


def test_configuration_is_checked() -> None:
    assert isinstance(tr.scaler("rejection-sampling", max_thinking=64), RejectionSampling)
    with pytest.raises(tr.ConfigError) as err:
        RejectionSampling(max_thinking=0, max_tries=0, temperature=-1, on_exhausted="retry")  # type: ignore[arg-type]
    assert len(err.value.problems) == 4
    with pytest.raises(tr.ConfigError, match="without waits"):
        RejectionSampling(inner=BudgetForcing(waits=1))
    with pytest.raises(tr.ConfigError, match="one sample per problem"):
        RejectionSampling().with_sampling(n=4)
    rs = RejectionSampling(max_thinking=32).with_budget(16).with_sampling(temperature=0.8)
    assert (rs.max_thinking, rs.temperature, rs.compute_bounds()) == (16, 0.8, (0.0, 16.0))
    # A kept thinking keeps to the budget. A try may write one more token (the one that ends a
    # thinking of exactly 16) and answers one token at most: a rejected try costs little.
    assert rs.control.max_thinking == 16
    assert (rs.try_control.max_thinking, rs.try_control.max_answer_tokens) == (17, 1)


def test_a_thinking_that_fits_is_kept_at_the_first_try(
    make_backend: Any, scripted: Any, tokenizer: Any
) -> None:
    backend = Recording(make_backend(scripted(chain_table(5)), tokenizer))
    solutions = RejectionSampling(max_thinking=8).solve(backend, PROBLEMS, seed=0)
    assert all(isinstance(s, RejectionSolution) for s in solutions)
    assert [(s.tries, s.accepted, s.answer) for s in solutions] == [(1, True, "42")] * 2
    g = solutions[0].generations[0]
    assert (g.thinking, g.thinking_tokens, g.forced_end, g.text) == (
        "56789",
        5,
        False,
        "56789</think>\n42",
    )
    # One round for both problems, then one call that answers both kept thinkings.
    assert [len(c["prompts"]) for c in backend.calls] == [2, 2]
    assert backend.calls[0]["temperature"] == 1.0
    assert backend.calls[1]["control"] is None
    assert backend.calls[1]["prompts"][0] == backend.prompt("What is 6*7?") + "56789</think>"


@pytest.mark.parametrize("on_exhausted", ["forced", "none"])
def test_running_out_of_tries_is_said_and_answered_as_asked(
    make_backend: Any, scripted: Any, tokenizer: Any, on_exhausted: str
) -> None:
    backend = Recording(make_backend(scripted(chain_table(5)), tokenizer))
    rs = RejectionSampling(max_thinking=3, max_tries=3, on_exhausted=on_exhausted)  # type: ignore[arg-type]
    [solution] = rs.solve(backend, PROBLEMS[:1], seed=0)
    assert (solution.tries, solution.accepted) == (3, False)
    g = solution.generations[0]
    if on_exhausted == "forced":  # budget forcing at 3 tokens: the cut, then the lead-in
        assert (g.thinking_tokens, g.forced_end) == (3, True)
        assert g.text == "567\n</think>\nFinal Answer:42" and solution.answer == "42"
        assert len(backend.calls) == 4
    else:  # the last try, as drawn (one token over the budget: rejected), and no answer
        assert (g.thinking_tokens, g.forced_end) == (4, True)
        assert solution.answer is None and len(backend.calls) == 3


def test_random_lengths_take_random_tries_and_the_same_seed_draws_the_same(
    make_backend: Any, scripted: Any, tokenizer: Any
) -> None:
    backend = Recording(make_backend(scripted(random_table()), tokenizer))
    problems = [tr.Problem(f"p{i}", f"question {i}", answer="42") for i in range(6)]
    rs = RejectionSampling(max_thinking=1, max_tries=40, inner=BudgetForcing(max_new_tokens=64))
    assert rs.try_control.max_thinking == 2  # "5" and the token that ends it
    first = rs.solve(backend, problems, seed=3)
    rounds = [c["prompts"] for c in backend.calls if c["control"] is not None]
    for i, solution in enumerate(first):
        g = solution.generations[0]
        assert solution.accepted and not g.forced_end and g.thinking_tokens <= 1
        # Every try of a problem is one place in one round: tries count the rounds it was in.
        prompt = backend.prompt(problems[i].question)
        assert solution.tries == sum(prompt in r for r in rounds)
    assert max(s.tries for s in first) > 1  # some thinking ran past one token at first
    assert len(rounds) == max(s.tries for s in first)
    assert [len(r) for r in rounds] == sorted((len(r) for r in rounds), reverse=True)
    again = rs.solve(backend, problems, seed=3)
    assert [(s.tries, s.generations[0].text) for s in again] == [
        (s.tries, s.generations[0].text) for s in first
    ]
