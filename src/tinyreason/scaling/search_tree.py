r"""Tree search guided by a process reward model: beam search and DVTS (REBASE builds on it).

Each grows ``n`` partial solutions one step at a time (a step ends at ``"\n\n"``;
:mod:`~tinyreason.scaling.search_steps`), scores every new partial solution with the reward model
and decides which ones to grow next:

* :class:`BeamSearch` (``"beam-search"``, search-and-learn's): keep the best ``n / beam_width``
  of the ``n`` beams, grow each ``beam_width`` times. A beam that ends joins the candidates.
* :class:`DVTS` (``"dvts"``, diverse verifier tree search, search-and-learn's): ``n /
  beam_width`` independent subtrees, each growing ``beam_width`` next steps and keeping its best,
  so no subtree crowds out the others.
* :class:`~tinyreason.scaling.search_rebase.REBASE` (``"rebase"``, reward-balanced search, s1's
  parallel baseline), in :mod:`~tinyreason.scaling.search_rebase`, on the same machinery.

Every round is one backend call for every live path of every problem and one ``score_batch`` call.
The last round (``max_steps``) writes every path to its end. The final candidates are complete
solutions only; the answer comes from them by the ``select`` rule
(:func:`~tinyreason.scaling.search.choose`), and each method returns
:class:`~tinyreason.scaling.search.SearchSolution` records that count every generated token.

Example:
    >>> class Flat:
    ...     def score(self, question, steps):
    ...         return [0.5] * len(steps)
    ...
    ...     def score_batch(self, items):
    ...         return [self.score(question, steps) for question, steps in items]
    >>> beams = BeamSearch(Flat(), n=8, beam_width=4)
    >>> beams.n // beams.beam_width, beams.control is None
    (2, True)
    >>> solutions = beams.solve(backend, problems, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ..errors import ConfigError, DataError
from ..interfaces import RewardModel
from ..records import Problem, Solution
from .budget_forcing import check_problems, check_sampling, extract
from .common import max_new_tokens_problems
from .search import (
    Aggregate,
    SearchSolution,
    Select,
    aggregate,
    check_delimiter,
    check_verifier,
    choose,
    score_solutions,
)
from .search_steps import Path, Stepper, derive_seed, fresh_seed, reward_steps

if TYPE_CHECKING:
    from ..interfaces import Backend

__all__ = ["DVTS", "BeamSearch"]

_T = TypeVar("_T", bound="_TreeSearch")
Scored = tuple[Path, float]


class _Run:
    """One :meth:`solve`: the stepper, the prompts, and what each problem has spent."""

    def __init__(self, search: _TreeSearch, backend: Backend, problems: list[Problem], seed: int):
        self.search, self.backend, self.problems, self.seed = search, backend, problems, seed
        self.stepper = Stepper(
            backend,
            delimiter=search.step_delimiter,
            max_step_tokens=search.max_step_tokens,
            max_new_tokens=search.max_new_tokens,
        )
        self.prompts = [backend.prompt(p.question) for p in problems]
        self.spent = [0] * len(problems)
        self.scored = [0] * len(problems)

    def expand(
        self, owners: list[int], paths: list[Path], key: object, *, to_end: bool = False
    ) -> list[Path]:
        """Each path grown by one sampled step (one backend call)."""
        steps = self.stepper.expand(
            [self.prompts[o] for o in owners],
            paths,
            temperature=self.search.temperature,
            seed=derive_seed(self.seed, key),
            to_end=to_end,
        )
        for owner, step in zip(owners, steps, strict=True):
            self.spent[owner] += step.generated
        return [path.extend(step) for path, step in zip(paths, steps, strict=True)]

    def score(self, owners: list[int], paths: list[Path], key: object) -> list[float]:
        """Each path's aggregated score; unfinished paths are first rolled out by lookahead."""
        looked = list(paths)
        for k in range(getattr(self.search, "lookahead", 0)):
            live = [
                i for i, path in enumerate(looked) if not path.done and self.stepper.budget(path)
            ]
            if not live:
                break
            steps = self.stepper.expand(
                [self.prompts[owners[i]] for i in live],
                [looked[i] for i in live],
                temperature=0.0,  # search-and-learn's lookahead is greedy
                seed=derive_seed(self.seed, key, "lookahead", k),
            )
            for i, step in zip(live, steps, strict=True):
                self.spent[owners[i]] += step.generated
                looked[i] = looked[i].extend(step)
        fmt, delimiter = self.backend.format, self.search.step_delimiter
        items = [
            (self.problems[o].question, reward_steps(path.text, fmt, delimiter))
            for o, path in zip(owners, looked, strict=True)
        ]
        for owner in owners:
            self.scored[owner] += 1
        rows = score_solutions(self.search.reward_model, items)
        return [aggregate(row, self.search.aggregate) for row in rows]

    def solution(self, index: int, candidates: list[Scored]) -> Solution:
        """A problem's :class:`SearchSolution` from its complete, scored candidates."""
        problem = self.problems[index]
        if not candidates:
            raise DataError(f"the search ended with no complete solution for {problem.id!r}")
        fmt = self.backend.format
        generations = [self.stepper.generation(path, fmt) for path, _ in candidates]
        scores = tuple(score for _, score in candidates)
        answers = [extract(g, self.search.answer_kind, fmt.think_end) for g in generations]
        answer, votes = choose(answers, scores, self.search.select)
        return SearchSolution(
            problem.id,
            answer,
            tuple(generations),
            votes=votes,
            scores=scores,
            generated_tokens=self.spent[index],
            reward_sequences=self.scored[index],
        )


