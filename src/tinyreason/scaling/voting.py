"""Parallel test-time scaling: majority voting and best-of-n over sampled generations.

Both draw ``n`` samples per problem in one backend call (the backend puts every sample of every
problem of a batch into a single ``generate``), optionally each under a budget-forcing control.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ..answers import vote
from ..errors import ConfigError
from ..records import Generation, Problem, Solution, ThinkingControl
from .budget_forcing import (
    BudgetForcing,
    check_problems,
    check_results,
    check_sampling,
    extract,
)
from .common import max_new_tokens_problems

if TYPE_CHECKING:
    from ..interfaces import Backend

__all__ = ["BestOfN", "MajorityVote"]


_S = TypeVar("_S", bound="_OverSamples")


def _check_common(
    n: object, temperature: object, inner: object, max_new_tokens: object, kind: object
) -> None:
    problems = []
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        problems.append(f"n must be a whole number >= 1, got {n!r}")
    problems += check_sampling(temperature, kind)
    if inner is not None and not isinstance(inner, BudgetForcing):
        problems.append(
            f"inner must be a BudgetForcing (its control applies to each sample) or None, got "
            f"{type(inner).__name__}"
        )
    problems += max_new_tokens_problems(max_new_tokens)
    if problems:
        raise ConfigError(problems)


def _sample(
    scaler: MajorityVote | BestOfN,
    backend: Backend,
    problems: Sequence[Problem],
    seed: int | None,
) -> list[tuple[Problem, list[Generation]]]:
    """Each problem with its ``n`` generations, all from one backend call."""
    problems = check_problems(problems)
    if not problems:
        return []
    inner = scaler.inner
    results = backend.generate(
        [backend.prompt(p.question) for p in problems],
        n=scaler.n,
        temperature=scaler.temperature,
        max_new_tokens=inner.max_new_tokens if inner is not None else scaler.max_new_tokens,
        control=inner.control if inner is not None else None,
        seed=seed,
    )
    check_results(results, len(problems), scaler.n)
    return list(zip(problems, results, strict=True))


class _OverSamples:
    """What both parallel scalers share: their samples' control, and the budgets evaluate sets."""

    inner: BudgetForcing | None
    max_new_tokens: int | None

    @property
    def control(self) -> ThinkingControl | None:
        """The control every sample follows (the inner budget forcing's), or None."""
        return self.inner.control if self.inner is not None else None

    def with_budget(self: _S, max_thinking: int | None) -> _S:
        """A copy whose samples are budget-forced at ``max_thinking`` (s1's default otherwise)."""
        inner = self.inner if self.inner is not None else BudgetForcing()
        return dataclasses.replace(self, inner=inner.with_budget(max_thinking))  # type: ignore[type-var]

    def with_sampling(self: _S, n: int | None = None, temperature: float | None = None) -> _S:
        """A copy drawing ``n`` samples at ``temperature`` (None: keep its own)."""
        changes: dict[str, object] = {}
        if n is not None and n != self.n:  # type: ignore[attr-defined]
            changes["n"] = n
        if temperature is not None and temperature != self.temperature:  # type: ignore[attr-defined]
            changes["temperature"] = temperature
        return dataclasses.replace(self, **changes) if changes else self  # type: ignore[type-var]

    def with_answer_kind(self: _S, kind: str) -> _S:
        """A copy (and its inner budget forcing) extracting ``kind`` where it was ``"auto"``."""
        changes: dict[str, object] = {}
        if self.answer_kind == "auto" and kind != "auto":  # type: ignore[attr-defined]
            changes["answer_kind"] = kind
        if self.inner is not None:
            inner = self.inner.with_answer_kind(kind)
            if inner is not self.inner:
                changes["inner"] = inner
        return dataclasses.replace(self, **changes) if changes else self  # type: ignore[type-var]

    def with_generation_budget(self: _S, max_new_tokens: int | None) -> _S:
        """A copy that generates with ``max_new_tokens`` where it had no budget of its own."""
        if max_new_tokens is None:
            return self
        if self.inner is not None:
            inner = self.inner.with_generation_budget(max_new_tokens)
            return self if inner is self.inner else dataclasses.replace(self, inner=inner)  # type: ignore[type-var]
        if self.max_new_tokens is not None:
            return self
        return dataclasses.replace(self, max_new_tokens=max_new_tokens)  # type: ignore[type-var]


@dataclass(frozen=True)
class MajorityVote(_OverSamples):
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
        think_end = backend.format.think_end
        solutions = []
        for problem, generations in _sample(self, backend, problems, seed):
            answers = [extract(g, self.answer_kind, think_end) for g in generations]
            winner, votes = vote(answers)
            solutions.append(Solution(problem.id, winner, tuple(generations), votes=votes))
        return solutions


@dataclass(frozen=True)
class BestOfN(_OverSamples):
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
        think_end = backend.format.think_end
        scorer = self.scorer
        assert scorer is not None
        solutions = []
        for problem, generations in _sample(self, backend, problems, seed):
            scores = tuple(float(scorer(problem, g)) for g in generations)
            ranked = [-math.inf if math.isnan(s) else s for s in scores]
            best = max(range(len(ranked)), key=lambda i: (ranked[i], -i))
            answer = extract(generations[best], self.answer_kind, think_end)
            solutions.append(Solution(problem.id, answer, tuple(generations), scores=scores))
        return solutions
