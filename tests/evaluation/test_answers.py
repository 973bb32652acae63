"""Answer extraction: boxes, answer lines, think_end, integers, letters, and fuzzing.

Run: ``.venv/bin/python -m pytest tests/evaluation/test_answers.py``
"""

from __future__ import annotations

import random

import pytest
from linear_work import assert_linear_work

import tinyreason as tr
from tinyreason.evaluation import ANSWER_KINDS, extract_answer, last_boxed

THINK_END = "<|im_start|>answer"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"\boxed{5}", "5"),
        (r"\boxed{\frac{1}{\sqrt{2}}}", r"\frac{1}{\sqrt{2}}"),
        (r"\boxed{\{1, 2\}}", r"\{1, 2\}"),  # escaped braces do not count
        (r"\boxed{\left\{ x \right\}}", r"\left\{ x \right\}"),
        (r"first \boxed{1} then \boxed{2}", "2"),
        (r"\boxed{1} then \boxed{2} and a cut-off \boxed{3", "2"),
        (r"\boxed{}", None),
        (r"\boxed 7.", "7"),
        (r"\fbox{8}", "8"),
        (r"\framebox[2cm]{9}", "9"),
        (r"\boxed { 10 }", "10"),
        ("no box", None),
        ("", None),
    ],
)
def test_last_boxed(text: str, expected: str | None) -> None:
    assert last_boxed(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"So $x = \boxed{\frac{3}{4}}$.", r"\frac{3}{4}"),
        (r"try \boxed{1}, no wait: \boxed{2}", "2"),
        ("Final Answer: $\\frac{1}{2}$.", r"\frac{1}{2}"),
        ("Answer: 17", "17"),
        ("**Answer:** 17", "17"),
        ("**Answer**: 17", "17"),
        ("The answer is 3.5. Then we check.", "3.5"),
        ("Thus the final answer is $x^2+1$, as claimed", "x^2+1"),
        ("**Final Answer**\n\n$42$", "42"),
        ("Final Answer:\n\\[ 2\\pi \\]", r"2\pi"),
        ("Answer: 12 \\boxed", "12"),  # a box cut off before its argument
        ("Answer: \\(x+1\\)", "x+1"),
        ("Final Answer: $a+$ $b$", "a+ b"),  # one answer split over two inline spans
        ("Answer: 1\nAnswer: 2", "2"),  # the last answer line wins
        # boxes come before answer lines, wherever they are
        ("Answer: 3 ... hence $\\boxed{4}$", "4"),
        # the last number as a last resort, commas of thousands removed
        ("we get 12 and then 1,000 apples", "1000"),
        ("so it is -3.5", "-3.5"),
        ("x2 and Multpi12", None),  # numbers glued to words are not answers
        ("I do not know.", None),
        ("Answer:", None),
        ("", None),
    ],
)
def test_math_answers(text: str, expected: str | None) -> None:
    assert extract_answer(text) == expected
    assert extract_answer(text, kind="math") == expected


def test_think_end_answer_part_comes_first() -> None:
    text = f"maybe \\boxed{{5}}? Wait, no.{THINK_END}\nThe answer is $\\boxed{{6}}$."
    assert extract_answer(text, think_end=THINK_END) == "6"
    # Without think_end the last box is still the answer's.
    assert extract_answer(text) == "6"


def test_think_end_beats_a_later_box_in_thinking() -> None:
    # Budget forcing can resume thinking after an early answer; the last answer part decides.
    text = f"think \\boxed{{1}}{THINK_END}Answer: 2<|im_start|>think more {THINK_END}Answer: 3"
    assert extract_answer(text, think_end=THINK_END) == "3"


def test_think_end_answer_part_over_boxes_in_thinking() -> None:
    text = f"I think \\boxed{{5}} is right.{THINK_END}\nFinal Answer: 7"
    assert extract_answer(text, think_end=THINK_END) == "7"
    assert extract_answer(text) == "5"  # without the delimiter a box beats an answer line


