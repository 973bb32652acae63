"""A Solution as plain JSON data and back: the form a run's results log and a saved report share.

Example:
    >>> from tinyreason import Generation, Solution
    >>> solution = Solution("p", "4", (Generation("4", "", "4", 3, 1),), votes={"4": 1})
    >>> solution_from_dict(solution_to_dict(solution)) == solution
    True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..records import Generation, Solution

__all__ = ["solution_from_dict", "solution_to_dict"]


def solution_to_dict(solution: Solution) -> dict[str, Any]:
    """A Solution as plain JSON data (:func:`solution_from_dict` reads it back equal)."""
    return {
        "problem_id": solution.problem_id,
        "answer": solution.answer,
        "generations": [
            {
                f.name: list(v) if isinstance(v := getattr(g, f.name), tuple) else v
                for f in dataclasses.fields(g)
            }
            for g in solution.generations
        ],
        "votes": dict(solution.votes),
        "scores": list(solution.scores),
    }


def solution_from_dict(data: Mapping[str, Any]) -> Solution:
    """Read :func:`solution_to_dict`'s form back (TypeError, KeyError or DataError on junk)."""
    generations = tuple(Generation(**g) for g in data["generations"])
    return Solution(
        data["problem_id"],
        data["answer"],
        generations,
        votes=dict(data["votes"]),
        scores=tuple(data["scores"]),
    )
