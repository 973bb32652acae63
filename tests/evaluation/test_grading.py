"""Answer equivalence, clustering, graders, timeouts, and agreement on the shared benchmark data.

Run: ``.venv/bin/python -m pytest tests/evaluation/test_grading.py -s`` (``-s`` prints the rates).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from linear_work import assert_linear_work

import tinyreason as tr
from tinyreason.answers import grading, verify
from tinyreason.evaluation import (
    ChoiceGrader,
    MathGrader,
    cluster_answers,
    equivalent,
    extract_answer,
    last_boxed,
    normalize,
)

DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
# The timeout for comparisons whose verdict a test asserts: math-verify answers in milliseconds,
# but on a loaded machine one can take seconds, and a timed-out comparison is False. This only
# keeps a comparison that would hang from hanging: the verdict, never the clock, decides.
GENEROUS = 60.0
GRADER = MathGrader(timeout=GENEROUS)


@pytest.mark.parametrize(
    ("answer", "key"),
    [
        ("2.50", "2.5"),
        ("27.0", "27"),
        (".5", "0.5"),
        ("1,000", "1000"),
        ("042", "42"),
        ("x = 5", "5"),
        ("$\\dfrac{3}{4}$", "\\frac{3}{4}"),
        ("\\frac12", "\\frac{1}{2}"),
        ("\\left( 1, 2 \\right)", "(1,2)"),
        ("90^\\circ", "90"),
        ("90^{\\circ}", "90"),
        ("45 degrees", "45"),
        ("50\\%", "50"),
        ("\\$5", "5"),
        ("\\text{1.6 cm}", "1.6"),
        ("3 \\mathrm{~km} / \\mathrm{s}", "3"),
        ("4.5 \\times 10^{33}", "4.5e33"),
        ("\\boxed{7}", "7"),
        ("\\textbf{(113)}", "(113)"),
        ("5x", "5x"),  # "x" is not a unit
        ("(3,141)", "(3,141)"),  # a pair, not a thousands separator
        ("", ""),
    ],
)
def test_normalize(answer: str, key: str) -> None:
    assert normalize(answer) == key


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("1/2", "0.5"),
        ("0.5", "\\frac{1}{2}"),
        ("\\frac{1}{2}", "1/2"),
        ("\\dfrac12", "0.5"),
        ("2.50", "2.5"),
        ("27.0", "27"),
        ("042", "42"),
        ("1,000", "1000"),
        ("x = 5", "5"),
        ("50\\%", "0.5"),
        ("0.333333", "\\frac{1}{3}"),
        ("4.5e33", "4.5 \\times 10^{33}"),
        ("\\sqrt{2}/2", "\\frac{\\sqrt{2}}{2}"),
        ("2x+1", "1+2x"),
        ("\\{1, 2\\}", "\\{2, 1\\}"),
        ("Yes", "yes"),
    ],
)
def test_equivalent_pairs(a: str, b: str) -> None:
    assert equivalent(a, b, timeout=GENEROUS)
    assert equivalent(b, a, timeout=GENEROUS)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("3", "4"),
        ("1", "-1"),
        ("0.3333", "\\frac{1}{3}"),
        ("2.88e-19", "1.325e-27"),  # math-verify alone rounds both to 0
        ("4.6e33", "4.5e33"),
        ("(1,2)", "(2,1)"),
        ("\\pi", "3.14"),
        ("x+1", "x-1"),
        ("no", "on"),  # math-verify alone reads both as the product n*o
        ("A", "B"),
        ("", ""),
        ("  ", "0"),
    ],
)
def test_not_equivalent_pairs(a: str, b: str) -> None:
    assert not equivalent(a, b)


def test_none_is_never_equivalent() -> None:
    assert not equivalent(None, "1")
    assert not equivalent("1", None)
    assert not equivalent(None, None)


def test_equivalent_never_raises_on_odd_input() -> None:
    rng = random.Random(1)
    alphabet = [*"{}\\$^_()[]=+-*/.,0123456789xyz ", "\\frac", "\\sqrt", "\\boxed{", "%"]
    for _ in range(60):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 15)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 15)))
        assert equivalent(a, b, timeout=0.5) in (True, False)
    assert equivalent(3, 3.0) is True  # type: ignore[arg-type]
    assert equivalent("1", "1", timeout=float("nan")) is True


# Strings built to defeat a naive normaliser, as (prefix, suffix, full-size repetitions).
_PATHOLOGICAL = {
    "nested braces": ("{", "}", 20_000),
    "nested boxes": ("\\boxed{", "}", 20_000),
    "left": ("\\left", "", 20_000),
    "spaces then a unit": (" ", "", 50_000),
    "numbers then a unit": ("1 ", "", 30_000),
}


def _pathological(prefix: str, suffix: str, repeats: int) -> str:
    text = prefix * repeats + suffix * repeats
    return text + {" ": "degrees", "1 ": "cm"}.get(prefix, "")


@pytest.mark.parametrize(
    ("prefix", "suffix", "repeats"), _PATHOLOGICAL.values(), ids=list(_PATHOLOGICAL)
)
def test_pathological_strings_take_linear_work_and_skip_math_verify(
    monkeypatch: pytest.MonkeyPatch, prefix: str, suffix: str, repeats: int
) -> None:
    # What keeps these fast: the normaliser's work is in proportion to the text (counted in
    # bytecodes, not timed; benchmarks/answers_pathological.py times the full size), and text
    # this long is prose that never reaches sympy.
    def never(*args: object, **kwargs: object) -> bool:
        raise AssertionError("a pathological string reached math-verify")

    monkeypatch.setattr(grading, "math_verify_equivalent", never)

    def work(text: str) -> None:
        normalize(text)
        equivalent(text, text + "1", timeout=1.0)

    grading._equivalent.cache_clear()  # equivalent() caches verdicts: count the work, not a hit

    size = len(prefix + suffix)
    assert_linear_work(work, lambda chars: _pathological(prefix, suffix, chars // size), 3_000)
    text = _pathological(prefix, suffix, repeats)  # the full size completes
    assert not equivalent(text, text + "1", timeout=1.0)


def _in_thread(func: Any) -> Any:
    """Run ``func`` in a plain non-main thread; return its result or re-raise its exception."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = func()
        except BaseException as err:
            outcome["error"] = err

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(60)
    assert not thread.is_alive()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def test_equivalent_works_in_a_thread() -> None:
    # math-verify's own signal.alarm timeout raises ValueError outside the main thread.
    assert _in_thread(lambda: equivalent("\\sqrt{18}", "3\\sqrt{2}", timeout=GENEROUS)) is True
    assert _in_thread(lambda: equivalent("\\sqrt{18}", "2\\sqrt{3}", timeout=GENEROUS)) is False


