r"""Answers: extraction, math equivalence, grading and vote clustering, one neutral layer.

Every stage that reads an answer uses this package: budget forcing and majority voting pick and
group answers with it, selection grades teacher traces with it, evaluation grades students with
it. It imports nothing above the records, so any stage may use it.

* :mod:`~tinyreason.answers.extract`: answer extraction (tinyreason's rules and s1's).
* :mod:`~tinyreason.answers.s1`: s1's own extraction rule.
* :mod:`~tinyreason.answers.grading`: normalisation, equivalence, graders, vote clustering.
* :mod:`~tinyreason.answers.verify`: math-verify in a worker process.

Light to import: math-verify (and with it sympy) loads on the first comparison that needs it.

Example:
    >>> from tinyreason.answers import equivalent, extract_answer
    >>> equivalent(extract_answer(r"so the answer is $\frac{1}{2}$."), "0.5")
    True
"""

from __future__ import annotations

from .extract import (
    ANSWER_KINDS,
    CHOICE_LETTERS,
    EXTRACTIONS,
    answer_kind_for,
    describe_extraction,
    extract_answer,
    last_boxed,
    split_answer_kind,
)
from .grading import (
    ChoiceGrader,
    FullTextGrader,
    MathGrader,
    cluster_answers,
    describe_grader,
    equivalent,
    grader_for,
    normalize,
    vote,
)
from .s1 import s1_extract_answer

__all__ = [
    "ANSWER_KINDS",
    "CHOICE_LETTERS",
    "EXTRACTIONS",
    "ChoiceGrader",
    "FullTextGrader",
    "MathGrader",
    "answer_kind_for",
    "cluster_answers",
    "describe_extraction",
    "describe_grader",
    "equivalent",
    "extract_answer",
    "grader_for",
    "last_boxed",
    "normalize",
    "s1_extract_answer",
    "split_answer_kind",
    "vote",
]
