"""s1's Table 3 on a scripted student, through both backends: every count checked by hand.

The student thinks five steps (``5``, ``6:``, ``7.``, ``8)``, ``9``: 9 tokens, blank lines between
steps) whatever it is asked, then answers 42. So what each method does to that thinking, and
whether it stays within what it asked for (s1's Control), is known in advance.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from tinyreason.evaluation.compare import compare
from tinyreason.scaling import BudgetForcing
from tinyreason.scaling.conditional import ClassConditional, StepConditional, TokenConditional
from tinyreason.scaling.extrapolation import extrapolation_methods
from tinyreason.scaling.rejection import RejectionSampling

from . import test_conditional
from .conftest import chain_table, scripted_lm
from .test_conditional import PROBLEMS, steps_table

make_backend = test_conditional.make_backend
step_tokenizer = test_conditional.step_tokenizer

METHODS: dict[str, Any] = {
    "BF": (BudgetForcing(), [4, 16]),
    "TCC": (TokenConditional(), [4, 16]),
    "TCC+BF": (TokenConditional(forcing=True), [4, 16]),
    "SCC": (StepConditional(), [2, 8]),
    "SCC+BF": (StepConditional(forcing=True), [2, 8]),
    "CCC": (ClassConditional(bounds={"short": (0, 4)}), ["short", "long"]),
    "RS": (RejectionSampling(max_tries=2), [4, 16]),
}
#: Per method and setting: (thinking tokens, use in the method's unit), by hand.
#: BF / TCC+BF cut the 9 tokens to 4; SCC+BF cuts 5 steps to 2 ("5\n\n6:": 5, ĊĊ, 6, :);
#: RS at 4 never fits (9 > 4), runs out of its 2 tries and is budget-forced to 4.
EXPECTED = {
    "BF": [(4, 4), (9, 9)],
    "TCC": [(9, 9), (9, 9)],
    "TCC+BF": [(4, 4), (9, 9)],
    "SCC": [(9, 5), (9, 5)],
    "SCC+BF": [(4, 2), (9, 5)],
    "CCC": [(9, 9), (9, 9)],
    "RS": [(4, 4), (9, 9)],
}
#: s1's Control: the share of settings within what they asked (9 > 4 tokens, 5 > 2 steps, and
#: CCC's short bound of 4 tokens are the misses).
CONTROL = {"BF": 100, "TCC": 50, "TCC+BF": 100, "SCC": 50, "SCC+BF": 100, "CCC": 50, "RS": 100}


def test_every_method_through_compare(make_backend: Any, step_tokenizer: Any) -> None:
    backend = make_backend(scripted_lm(step_tokenizer, steps_table()), step_tokenizer)
    comparison = compare(backend, PROBLEMS, METHODS, seed=0, progress=False)
    table = {row["method"]: row for row in comparison.table()}
    assert list(table) == list(METHODS)
    for name, expected in EXPECTED.items():
        settings = [r for r in comparison.settings_table() if r["method"] == name]
        assert [(r["thinking_tokens"], r["used"]) for r in settings] == expected, name
        assert table[name]["control"] == CONTROL[name], name
        # p0's answer is 42 (right), p1's is 7: every setting answers 42 to both.
        assert [r["accuracy"] for r in settings] == [50.0, 50.0], name
        assert table[name]["performance"] == 50.0
        # Flat accuracy: Scaling is 0, or undefined where every setting thought the same.
        same = expected[0][0] == expected[1][0]
        assert math.isnan(table[name]["scaling"]) if same else table[name]["scaling"] == 0.0
    assert table["SCC"]["unit"] == table["SCC+BF"]["unit"] == "steps"
    # RS: 2 tries for each problem at 4 (both ran out), 1 each at 16: 6 tries for 2 kept.
    assert (table["RS"]["tries_per_kept"], table["RS"]["max_tries"]) == (3.0, 2.0)
    assert table["RS"]["exhausted"] == 2.0
    rows = comparison.rows
    assert len(rows) == 7 * 2 * 2
    scc_bf = rows.filter(lambda r: r["method"] == "SCC+BF" and r["setting"] == "2 steps")
    assert scc_bf["used"] == [2.0, 2.0] and scc_bf["answer"] == ["42", "42"]
    assert "RS" in repr(comparison) and "<table>" in comparison._repr_html_()


def test_extrapolation_strings_as_a_one_line_sweep(
    make_backend: Any, scripted: Any, tokenizer: Any
) -> None:
    table = chain_table(5)
    for text in ("Hmm", "Alternatively"):  # the chain starts again after each string, as "it"
        table[tokenizer.tokenize(text)[-1]] = {"5": 30.0}
    backend = make_backend(scripted(table), tokenizer)
    methods = extrapolation_methods(base=BudgetForcing(max_thinking=64))
    comparison = compare(backend, PROBLEMS[:1], methods, seed=0, progress=False)
    rows = {row["method"]: row for row in comparison.table()}
    assert list(rows) == ["Wait", "Hmm", "Alternatively", "none"]
    assert rows["none"]["thinking_tokens"] == [5.0]
    for text in ("Wait", "Hmm", "Alternatively"):
        # Three chains of 5 digits, the string twice between them.
        expected = 15 + 2 * len(tokenizer.tokenize(text))
        assert rows[text]["thinking_tokens"] == [float(expected)], text
    [output] = comparison.rows.filter(lambda r: r["method"] == "Hmm")["output"]
    assert output.startswith("56789Hmm56789Hmm56789")


@pytest.mark.parametrize("bad", [{}, {"x": 3}, {"x": ("budget-forcing", "512")}])
def test_methods_are_checked_before_anything_runs(bad: Any) -> None:
    import tinyreason as tr

    with pytest.raises(tr.ConfigError):
        compare("no/such/model", PROBLEMS, bad, progress=False)
