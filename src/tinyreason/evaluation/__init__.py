r"""Evaluation: pull answers out of generations and grade them against references.

Light to import: math-verify (and with it sympy) loads on the first comparison that needs it.

Example:
    >>> from tinyreason.evaluation import extract_answer, equivalent
    >>> equivalent(extract_answer(r"so the answer is $\frac{1}{2}$."), "0.5")
    True
"""

from __future__ import annotations

from ..answers import (
    ANSWER_KINDS,
    CHOICE_LETTERS,
    ChoiceGrader,
    MathGrader,
    cluster_answers,
    equivalent,
    extract_answer,
    last_boxed,
    normalize,
)

__all__ = [
    "ANSWER_KINDS",
    "CHOICE_LETTERS",
    "ChoiceGrader",
    "MathGrader",
    "cluster_answers",
    "equivalent",
    "extract_answer",
    "last_boxed",
    "normalize",
]
