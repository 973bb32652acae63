r"""Test-time scaling with a verifier: a process reward model scores, weights and picks samples.

A :class:`~tinyreason.interfaces.RewardModel` (``tr.reward_model(...)``) gives every step of a
solution a score; a solution's score aggregates its steps' (:func:`aggregate`: the ``last`` step's,
the ``min``, or the ``prod``uct, as search-and-learn does). This module holds what every verifier
method shares and the two that score whole samples:

* :class:`PRMBestOfN` (``"prm-best-of-n"``): sample ``n``, answer with the highest-scored one
  (search-and-learn's "naive" best-of-N).
* :class:`WeightedMajorityVote` (``"weighted-majority-vote"``): sample ``n``, add up the scores of
  equivalent answers, answer with the heaviest group (search-and-learn's "weighted best-of-N").

Beam search, DVTS and REBASE, which score partial solutions step by step, are in
:mod:`tinyreason.scaling.search_tree`.

Compute is counted in generated tokens, as for every other scaler: each method returns a
:class:`SearchSolution`, a :class:`~tinyreason.Solution` that also carries every token the
backend generated for the problem (``generated_tokens``, discarded branches included) and how many
solutions the reward model scored (``reward_sequences``); the built-in reward models count their
own forward passes (``prm.usage``).

Example:
    >>> weighted_vote(["1/2", "0.5", "3", None], [0.5, 0.25, 1.0, 0.25])
    ('3', {'3': 0.5, '1/2': 0.375})
    >>> aggregate([0.9, 0.5, 0.8], "min"), aggregate([0.9, 0.5, 0.8], "last")
    (0.5, 0.8)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..answers import cluster_answers, vote
from ..errors import ConfigError, DataError
from ..interfaces import HasTokenizer, RewardModel
from ..records import Problem, Solution
from .budget_forcing import BudgetForcing, extract
from .search_steps import generated_tokens, reward_steps
from .voting import _check_common, _OverSamples, _sample

if TYPE_CHECKING:
    from ..interfaces import Backend

__all__ = [
    "AGGREGATES",
    "SELECTS",
    "PRMBestOfN",
    "SearchSolution",
    "WeightedMajorityVote",
    "aggregate",
    "choose",
    "solution_tokens",
    "weighted_vote",
]

Aggregate = Literal["last", "min", "prod"]
Select = Literal["best", "weighted", "majority"]

#: How a solution's step scores become one score (search-and-learn's ``agg_strategy``).
AGGREGATES: tuple[str, ...] = ("last", "min", "prod")
#: How the answer is picked from scored candidates (search-and-learn's naive / weighted / maj).
SELECTS: tuple[str, ...] = ("best", "weighted", "majority")


def aggregate(scores: Sequence[float], how: str) -> float:
    """One score for a solution from its steps' scores.

    Args:
        scores: One score per step (at least one).
        how: ``"last"`` (the final step's), ``"min"`` (the weakest step's) or ``"prod"``.

    Example:
        >>> aggregate([0.5, 0.5], "prod")
        0.25
    """
    if not scores:
        raise DataError("a solution has no step scores to aggregate")
    if how == "last":
        return float(scores[-1])
    if how == "min":
        return float(min(scores))
    if how == "prod":
        return float(math.prod(scores))
    raise ConfigError(f"aggregate must be one of {', '.join(AGGREGATES)}, got {how!r}")


def weighted_vote(
    answers: Sequence[str | None], weights: Sequence[float]
) -> tuple[str | None, dict[str, float]]:
    """The answer whose equivalent group has the largest total weight, and each group's share.

    Answers are grouped as :func:`~tinyreason.answers.vote` groups them. A group's share is its
    weight over every sample's (samples without an answer count in the denominator). Ties go to
    the group that appeared first; a sample without an answer never wins; NaN weighs nothing.

    Example:
        >>> weighted_vote(["4", "5", "5"], [0.9, 0.4, 0.4])[0]
        '4'
        >>> weighted_vote([None], [1.0])
        (None, {})
    """
    if len(answers) != len(weights):
        raise DataError(f"{len(answers)} answers but {len(weights)} weights")
    clean = [0.0 if math.isnan(w) else float(w) for w in weights]
    total = sum(clean)
    groups = [
        (answer, sum(clean[i] for i in members)) for answer, members in cluster_answers(answers)
    ]
    ranked = sorted(groups, key=lambda group: -group[1])  # stable: the earliest wins a tie
    shares = {answer: (weight / total if total else 0.0) for answer, weight in ranked}
    return (ranked[0][0] if ranked else None), shares


def choose(
    answers: Sequence[str | None], scores: Sequence[float], select: str
) -> tuple[str | None, dict[str, float]]:
    """The answer a scaler gives from its scored candidates, and the votes behind it.

    Args:
        answers: Each candidate's extracted answer.
        scores: Each candidate's aggregated score.
        select: ``"best"``: the highest-scored candidate's answer (NaN ranks last, ties go to the
            earliest), no votes; ``"weighted"``: :func:`weighted_vote`; ``"majority"``: a plain
            vote that ignores the scores.

    Example:
        >>> choose(["4", "5", "5"], [0.9, 0.4, 0.4], "majority")
        ('5', {'5': 0.6666666666666666, '4': 0.3333333333333333})
    """
    if select == "weighted":
        return weighted_vote(answers, scores)
    if select == "majority":
        return vote(answers)
    ranked = [-math.inf if math.isnan(s) else s for s in scores]
    best = max(range(len(ranked)), key=lambda i: (ranked[i], -i))
    return answers[best], {}


@dataclass(frozen=True)
class SearchSolution(Solution):
    """A :class:`~tinyreason.Solution` from a verifier-guided scaler, with what it spent.

    Args:
        generated_tokens: Every token the backend generated for this problem: the candidates'
            and the discarded branches', the tokens a step wrote past its delimiter, lookahead
            rollouts and end-of-turn tokens. The x axis that puts parallel and sequential
            methods side by side.
        reward_sequences: Partial or whole solutions the reward model scored for this problem.

    ``generations`` are the final candidates, ``scores`` their aggregated scores (in the same
    order) and ``votes`` the shares behind the answer (empty for ``select="best"``).

    Example:
        >>> from tinyreason import Generation
        >>> g = Generation("x</think>4", "x", "4", thinking_tokens=1, answer_tokens=1)
        >>> SearchSolution("p1", "4", (g,), scores=(0.9,), generated_tokens=40).generated_tokens
        40
    """

    generated_tokens: int = 0
    reward_sequences: int = 0


def solution_tokens(solution: Solution) -> int:
    """Tokens generated for a solution: a :class:`SearchSolution`'s own count, else its samples'.

    Example:
        >>> from tinyreason import Generation
        >>> g = Generation("x</think>4", "x", "4", thinking_tokens=1, answer_tokens=1)
        >>> solution_tokens(Solution("p1", "4", (g, g)))  # 2 x (thinking, answer, end of turn)
        6
    """
    if isinstance(solution, SearchSolution):
        return solution.generated_tokens
    return sum(generated_tokens(g) for g in solution.generations)


def score_solutions(
    reward_model: RewardModel, items: Sequence[tuple[str, list[str]]]
) -> list[list[float]]:
    """Score every ``(question, steps)`` with one ``score_batch`` call, checking the answer."""
    if not items:
        return []
    scores = reward_model.score_batch(items)
    if not isinstance(scores, (list, tuple)) or len(scores) != len(items):
        got = len(scores) if isinstance(scores, (list, tuple)) else type(scores).__name__
        raise DataError(
            f"the reward model returned {got} score lists for {len(items)} solutions; "
            "score_batch must return one list per (question, steps) item, in order."
        )
    for (_, steps), row in zip(items, scores, strict=True):
        if not isinstance(row, (list, tuple)) or len(row) != len(steps):
            raise DataError(
                f"the reward model returned {row!r} for {len(steps)} steps; score_batch must give "
                "one number per step."
            )
    return [[float(s) for s in row] for row in scores]


def check_verifier(reward_model: object, aggregate: object, select: object) -> list[str]:
    """Problems with the settings every verifier-guided scaler shares."""
    problems = []
    if not isinstance(reward_model, RewardModel):
        problems.append(
            "reward_model must be a RewardModel (score() and score_batch()), e.g. "
            f"tr.reward_model('qwen-prm', ...); got {type(reward_model).__name__}"
        )
    if aggregate not in AGGREGATES:
        problems.append(f"aggregate must be one of {', '.join(AGGREGATES)}, got {aggregate!r}")
    if select not in SELECTS:
        problems.append(f"select must be one of {', '.join(SELECTS)}, got {select!r}")
    return problems


def check_delimiter(delimiter: object) -> list[str]:
    """The problem with a step delimiter, if any."""
    if not isinstance(delimiter, str) or not delimiter:
        return [f"step_delimiter must be a non-empty string, got {delimiter!r}"]
    return []


class _ScoresSamples(_OverSamples):
    """Sample ``n`` whole solutions per problem (as majority voting does) and score each."""

    reward_model: RewardModel
    n: int
    temperature: float
    aggregate: Aggregate
    select: Select
    answer_kind: str
    step_delimiter: str

    def _check(self) -> None:
        _check_common(self.n, self.temperature, self.inner, self.max_new_tokens, self.answer_kind)
        problems = check_verifier(self.reward_model, self.aggregate, self.select)
        problems += check_delimiter(self.step_delimiter)
        if problems:
            raise ConfigError(problems)

    def solve(
        self, backend: Backend, problems: Sequence[Problem], *, seed: int | None = None
    ) -> list[Solution]:
        """Sample ``n`` per problem in one backend call, score them all in one reward call.

        Returns:
            One :class:`SearchSolution` per problem: every sample, its aggregated score, the
            answer the ``select`` rule picks and the tokens generated.
        """
        sampled = _sample(self, backend, problems, seed)  # type: ignore[arg-type]
        fmt = backend.format
        items = [
            (p.question, reward_steps(g.text, fmt, self.step_delimiter))
            for p, generations in sampled
            for g in generations
        ]
        scores = iter(score_solutions(self.reward_model, items))
        tokenizer = backend.tokenizer if isinstance(backend, HasTokenizer) else None
        solutions: list[Solution] = []
        for problem, generations in sampled:
            totals = tuple(aggregate(next(scores), self.aggregate) for _ in generations)
            answers = [extract(g, self.answer_kind, fmt.think_end) for g in generations]
            answer, votes = choose(answers, totals, self.select)
            solutions.append(
                SearchSolution(
                    problem.id,
                    answer,
                    tuple(generations),
                    votes=votes,
                    scores=totals,
                    generated_tokens=sum(generated_tokens(g, tokenizer) for g in generations),
                    reward_sequences=len(generations),
                )
            )
        return solutions


@dataclass(frozen=True)
class PRMBestOfN(_ScoresSamples):
    """Best-of-N with a process reward model: the highest-scored of ``n`` samples answers.

    The samples are majority voting's (one backend call, the same seed gives the same samples), so
    the two compare on one pool. search-and-learn calls this "naive" best-of-N.

    Args:
        reward_model: The PRM (``tr.reward_model(...)``).
        n: Samples per problem.
        temperature: Sampling temperature.
        aggregate: A sample's score from its steps': ``"last"``, ``"min"`` or ``"prod"``.
        select: ``"best"`` here; ``"weighted"`` or ``"majority"`` turn it into a vote.
        inner: A :class:`BudgetForcing` whose control applies to every sample.
        max_new_tokens: Tokens per sample when ``inner`` is None.
        answer_kind: How answers are extracted.
        step_delimiter: Where the reward model's steps are split (thinking only; the answer is
            one last step).

    Example:
        >>> import tinyreason as tr
        >>> prm = tr.reward_model("qwen-prm", trust_remote_code=True)  # doctest: +SKIP
        >>> best = tr.scaler("prm-best-of-n", reward_model=prm, n=16)  # doctest: +SKIP
        >>> [solution] = best.solve(backend, [problem], seed=0)  # doctest: +SKIP
    """

    reward_model: RewardModel
    n: int = 8
    temperature: float = 0.7
    aggregate: Aggregate = "last"
    select: Select = "best"
    inner: BudgetForcing | None = None
    max_new_tokens: int | None = None
    answer_kind: str = "auto"
    step_delimiter: str = "\n\n"

    def __post_init__(self) -> None:
        self._check()


@dataclass(frozen=True)
class WeightedMajorityVote(_ScoresSamples):
    """Majority voting where each sample's vote weighs its reward-model score.

    Equivalent answers form one group (as in majority voting); the group with the largest summed
    score wins. search-and-learn calls this "weighted best-of-N"; it was its strongest
    best-of-N rule.

    Args:
        reward_model: The PRM (``tr.reward_model(...)``).
        n: Samples per problem.
        temperature: Sampling temperature.
        aggregate: A sample's weight from its steps' scores: ``"last"``, ``"min"`` or ``"prod"``.
        select: ``"weighted"`` here (``"best"`` / ``"majority"`` are the other rules).
        inner: A :class:`BudgetForcing` whose control applies to every sample.
        max_new_tokens: Tokens per sample when ``inner`` is None.
        answer_kind: How answers are extracted.
        step_delimiter: Where the reward model's steps are split.

    Example:
        >>> import tinyreason as tr
        >>> vote = tr.scaler("weighted-majority-vote", reward_model=prm, n=16)  # doctest: +SKIP
        >>> [solution] = vote.solve(backend, [problem], seed=0)  # doctest: +SKIP
        >>> solution.votes  # doctest: +SKIP
        {'42': 0.81, '24': 0.12}
    """

    reward_model: RewardModel
    n: int = 8
    temperature: float = 0.7
    aggregate: Aggregate = "last"
    select: Select = "weighted"
    inner: BudgetForcing | None = None
    max_new_tokens: int | None = None
    answer_kind: str = "auto"
    step_delimiter: str = "\n\n"

    def __post_init__(self) -> None:
        self._check()