class _TreeSearch:
    """What the three tree searches share: settings, checks, budgets and ``solve``."""

    reward_model: RewardModel
    n: int
    temperature: float
    aggregate: Aggregate
    select: Select
    max_steps: int
    max_step_tokens: int
    max_new_tokens: int | None
    answer_kind: str
    step_delimiter: str

    def _check(self, extra: list[str]) -> None:
        problems = check_verifier(self.reward_model, self.aggregate, self.select)
        problems += check_delimiter(self.step_delimiter)
        problems += check_sampling(self.temperature, self.answer_kind)
        if not problems and self.temperature == 0:
            problems.append("temperature must be above 0: a search grows several sampled steps")
        problems += [
            f"{name} must be a whole number >= 1, got {getattr(self, name)!r}"
            for name in ("n", "max_steps", "max_step_tokens")
            if not _whole(getattr(self, name), 1)
        ]
        problems += max_new_tokens_problems(self.max_new_tokens)
        if problems or extra:
            raise ConfigError(problems + extra)

    @property
    def control(self) -> None:
        """None: the samples think freely (no thinking control applies to a search)."""
        return None

    def with_generation_budget(self: _T, max_new_tokens: int | None) -> _T:
        """A copy whose paths may take ``max_new_tokens`` tokens, where it had no budget."""
        if max_new_tokens is None or self.max_new_tokens is not None:
            return self
        return dataclasses.replace(self, max_new_tokens=max_new_tokens)  # type: ignore[type-var]

    def with_sampling(self: _T, n: int | None = None, temperature: float | None = None) -> _T:
        """A copy growing ``n`` paths at ``temperature`` (None: keep its own)."""
        changes: dict[str, object] = {}
        if n is not None and n != self.n:
            changes["n"] = n
        if temperature is not None and temperature != self.temperature:
            changes["temperature"] = temperature
        return dataclasses.replace(self, **changes) if changes else self  # type: ignore[type-var]

    def with_answer_kind(self: _T, kind: str) -> _T:
        """A copy extracting answers as ``kind`` where it extracted ``"auto"``."""
        if self.answer_kind != "auto" or kind == "auto":
            return self
        return dataclasses.replace(self, answer_kind=kind)  # type: ignore[type-var]

    def solve(
        self, backend: Backend, problems: Sequence[Problem], *, seed: int | None = None
    ) -> list[Solution]:
        """Search every problem at once (one backend and one reward call per round).

        Args:
            backend: Any :class:`~tinyreason.Backend` with a tokenizer (every built-in one).
            problems: The problems.
            seed: Seed for sampling; None draws a fresh one.

        Returns:
            One :class:`~tinyreason.scaling.search.SearchSolution` per problem, in order.
        """
        problems = check_problems(problems)
        if not problems:
            return []
        run = _Run(self, backend, problems, fresh_seed(seed))
        finals = self._search(run)
        return [run.solution(i, candidates) for i, candidates in enumerate(finals)]

    def _search(self, run: _Run) -> list[list[Scored]]:
        raise NotImplementedError