def test_in_process_fallback_works_in_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # Where no worker process can start, math-verify runs in a daemon thread of this process.
    monkeypatch.setattr(verify._WORKER, "unavailable", True)
    assert _in_thread(lambda: verify.math_verify_equivalent("\\sqrt{8}", "2\\sqrt{2}", GENEROUS))
    assert not _in_thread(lambda: verify.math_verify_equivalent("\\sqrt{8}", "\\sqrt{3}", GENEROUS))


class _RecordingReplies:
    """The worker's reply queue, recording how long each read was allowed to wait."""

    def __init__(self, replies: Any) -> None:
        self.replies, self.waits = replies, []

    def get(self, timeout: float | None = None) -> Any:
        self.waits.append(timeout)
        return self.replies.get(timeout=timeout)


def test_pathological_input_is_given_up_at_the_timeout() -> None:
    assert equivalent("\\sqrt{12}", "2\\sqrt{3}", timeout=GENEROUS)  # the worker is up
    worker = verify._WORKER
    if worker.unavailable:
        pytest.skip("no worker process can start here (the thread fallback is tested below)")
    frozen, replies = worker._proc, _RecordingReplies(worker._replies)
    assert frozen is not None
    worker._replies = replies  # a fresh worker brings its own queue
    try:
        # sympy computes this power in C holding the GIL (for minutes): only killing a process
        # can stop it. The call waits for the reply no longer than its timeout, then kills the
        # worker: asserted by what it waited for and what it did, not by a stopwatch.
        assert equivalent("9^{9^{9^{9}}}", "2", timeout=1.0) is False
        assert replies.waits == [1.0]
        assert frozen.poll() is not None  # killed, not waited for
    finally:
        if worker._replies is replies:
            worker._replies = replies.replies
    assert equivalent("\\sqrt{27}", "3\\sqrt{3}", timeout=GENEROUS)  # a fresh worker takes over
    assert worker._proc is not None and worker._proc is not frozen