def test_think_end_falls_back_to_the_whole_text() -> None:
    # s1 appends "Final Answer:" when the budget runs out; the answer may be in the thinking.
    text = f"so it is \\boxed{{12}}\n{THINK_END}\nFinal Answer:"
    assert extract_answer(text, think_end=THINK_END) == "12"
    assert extract_answer("just \\boxed{3}", think_end=THINK_END) == "3"  # delimiter absent
    assert extract_answer("nothing at all" + THINK_END, think_end=THINK_END) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (r"\boxed{042}", "42"),
        (r"\boxed{\textbf{(113) }}", "113"),
        (r"$\framebox{204}$ minutes", "204"),
        (r"\boxed{\mathbf{127} }", "127"),
        (r"\boxed{m+n=37}", "37"),
        ("Answer: 0", "0"),
        ("Answer: 000", "0"),
        ("Answer: 999", "999"),
        ("Answer: 1,000", None),  # out of AIME's range
        ("Answer: 7.0", "7"),
        ("the answer is $25$.", "25"),
        ("so we get 25", "25"),  # last number as a last resort
        ("so we get 2.5", None),
        ("so we get -4", None),
        # A box that is not an integer is the model's answer: no guessing from stray numbers.
        (r"\boxed{\frac{1}{2}} from 5 cases", None),
        (r"\boxed{\frac{1}{2}} hmm. Answer: 5", "5"),  # unless an answer line gives one
        ("nothing", None),
    ],
)
def test_integer_answers(text: str, expected: str | None) -> None:
    assert extract_answer(text, kind="integer") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Answer: B", "B"),
        ("Answer: (B)", "B"),
        ("answer: b", "B"),
        ("**Answer: C**", "C"),
        ("The correct answer is (D).", "D"),
        ("The answer is B) 42 K", "B"),
        ("Final Answer: **A**", "A"),
        (r"\boxed{C}", "C"),
        (r"\boxed{\text{(A)}}", "A"),
        ("I compared them.\nB\n", "B"),  # a letter on its own line
        ("Options (A) and (C) fail, so **B**", "B"),
        ("so (C) it is", "C"),
        ("Answer: a photon", None),  # a lower-case "a" is a word, not an option
        ("Answer: E", None),  # GPQA has four options
        ("A cat sat on a mat.", None),
        ("", None),
    ],
)
def test_multiple_choice_answers(text: str, expected: str | None) -> None:
    assert extract_answer(text, kind="multiple_choice") == expected


def test_bad_kind_raises_config_error_naming_the_kinds() -> None:
    with pytest.raises(tr.ConfigError) as err:
        extract_answer("42", kind="numeric")
    assert all(kind in str(err.value) for kind in ANSWER_KINDS)


def test_non_string_text_is_no_answer() -> None:
    assert extract_answer(None) is None  # type: ignore[arg-type]
    assert last_boxed(42) is None  # type: ignore[arg-type]


_ALPHABET = [
    *"{}\\$()[]*_:.,=-+/^ \n\t0123456789abcxyzABCD",
    r"\boxed",
    r"\boxed{",
    r"\fbox",
    r"\frac",
    r"\text{",
    "Answer:",
    "Final Answer",
    "The answer is",
    THINK_END,
    "**",
    "$$",
    r"\[",
    r"\]",
    "1,000",
    "é",
    "\x00",
]


def test_fuzz_never_raises() -> None:
    rng = random.Random(0)
    for _ in range(1500):
        text = "".join(rng.choice(_ALPHABET) for _ in range(rng.randint(0, 60)))
        for kind in ANSWER_KINDS:
            result = extract_answer(text, kind=kind, think_end=rng.choice([None, THINK_END]))
            assert result is None or (isinstance(result, str) and result.strip())
            if kind == "integer" and result is not None:
                assert 0 <= int(result) <= 999 and str(int(result)) == result
            if kind.endswith("multiple_choice") and result is not None:
                assert result in "ABCD"
            if kind.startswith("s1-") and result is not None and result.isascii():
                assert not result.isdigit() or str(int(result)) == result
        last_boxed(text)


