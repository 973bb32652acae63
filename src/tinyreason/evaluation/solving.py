"""Solve a benchmark at every budget in fixed, seeded groups of problems, then grade each pool.

The problems are cut into groups of ``commit_every`` (:func:`groups`), the same groups on every
run, each with a seed derived from the run's seed and its position (:func:`chunk_seed`). Each
group is one call of the scaler; with a run folder, each is committed as it returns and a rerun
solves only the groups not committed yet, so it draws what an uninterrupted run draws. Once a
budget's groups are all solved, every sample's answer is extracted and graded, and the majority
of each problem's first ``k`` samples too (:func:`majority_correct`), into one
:class:`~tinyreason.evaluation.report.SettingResult` per budget.

Example:
    >>> groups(5, 2)
    [(0, 0, 2), (1, 2, 4), (2, 4, 5)]
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

from ..errors import DataError
from ..interfaces import Backend, Grader, TestTimeScaler
from ..records import Problem, Solution
from .report import SettingResult
from .scaler_setup import bounds

if TYPE_CHECKING:
    from .run_dir import RunFolder

__all__ = ["check_solutions", "chunk_seed", "groups", "majority_correct", "solve_settings"]


def groups(count: int, step: int) -> list[tuple[int, int, int]]:
    """``count`` problems cut into groups of ``step``: (group, first index, end index)."""
    return [(c, s, min(s + step, count)) for c, s in enumerate(range(0, count, step))]


def chunk_seed(seed: int, chunk: int) -> int:
    """The seed of a group of problems: the run's seed for the first, derived for the others.

    So one group holding every problem (a run without ``run_dir``) draws exactly what it did
    before, and groups after the first do not repeat the first one's draws.

    Example:
        >>> chunk_seed(7, 0), chunk_seed(7, 1) == chunk_seed(7, 1) != chunk_seed(7, 2)
        (7, True)
    """
    if chunk == 0:
        return seed
    key = f"tinyreason-evaluate/{seed}/{chunk}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=4).digest(), "big") >> 1


def solve_settings(
    backend: Backend,
    name: str,
    problems: list[Problem],
    settings: list[int | None],
    configured: list[TestTimeScaler],
    kind: str,
    grader: Grader,
    seed: int,
    step: int,
    run: RunFolder | None,
    progress: bool,
) -> list[SettingResult]:
    """Solve every budget's groups of problems (skipping what ``run`` holds), then grade.

    Args:
        backend: What generates.
        name: The benchmark's name (for the progress bar).
        problems: The problems, each with a reference answer.
        settings: The budgets, in order.
        configured: The scaler of each budget.
        kind: The answer kind every sample's answer is extracted with.
        grader: What decides whether an answer is right.
        seed: The run's seed (each group's is :func:`chunk_seed` of it).
        step: Problems per group (``commit_every``).
        run: The run folder that commits each group, or None.
        progress: Show a progress bar over budgets and groups.

    Raises:
        DataError: the scaler returned too few or too many solutions, or out of order.
    """
    from ..answers import extract_answer

    think_end = backend.format.think_end
    every = groups(len(problems), step)
    todo = [run.todo(i) if run is not None else every for i in range(len(settings))]
    bar = tqdm(
        total=len(settings) * len(every),
        initial=len(settings) * len(every) - sum(map(len, todo)),
        desc=f"evaluate {name}",
        disable=not progress,
    )
    results = []
    with bar:
        for i, (budget, scaler) in enumerate(zip(settings, configured, strict=True)):
            solved: dict[int, Solution] = run.done(i) if run is not None else {}
            for chunk, start, end in todo[i]:
                part = problems[start:end]
                solutions = scaler.solve(backend, part, seed=chunk_seed(seed, chunk))
                check_solutions(part, solutions)
                if run is not None:
                    run.commit(i, budget, chunk, part, solutions)
                solved.update(zip(range(start, end), solutions, strict=True))
                bar.update(1)
            ordered = [solved[j] for j in range(len(problems))]
            sample_answers = [
                [extract_answer(g.text, kind=kind, think_end=think_end) for g in s.generations]
                for s in ordered
            ]
            results.append(
                SettingResult(
                    label=f"budget={budget}" if budget is not None else "unbounded",
                    budget=budget,
                    bounds=bounds(scaler),
                    problems=problems,
                    solutions=ordered,
                    correct=[
                        grader.grade(s.answer, _reference(p))
                        for p, s in zip(problems, ordered, strict=True)
                    ],
                    sample_correct=[
                        [grader.grade(answer, _reference(p)) for answer in answers]
                        for p, answers in zip(problems, sample_answers, strict=True)
                    ],
                    majority_correct=majority_correct(problems, sample_answers, grader),
                    sample_answers=sample_answers,
                )
            )
    return results


def check_solutions(problems: Sequence[Problem], solutions: Sequence[Solution]) -> None:
    """Refuse a scaler's answer to a group unless it is one solution per problem, in order.

    Raises:
        DataError: too few or too many solutions, or one for another problem.
    """
    if len(solutions) != len(problems):
        raise DataError(
            f"the scaler returned {len(solutions)} solutions for {len(problems)} problems"
        )
    stray = [
        (p.id, s.problem_id)
        for p, s in zip(problems, solutions, strict=True)
        if p.id != s.problem_id
    ]
    if stray:
        raise DataError(
            f"the scaler returned solutions out of order (problem {stray[0][0]!r} got the "
            f"solution of {stray[0][1]!r}); a scaler returns one solution per problem, in order."
        )


def _reference(problem: Problem) -> str:
    """A problem's reference answer (``tr.evaluate`` refused problems without one)."""
    assert problem.answer is not None
    return problem.answer


def majority_correct(
    problems: Sequence[Problem], sample_answers: Sequence[Sequence[str | None]], grader: Grader
) -> dict[int, list[bool]]:
    """Per k, whether each problem's majority answer over its first ``k`` samples is right.

    The first ``k`` rather than every subset of size ``k``: a prefix of an i.i.d. pool is itself an
    i.i.d. draw of ``k``, it is what s1's ``*_agg64`` tasks report, and it costs one vote per k.

    Example:
        >>> from tinyreason import Problem
        >>> from tinyreason.answers import MathGrader
        >>> majority_correct([Problem("p", "1+1?", "2")], [["2", "3", "2", "3"]], MathGrader())
        {1: [True], 2: [True], 4: [True]}
    """
    from ..answers import vote
    from .metrics import k_values

    ks = k_values(min(len(answers) for answers in sample_answers))
    return {
        k: [
            grader.grade(vote(list(answers[:k]))[0], _reference(p))
            for p, answers in zip(problems, sample_answers, strict=True)
        ]
        for k in ks
    }