def test_thread_fallback_gives_up_after_the_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()
    monkeypatch.setattr(verify, "_MAX_STUCK_THREADS", 1)
    try:
        # The work blocks until `release` is set, below: (False, None) can only mean that the
        # call gave up while the work still ran (a call that waited for it would get its result).
        assert verify._run_with_timeout(release.wait, 0.2) == (False, None)
        # One thread is still stuck: nothing more is started until it ends.
        calls: list[int] = []
        assert verify._run_with_timeout(lambda: calls.append(1), GENEROUS) == (False, None)
        assert calls == []
    finally:
        release.set()
    for thread in list(verify._stuck_threads):
        thread.join(GENEROUS)
        assert not thread.is_alive()
    assert verify._run_with_timeout(lambda: 42, GENEROUS) == (True, 42)
    assert verify._run_with_timeout(lambda: 1 / 0, GENEROUS) == (False, None)


def test_cluster_answers_groups_in_order_of_first_occurrence() -> None:
    answers = ["3", None, "1/2", "0.5", "3.0", "  ", "\\frac{1}{2}", "7"]
    assert cluster_answers(answers) == [("3", [0, 4]), ("1/2", [2, 3, 6]), ("7", [7])]


def test_cluster_answers_ties_and_edge_cases() -> None:
    # Equal sizes: the groups stay in order of first occurrence, so the earliest wins a tie.
    clusters = cluster_answers(["5", "6", "6", "5"])
    assert clusters == [("5", [0, 3]), ("6", [1, 2])]
    assert max(clusters, key=lambda group: len(group[1]))[0] == "5"
    assert cluster_answers([]) == []
    assert cluster_answers([None, None]) == []
    assert cluster_answers(("2.50", "2.5")) == [("2.50", [0, 1])]  # any sequence
    assert cluster_answers(["a", "b"]) == cluster_answers(["a", "b"])  # deterministic


def test_math_grader() -> None:
    grader = MathGrader(timeout=2.0)
    assert isinstance(grader, tr.Grader)
    assert grader.grade("0.5", "\\frac{1}{2}")
    assert grader.grade("27", 27.0)  # type: ignore[arg-type]  # amc23 stores floats
    assert not grader.grade("26", "27")
    assert not grader.grade(None, "27")
    with pytest.raises(tr.ConfigError, match="timeout"):
        MathGrader(timeout=0)


def test_choice_grader() -> None:
    grader = ChoiceGrader()
    assert isinstance(grader, tr.Grader)
    assert grader.grade("(B)", "B")
    assert grader.grade("b", "B")
    assert grader.grade("\\text{C}", "(c)")
    assert not grader.grade("C", "B")
    assert not grader.grade(None, "B")
    assert not grader.grade("maybe", "B")
    with pytest.raises(tr.ConfigError):
        ChoiceGrader(letters="AB1")


def test_default_graders_and_what_reports_say_about_them() -> None:
    from tinyreason.answers import describe_grader, grader_for

    assert grader_for("s1-multiple_choice") == grader_for("multiple_choice") == ChoiceGrader("ABCD")
    assert grader_for("s1-integer") == grader_for("math") == MathGrader()
    with pytest.raises(tr.ConfigError, match="answer kind must be one of"):
        grader_for("letters")
    math_line = describe_grader(MathGrader())
    assert math_line.startswith("math-verify equivalence") and "gpt-4o-mini" in math_line
    choice_line = describe_grader(ChoiceGrader("ABCD"))
    assert "(A-D)" in choice_line and "never a default letter" in choice_line
    # AIME's leading zeros: s1 compares digit strings as integers, and so do we.
    assert MathGrader().grade(extract_answer("Answer: 023", kind="s1-integer"), "23")
    assert MathGrader().grade("23", "023")