# Texts built to defeat a naive scan, as (repeated unit, full-size repetitions).
_PATHOLOGICAL = {
    "unclosed boxes": (r"\boxed{", 20_000),
    "empty answer lines": ("Answer:", 20_000),
    "braces around a box": ("{", 50_000),
    "dollars": ("$", 50_000),
    "parentheses": ("(", 50_000),
    "thousands separators": ("1,", 50_000),
    "backslashes": ("\\", 50_000),
}


def _pathological(unit: str, chars: int) -> str:
    text = unit * (chars // len(unit))
    return text + r"\boxed{1}" + "}" * 10 if unit == "{" else text


def _extract_all(text: str) -> list[str | None]:
    return [extract_answer(text, kind=kind, think_end=THINK_END) for kind in ANSWER_KINDS]


@pytest.mark.parametrize(("unit", "repeats"), _PATHOLOGICAL.values(), ids=list(_PATHOLOGICAL))
def test_pathological_text_takes_linear_work(unit: str, repeats: int) -> None:
    # What keeps these fast is work in proportion to the text (braces matched once, answer lines
    # read from the end within a capped window), counted here in bytecodes rather than timed;
    # benchmarks/answers_pathological.py times the full-size texts.
    assert_linear_work(_extract_all, lambda chars: _pathological(unit, chars), 2_000)
    found = _extract_all(_pathological(unit, len(unit) * repeats))  # the full size completes
    expected = "1" if unit in ("{", "1,") else None
    assert found[ANSWER_KINDS.index("integer")] == expected


# -- s1's rule (kind="s1-..."), each branch of its process_results -------------------------------

S1_END = "<|im_start|>answer"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # 1. The text after the last "<|im_start|>answer\n", then its last box.
        (f"try \\boxed{{1}}{S1_END}\nThe answer is $\\boxed{{2}}$.", "2"),
        (f"x{S1_END}\nAnswer: 1<|im_start|>think\nmore{S1_END}\nAnswer: 3", "3"),
        # ... else what follows "Answer:" (here after s1's forced "Final Answer:").
        (f"so 5?{S1_END}\nFinal Answer: 17", "17"),
        (f"x{S1_END}\nAnswer:   42  \n", "42"),  # surrounding whitespace stripped
        # ... else the answer part itself (s1 hands it to its judge as it is).
        (f"x{S1_END}\n5", "5"),
        (f"x{S1_END}\n$\\frac{{1}}{{2}}$", "$\\frac{1}{2}$"),
        # An empty answer part is no answer: s1 does not look back into the thinking.
        (f"so \\boxed{{12}}\n{S1_END}\nFinal Answer:", None),
        # 2. "<|im_start|>" without "answer\n": after its last occurrence, first line dropped.
        (f"x \\boxed{{1}}{S1_END} The result\nis \\boxed{{7}}", "7"),
        (f"x{S1_END} \\boxed{{3}}\nno box here", "no box here"),
        (f"x{S1_END} \\boxed{{3}}", "3"),  # no newline: nothing dropped
        ("x<|im_start|>think\nso \\boxed{8}", "8"),
        # No delimiter at all: the whole text.
        ("no delimiter, \\boxed{9}", "9"),
        # 3. Boxes, as s1's last_boxed_only_string finds them.
        (r"\boxed{\frac{1}{\sqrt{2}}}", r"\frac{1}{\sqrt{2}}"),  # nested braces
        (r"\boxed{1}, then \boxed{2}, finally \boxed{3}", "3"),  # the last box
        (r"so $\boxed 5$ points", "5"),  # "\boxed " with a space: up to the next "$"
        (r"\boxed 5$ and later \boxed{6}", "5"),  # ... and it comes first, as in s1
        (r"\fbox{8}", "8"),
        (r"Answer: 5 and \boxed{6", r"5 and \boxed{6"),  # an unclosed box is no box
        # "Answer:" runs to the end of the text: the first one takes all the rest.
        ("Answer: 1\nAnswer: 2", "1\nAnswer: 2"),
        ("ANSWER :b", "b"),
        # 4. Digit strings are integers (AIME: 023 == 23); other digits are left alone.
        ("Answer: 023", "23"),
        (r"\boxed{000}", "0"),
        ("Answer: ²", "²"),
        ("Answer: " + "x" * 1001, None),  # too long to be an answer
        ("", None),
    ],
)
def test_s1_rule_math_and_integer(text: str, expected: str | None) -> None:
    assert extract_answer(text, kind="s1-integer", think_end=S1_END) == expected
    assert extract_answer(text, kind="s1-math", think_end=S1_END) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"x{S1_END}\nAnswer: B", "B"),
        (f"x{S1_END}\nAnswer: b", "B"),  # a lower-case letter is upper-cased
        (r"\boxed{c}", "C"),
        (f"x{S1_END}\nAnswer: D\n", "D"),
        # Anything else is unparsed (None, graded wrong), never s1's default "A".
        (f"x{S1_END}\nAnswer: **B**", None),
        (f"x{S1_END}\nAnswer: B) 42 K", None),
        (f"x{S1_END}\nI pick the photon", None),
        ("Answer: E", None),
        ("", None),
    ],
)
def test_s1_rule_multiple_choice(text: str, expected: str | None) -> None:
    assert extract_answer(text, kind="s1-multiple_choice", think_end=S1_END) == expected