def _whole(value: object, least: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _width_problems(n: object, beam_width: object, lookahead: object) -> list[str]:
    problems = []
    if not _whole(beam_width, 1):
        problems.append(f"beam_width must be a whole number >= 1, got {beam_width!r}")
    elif _whole(n, 1) and n % beam_width:  # type: ignore[operator]
        problems.append(f"n ({n}) must be a multiple of beam_width ({beam_width})")
    if not _whole(lookahead):
        problems.append(f"lookahead must be a whole number >= 0, got {lookahead!r}")
    return problems


def _best_first(scored: list[Scored]) -> list[Scored]:
    """Highest score first; ties keep their order; NaN last."""
    return sorted(scored, key=lambda c: -c[1] if not math.isnan(c[1]) else math.inf)


@dataclass(frozen=True)
class _WidthSearch(_TreeSearch):
    """The settings and checks beam search and DVTS share (both grow ``beam_width`` per node)."""

    reward_model: RewardModel
    n: int = 8
    beam_width: int = 4
    temperature: float = 0.8
    aggregate: Aggregate = "last"
    select: Select = "weighted"
    lookahead: int = 0
    max_steps: int = 40
    max_step_tokens: int = 256
    max_new_tokens: int | None = None
    answer_kind: str = "auto"
    step_delimiter: str = "\n\n"

    def __post_init__(self) -> None:
        self._check(_width_problems(self.n, self.beam_width, self.lookahead))


@dataclass(frozen=True)
class BeamSearch(_WidthSearch):
    """Beam search over steps, guided by a process reward model (search-and-learn's).

    Each round, every one of the ``n`` beams grows one sampled step; the beams that end (end of
    turn, or out of tokens) become candidates; of the rest the best ``n / beam_width`` (by
    aggregated score) are kept, and each is grown ``beam_width`` times next round. The first ``n``
    beams to end are the candidates (search-and-learn's default; it repeats them when fewer than
    ``n`` end, tinyreason does not, so each path votes once).

    Args:
        reward_model: The PRM (``tr.reward_model(...)``).
        n: Beams (samples per round).
        beam_width: How many times each kept beam is grown (search-and-learn's ``m``).
        temperature: Sampling temperature of each step (above 0).
        aggregate: A beam's score from its steps': ``"last"``, ``"min"`` or ``"prod"``.
        select: The answer rule over the candidates: ``"weighted"``, ``"best"``, ``"majority"``.
        lookahead: Greedy steps rolled out after each sampled one before scoring it (for the score
            only; their tokens count as generated).
        max_steps: Rounds; the last writes every beam to its end (search-and-learn's
            ``num_iterations``).
        max_step_tokens: Tokens one step may take.
        max_new_tokens: Tokens a whole path may take (None: ``max_steps * max_step_tokens``).
        answer_kind: How answers are extracted.
        step_delimiter: Where a step ends.

    Example:
        >>> import tinyreason as tr
        >>> beams = tr.scaler("beam-search", reward_model=prm, n=8, beam_width=4)  # doctest: +SKIP
        >>> [solution] = beams.solve(backend, [problem], seed=0)  # doctest: +SKIP
        >>> solution.generated_tokens  # doctest: +SKIP
        5210
    """

    def _search(self, run: _Run) -> list[list[Scored]]:
        count = len(run.problems)
        active: list[list[Path]] = [[Path()] for _ in range(count)]
        done: list[list[Scored]] = [[] for _ in range(count)]
        for step in range(self.max_steps):
            owners: list[int] = []
            paths: list[Path] = []
            for i, beams in enumerate(active):
                # Repeat the kept beams up to n, as search-and-learn does (a, b, a, b, ...).
                owners += [i] * (self.n if beams else 0)
                paths += [beams[k % len(beams)] for k in range(self.n)] if beams else []
            if not paths:
                break
            grown = run.expand(owners, paths, ("beam", step), to_end=step == self.max_steps - 1)
            scores = run.score(owners, grown, ("beam", step))
            live: list[list[Scored]] = [[] for _ in range(count)]
            for owner, path, score in zip(owners, grown, scores, strict=True):
                (done if path.done else live)[owner].append((path, score))
            keep = self.n // self.beam_width
            active = [[path for path, _ in _best_first(beams)[:keep]] for beams in live]
        return [candidates[: self.n] for candidates in done]


@dataclass(frozen=True)
class DVTS(_WidthSearch):
    """Diverse verifier tree search (search-and-learn's): independent subtrees, each greedy.

    The ``n`` samples are split into ``n / beam_width`` subtrees. Each round every live subtree
    grows ``beam_width`` sampled next steps, scores them, and continues from its best; a subtree
    ends when its chosen step ends the solution. The candidates are the complete ones among each
    subtree's last ``beam_width`` (so up to ``n``; search-and-learn also returned unfinished
    siblings, its issue #57).

    Args:
        reward_model: The PRM (``tr.reward_model(...)``).
        n: Samples per round (subtrees x ``beam_width``).
        beam_width: Next steps each subtree tries per round (search-and-learn's ``m``).
        temperature: Sampling temperature of each step (above 0).
        aggregate: A path's score from its steps': ``"last"``, ``"min"`` or ``"prod"``.
        select: The answer rule over the candidates: ``"weighted"``, ``"best"``, ``"majority"``.
        lookahead: Greedy steps rolled out after each sampled one before scoring it.
        max_steps: Rounds; the last writes every path to its end.
        max_step_tokens: Tokens one step may take.
        max_new_tokens: Tokens a whole path may take (None: ``max_steps * max_step_tokens``).
        answer_kind: How answers are extracted.
        step_delimiter: Where a step ends.

    Example:
        >>> import tinyreason as tr
        >>> dvts = tr.scaler("dvts", reward_model=prm, n=16, beam_width=4)  # doctest: +SKIP
        >>> [solution] = dvts.solve(backend, [problem], seed=0)  # doctest: +SKIP
    """

    def _search(self, run: _Run) -> list[list[Scored]]:
        width = self.beam_width
        # (problem, path, the last round's scored siblings); a subtree is live until it is done.
        trees: list[tuple[int, Path, list[Scored]]] = [
            (i, Path(), []) for i in range(len(run.problems)) for _ in range(self.n // width)
        ]
        for step in range(self.max_steps):
            live = [k for k, (_, path, _) in enumerate(trees) if not path.done]
            if not live:
                break
            owners = [trees[k][0] for k in live for _ in range(width)]
            paths = [trees[k][1] for k in live for _ in range(width)]
            grown = run.expand(owners, paths, ("dvts", step), to_end=step == self.max_steps - 1)
            scores = run.score(owners, grown, ("dvts", step))
            for j, k in enumerate(live):
                siblings = list(zip(grown, scores, strict=True))[j * width : (j + 1) * width]
                best = _best_first(siblings)[0][0]
                trees[k] = (trees[k][0], best, siblings)
        finals: list[list[Scored]] = [[] for _ in run.problems]
        for owner, _, siblings in trees:
            finals[owner] += [(path, score) for path, score in siblings if path.done]
        return finals