def test_importing_evaluation_stays_light() -> None:
    code = (
        "import sys, tinyreason.evaluation; "
        "print(sorted(m for m in ('math_verify', 'sympy', 'torch') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


# --- agreement on the shared benchmark files (docs/grading.md reports these numbers) ----------


def _rows(name: str) -> list[dict[str, Any]]:
    path = DATA / name
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared data are optional)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _report(name: str, check: str, failures: list[Any], total: int) -> float:
    rate = 1 - len(failures) / total
    print(f"\n{name} {check}: {rate:.4f} ({total - len(failures)}/{total})")
    for failure in failures:
        print(f"  disagrees: {failure!r}")
    return rate


def test_agreement_aime24() -> None:
    rows = _rows("aime24.jsonl")
    # An evaluator reads the integer from the worked solution (several solutions, one after
    # another, boxed as \boxed{\textbf{(113) }} or \framebox{204}) and grades it against "025".
    extracted = [
        (row["id"], row["answer"], extract_answer(row["solution"], kind="integer")) for row in rows
    ]
    failures = [item for item in extracted if not GRADER.grade(item[2], item[1])]
    assert _report("aime24", "extract(solution) vs answer", failures, len(rows)) >= 0.95
    # A model that writes the answer without the leading zeros still matches.
    rendered = [
        (row["answer"], extract_answer(f"...so $\\boxed{{{int(row['answer'])}}}$.", "integer"))
        for row in rows
    ]
    failures = [item for item in rendered if not GRADER.grade(item[1], item[0])]
    assert _report("aime24", "boxed model answer vs answer", failures, len(rows)) == 1.0
    # s1's rule on model outputs in s1's format: a boxed answer, or "Answer: 025".
    thinking = "\nso \\boxed{1}\n<|im_start|>answer\n"
    for label, reply in (("boxed", "$\\boxed{{{n}}}$."), ("Answer: 025", "Answer: {answer}")):
        outputs = [
            (row["answer"], thinking + reply.format(n=int(row["answer"]), answer=row["answer"]))
            for row in rows
        ]
        failures = [
            (answer, got)
            for answer, text in outputs
            if not GRADER.grade(
                got := extract_answer(text, "s1-integer", "<|im_start|>answer"), answer
            )
        ]
        assert _report("aime24", f"s1 rule, {label} after the delimiter", failures, len(rows)) == 1
    # s1's rule on the worked solutions (s1 never does this: it reads the answer column). It
    # misses \framebox{204} (s1 knows \boxed and \fbox only) and \boxed{\textbf{(073)}}
    # (s1's judge would match that one).
    extracted = [
        (row["answer"], extract_answer(row["solution"], kind="s1-integer")) for row in rows
    ]
    failures = [item for item in extracted if not GRADER.grade(item[1], item[0])]
    assert _report("aime24", "s1 rule on the solutions", failures, len(rows)) >= 28 / 30


def test_agreement_amc23() -> None:
    rows = _rows("amc23.jsonl")
    answers = [row["answer"] for row in rows]  # floats: 27.0, -1.0, 3159.0
    failures = [
        value
        for value in answers
        if not GRADER.grade(extract_answer(f"Final Answer: {int(value)}"), str(value))
        or not equivalent(str(value), str(int(value)), timeout=GENEROUS)
    ]
    assert _report("amc23", "str(float) vs integer answer", failures, len(rows)) >= 0.95
    failures = [
        value
        for value in answers
        if not GRADER.grade(extract_answer(f"Final Answer: {int(value)}", "s1-math"), value)
    ]
    assert _report("amc23", "s1 rule on 'Final Answer: 27'", failures, len(rows)) == 1.0
    # Different answers must not match: each against the next distinct one.
    pairs = [(a, b) for a, b in itertools.pairwise(answers) if a != b]
    false_matches = [(a, b) for a, b in pairs if equivalent(str(a), str(b), timeout=GENEROUS)]
    assert _report("amc23", "distinct answers kept apart", false_matches, len(pairs)) == 1.0


def _restyle(answer: str) -> str:
    r"""Write a reference the way a model might: \dfrac, 10^{n}, a trailing zero, in $...$."""
    text = answer.replace("\\frac", "\\dfrac")
    text = re.sub(r"(?<![\w.])(\d+(?:\.\d+)?)e(-?\d+)(?![\w.])", r"\1 \\times 10^{\2}", text)
    text = re.sub(r"(?<![\w.])(\d+\.\d+)(?![\d.])(?!\s*\\times)", r"\g<1>0", text)
    return f"${text}$"


