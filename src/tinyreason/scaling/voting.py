"""Parallel test-time scaling: majority voting and best-of-n over sampled generations.

Both draw ``n`` samples per problem in one backend call (the backend puts every sample of every
problem of a batch into a single ``generate``), optionally each under a budget-forcing control.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..answers import vote
from ..errors import ConfigError
from ..records import Generation, Problem, Solution
from .budget_forcing import (
    BudgetForcing,
    check_problems,
    check_results,
    check_sampling,
    extract,
)

if TYPE_CHECKING:
    from ..interfaces import Backend

__all__ = ["BestOfN", "MajorityVote"]


def _check_common(n: Any, temperature: Any, inner: Any, max_new_tokens: Any, kind: Any) -> None:
    problems = []
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        problems.append(f"n must be a whole number >= 1, got {n!r}")
    problems += check_sampling(temperature, kind)
    if inner is not None and not isinstance(inner, BudgetForcing):
        problems.append(
            f"inner must be a BudgetForcing (its control applies to each sample) or None, got "
            f"{type(inner).__name__}"
        )
    if max_new_tokens is not None and (
        isinstance(max_new_tokens, bool)
        or not isinstance(max_new_tokens, int)
        or max_new_tokens < 1
    ):
        problems.append(
            f"max_new_tokens must be None or a whole number >= 1, got {max_new_tokens!r}"
        )
    if problems:
        raise ConfigError(problems)


def _sample(
    backend: Backend,
    problems: Sequence[Problem],
    n: int,
    temperature: float,
    inner: BudgetForcing | None,
    max_new_tokens: int | None,
    seed: int | None,
) -> list[list[Generation]]:
    """``n`` generations per problem from one backend call."""
    results = backend.generate(
        [backend.prompt(p.question) for p in problems],
        n=n,
        temperature=temperature,
        max_new_tokens=inner.max_new_tokens if inner is not None else max_new_tokens,
        control=inner.control if inner is not None else None,
        seed=seed,
    )
    check_results(results, len(problems), n)
    return results


@dataclass(frozen=True)
class MajorityVote:
    r"""Sample ``n`` answers per problem and return the most common one (self-consistency).

    Equivalent answers (``"1/2"``, ``"0.5"``, ``"\frac{1}{2}"``) form one group
    (:func:`tinyreason.evaluation.cluster_answers`). The largest group wins; a tie goes to the group
    whose answer appeared first. Samples without an answer never win over a real answer: the
    answer is None only when no sample has one.

    Args:
        n: Samples per problem.
        temperature: Sampling temperature (0 would make every sample identical).
        inner: A :class:`BudgetForcing` whose control applies to every sample (its own
            ``temperature`` is ignored; its budget sets the generation length).
        max_new_tokens: Tokens per sample when ``inner`` is None (None: the backend sizes it
            from the model's context window).
        answer_kind: How answers are extracted (``"auto"``, ``"math"``, ``"integer"``,
            ``"multiple_choice"``).

    Example:
        >>> vote = MajorityVote(n=16, temperature=0.7, inner=BudgetForcing(max_thinking=4000))
        >>> vote.inner.control.max_thinking
        4000
        >>> [solution] = vote.solve(backend, [problem], seed=0)  # doctest: +SKIP
        >>> solution.votes  # doctest: +SKIP
        {'42': 0.75, '24': 0.25}
    """

    n: int = 8
    temperature: float = 0.7
    inner: BudgetForcing | None = None
    max_new_tokens: int | None = None
    answer_kind: str = "auto"

    def __post_init__(self) -> None:
        _check_common(self.n, self.temperature, self.inner, self.max_new_tokens, self.answer_kind)

    def solve(
        self, backend: Backend, problems: Sequence[Problem], *, seed: int | None = None
    ) -> list[Solution]:
        """Vote over ``n`` samples per problem; samples come from one backend call.

        Returns:
            One :class:`~tinyreason.Solution` per problem: the winning answer, all ``n``
            generations, and ``votes``: each group's share of the ``n`` samples, largest first
            (samples without an answer count in the denominator, so shares may sum below 1).
        """
        problems = check_problems(problems)
        if not problems:
            return []
        results = _sample(
            backend, problems, self.n, self.temperature, self.inner, self.max_new_tokens, seed
        )
        think_end = getattr(backend.format, "think_end", None)
        solutions = []
        for problem, generations in zip(problems, results, strict=True):
            answers = [extract(g, self.answer_kind, think_end) for g in generations]
            winner, votes = vote(answers)
            solutions.append(Solution(problem.id, winner, tuple(generations), votes=votes))
        return solutions


@dataclass(frozen=True)
class BestOfN:
    """Sample ``n`` generations per problem and keep the one a scorer ranks highest.

    Args:
        n: Samples per problem.
        scorer: ``scorer(problem, generation) -> float``; higher is better (a reward model, a
            verifier, a length penalty...). A NaN score ranks last; ties go to the earliest sample.
        temperature: Sampling temperature.
        inner: A :class:`BudgetForcing` whose control applies to every sample.
        max_new_tokens: Tokens per sample when ``inner`` is None (None: the backend sizes it
            from the model's context window).
        answer_kind: How the kept sample's answer is extracted.

    Example:
        >>> shortest = BestOfN(n=4, scorer=lambda problem, g: -g.thinking_tokens)
        >>> [solution] = shortest.solve(backend, [problem], seed=0)  # doctest: +SKIP
        >>> len(solution.scores)  # doctest: +SKIP
        4
    """

    n: int = 8
    scorer: Callable[[Problem, Generation], float] | None = None
    temperature: float = 0.7
    inner: BudgetForcing | None = None
    max_new_tokens: int | None = None
    answer_kind: str = "auto"

    def __post_init__(self) -> None:
        if not callable(self.scorer):
            raise ConfigError(
                "BestOfN needs scorer=, a function (problem, generation) -> float that ranks "
                f"samples; got {self.scorer!r}"
            )
        _check_common(self.n, self.temperature, self.inner, self.max_new_tokens, self.answer_kind)

    def solve(
        self, backend: Backend, problems: Sequence[Problem], *, seed: int | None = None
    ) -> list[Solution]:
        """Score ``n`` samples per problem and answer with the best one.

        Returns:
            One :class:`~tinyreason.Solution` per problem, with every generation, its score
            (``scores``, in generation order) and the best sample's answer.
        """
        problems = check_problems(problems)
        if not problems:
            return []
        results = _sample(
            backend, problems, self.n, self.temperature, self.inner, self.max_new_tokens, seed
        )
        think_end = getattr(backend.format, "think_end", None)
        scorer = self.scorer
        assert scorer is not None
        solutions = []
        for problem, generations in zip(problems, results, strict=True):
            scores = tuple(float(scorer(problem, g)) for g in generations)
            ranked = [-math.inf if math.isnan(s) else s for s in scores]
            best = max(range(len(ranked)), key=lambda i: (ranked[i], -i))
            answer = extract(generations[best], self.answer_kind, think_end)
            solutions.append(Solution(problem.id, answer, tuple(generations), scores=scores))
        return solutions
