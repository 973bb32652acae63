"""The full-text grader: math-verify extracts the answer from the whole response itself."""

from __future__ import annotations

import pytest

from tinyreason.answers import FullTextGrader, MathGrader, extract_answer


@pytest.mark.parametrize(
    ("response", "reference", "full", "extracted"),
    [
        # Both agree on a boxed answer.
        (r"We add: $1+1=2$, so $\boxed{2}$.", "2", True, True),
        # Our s1 extraction reads the text after "Answer:"; math-verify reads the last LaTeX.
        ("Answer: 3\nwhere $x = 4$", "3", False, True),
        # An equivalent form is equal to both.
        (r"So $\boxed{\frac{1}{2}}$", "0.5", True, True),
        # A wrong answer is wrong to both.
        (r"so $\boxed{7}$", "8", False, False),
    ],
)
def test_full_text_and_extracted_grades(
    response: str, reference: str, full: bool, extracted: bool
) -> None:
    assert FullTextGrader().grade(response, reference) is full
    assert MathGrader().grade(extract_answer(response), reference) is extracted


def test_nothing_to_grade_is_wrong_not_an_error() -> None:
    grader = FullTextGrader()
    assert grader.grade(None, "1") is False
    assert grader.grade("   ", "1") is False
    assert grader.grade("no math here", "1") is False