def _units_after_box(solution: str) -> str:
    r"""Return what follows the last box on its line, if it looks like units (``\mathrm{~cm}``)."""
    depth, close = 0, solution.index("{", solution.rindex("\\boxed"))
    while close < len(solution) - 1:
        depth += {"{": 1, "}": -1}.get(solution[close], 0)
        if depth == 0:
            break
        close += 1
    after = solution[close + 1 : close + 60].split("\n")[0]
    after = re.split(r"\$|\\\\|\\end|=|,|\\quad|\\simeq|\.\s|\.$", after)[0].strip()
    return after if re.match(r"[\\{a-zA-Z~^ ]", after) else ""


def test_agreement_minerva_math() -> None:
    rows = _rows("minerva_math.jsonl")
    boxes = [last_boxed(row["solution"]) for row in rows]
    assert all(boxes), "every Minerva solution boxes its answer"
    n = len(rows)
    checks = {
        # What an evaluator does with a reference solution: extract, then grade against the box.
        "extract(solution) vs boxed": [
            (box, got)
            for row, box in zip(rows, boxes, strict=True)
            if not equivalent(got := extract_answer(row["solution"]), box, timeout=GENEROUS)
        ],
        "'The answer is $\\boxed{..}$' vs boxed": [
            (box, got)
            for box in boxes
            if not equivalent(
                got := extract_answer(f"The answer is $\\boxed{{{box}}}$."), box, timeout=GENEROUS
            )
        ],
        "'Final Answer: $..$' vs boxed": [
            (box, got)
            for box in boxes
            if not equivalent(
                got := extract_answer(f"Final Answer: ${box}$"), box, timeout=GENEROUS
            )
        ],
        "s1 rule: solution vs boxed": [
            (box, got)
            for row, box in zip(rows, boxes, strict=True)
            if not equivalent(
                got := extract_answer(row["solution"], "s1-math"), box, timeout=GENEROUS
            )
        ],
        "s1 rule: 'Final Answer: $..$' vs boxed": [
            (box, got)
            for box in boxes
            if not equivalent(
                got := extract_answer(f"Final Answer: ${box}$", "s1-math"), box, timeout=GENEROUS
            )
        ],
        "restyled (dfrac, 10^n, 1.60) vs boxed": [
            (box, _restyle(box))
            for box in boxes
            if not equivalent(_restyle(box), box, timeout=GENEROUS)
        ],
    }
    for check, failures in checks.items():
        assert _report("minerva", check, failures, n) >= 0.95
    # Models often put the units inside the box: \boxed{1.6 \mathrm{~cm}} against "1.6".
    with_units = [
        (box, f"\\boxed{{{box} {units}}}")
        for row, box in zip(rows, boxes, strict=True)
        if (units := _units_after_box(row["solution"])) and grading._number(normalize(box))
    ]
    failures = [
        (box, model)
        for box, model in with_units
        if not equivalent(extract_answer(model), box, timeout=GENEROUS)
    ]
    assert _report("minerva", "units inside the box", failures, len(with_units)) >= 0.95
    # Distinct numeric answers of neighbouring problems must not match (math-verify alone
    # rounds to 6 decimals and would call 2.88e-19 and 1.325e-27 equal).
    numeric = [box for box in boxes if grading._number(normalize(box)) is not None]
    pairs = [(a, b) for a, b in itertools.pairwise(numeric) if normalize(a) != normalize(b)]
    false_matches = [(a, b) for a, b in pairs if equivalent(a, b, timeout=GENEROUS)]
    assert _report("minerva", "distinct numeric answers kept apart", false_matches, len(pairs)) == 1


def test_the_old_module_paths_warn_and_still_work() -> None:
    import importlib
    import sys

    for old, new in (("answers", "extract"), ("grading", "grading"), ("s1_answers", "s1")):
        sys.modules.pop(f"tinyreason.evaluation.{old}", None)
        with pytest.warns(DeprecationWarning, match=f"tinyreason.answers.{new}"):
            module = importlib.import_module(f"tinyreason.evaluation.{old}")
        moved = importlib.import_module(f"tinyreason.answers.{new}")
        assert all(getattr(module, name) is getattr(moved, name) for name in moved.__all__)