def test_s1_rule_generalises_to_other_formats() -> None:
    # think_end + "\n" first; a single-tag delimiter without the newline drops nothing.
    assert extract_answer("\\boxed{1}</think>\n\\boxed{2}", "s1-math", "</think>") == "2"
    assert extract_answer("\\boxed{1}</think>Answer: 4", "s1-math", "</think>") == "4"
    assert extract_answer("\\boxed{1}</think> 5\nAnswer: 6", "s1-math", "</think>") == "6"
    assert extract_answer("no end \\boxed{3}", "s1-math", "</think>") == "3"
    assert extract_answer(f"\\boxed{{1}}{S1_END}\n\\boxed{{2}}", "s1-math") == "2"  # no think_end


def test_s1_rule_differs_from_ours_where_documented() -> None:
    # Our rule searches the thinking when the answer part is empty; s1's does not.
    text = f"so it is \\boxed{{12}}\n{S1_END}\nFinal Answer:"
    assert extract_answer(text, kind="integer", think_end=S1_END) == "12"
    assert extract_answer(text, kind="s1-integer", think_end=S1_END) is None
    # Our answer lines stop at the line's end and read bold letters; s1's take the rest.
    assert extract_answer("Answer: **B**", kind="multiple_choice") == "B"
    assert extract_answer("Answer: **B**", kind="s1-multiple_choice") is None


def test_answer_kind_helpers() -> None:
    from tinyreason.answers.extract import (
        answer_kind_for,
        describe_extraction,
        split_answer_kind,
    )

    assert split_answer_kind("s1-integer") == ("s1", "integer")
    assert split_answer_kind("auto") == ("tinyreason", "auto")
    assert answer_kind_for("multiple_choice", "s1") == "s1-multiple_choice"
    assert answer_kind_for("auto", "s1") == "s1-math"
    assert answer_kind_for("s1-integer", "tinyreason") == "integer"
    with pytest.raises(tr.ConfigError, match="extraction must be one of s1, tinyreason"):
        answer_kind_for("math", "gpt-4o-mini")
    with pytest.raises(tr.ConfigError, match="answer kind must be one of"):
        split_answer_kind("s1-words")
    line = describe_extraction("s1-multiple_choice", S1_END)
    assert "'<|im_start|>answer\\n'" in line and "'<|im_start|>'" in line
    assert "unparsed" in line and "'A'" in line
    assert describe_extraction("integer", "</think>").startswith("tinyreason (integer)")
