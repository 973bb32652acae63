from collections import Counter

import pytest

import tinyreason as tr
from tinyreason.demo.task import make_problems


def _traces(n: int = 60, error_rate: float = 0.0, seed: int = 0):
    return tr.teacher("arithmetic", error_rate=error_rate, seed=seed).distill(
        make_problems(n, seed=seed)
    )


def _rows(**overrides):
    base = {
        "id": "r",
        "question": "What is 1+1?",
        "answer": "2",
        "thinking_trajectories": ["1+1=2"],
        "attempt": "2",
        "finish_reason": "stop",
        "error": None,
        "source_type": "toy",
        "cot_type": "math",
    }
    return base | overrides


def _dataset(rows):
    from datasets import Dataset

    return Dataset.from_list(rows)


def test_quality_drops_each_kind_of_bad_row_with_its_reason():
    rows = [
        _rows(id="ok"),
        _rows(id="err", error="HTTP 500"),
        _rows(id="nothink", thinking_trajectories=[""]),
        _rows(id="noanswer", attempt=" "),
        _rows(id="cut", finish_reason="length"),
        _rows(id="asy", question="Look: [asy] draw((0,0)); [/asy] What is x?"),
        _rows(id="asy-aime", question="[asy] draw(); [/asy] Find x.", source_type="AIME 2021"),
        _rows(id="img", question="See ![Image](http://x/y.png) and answer."),
        _rows(id="num", question="p3. Find all n."),
        _rows(id="bold", question="Which is **3** times 4?"),
    ]
    sel = tr.select(_dataset(rows), tr.selector("quality"))
    assert sel.kept["id"] == ["ok", "asy-aime"]
    reasons = dict(zip(sel.dropped["id"], sel.dropped["reason"], strict=True))
    assert reasons == {
        "err": "api_error",
        "nothink": "empty_thinking",
        "noanswer": "empty_answer",
        "cut": "truncated",
        "asy": "format:asymptote",
        "img": "format:image",
        "num": "format:numbering",
        "bold": "format:bold-digits",
    }
    assert set(sel.dropped["stage"]) == {"quality"}


def test_quality_can_require_a_correct_answer():
    rows = [
        _rows(id="right"),
        _rows(id="wrong", attempt="3"),
        _rows(id="half", attempt="\\frac{4}{2}"),
    ]
    sel = tr.select(_dataset(rows), tr.selector("quality", require_correct=True))
    assert sel.kept["id"] == ["right", "half"]
    assert sel.dropped["reason"] == ["incorrect"]


def test_quality_options_are_checked():
    with pytest.raises(tr.ConfigError, match="not a valid regex"):
        tr.selector("quality", patterns={"bad": "("})
    with pytest.raises(tr.ConfigError, match=r"no option 'require_corect'.*require_correct"):
        tr.selector("quality", require_corect=True)


def test_missing_columns_are_named_with_the_stage_that_adds_them():
    problems = tr.load_problems([{"question": "1+1?", "answer": "2"}])
    with pytest.raises(tr.DataError, match=r"'quality' needs the column\(s\).*distil"):
        tr.select(problems, tr.selector("quality"))
    with pytest.raises(tr.DataError, match=r"'diversity' needs.*domain_column"):
        tr.select(_traces(5), tr.selector("diversity", k=2, domain_column="msc"))


def test_diversity_is_seeded_balanced_and_prefers_long_traces():
    ds = _traces(600)
    first = tr.select(ds, tr.selector("diversity", k=90, seed=3))
    again = tr.select(ds, tr.selector("diversity", k=90, seed=3))
    other = tr.select(ds, tr.selector("diversity", k=90, seed=4))
    assert first.kept["id"] == again.kept["id"]
    assert first.kept["id"] != other.kept["id"]
    per_domain = Counter(first.kept["cot_type"])
    assert len(per_domain) == 9 and max(per_domain.values()) - min(per_domain.values()) <= 12
    assert len(first.kept) + len(first.dropped) == len(ds)
    assert set(first.dropped["reason"]) == {"not_sampled"}


def test_diversity_ranks_by_length_within_a_domain():
    from datasets import Dataset

    rows = [
        _rows(id=f"r{i}", cot_type="one", thinking_trajectories=["x" * (10 + i)]) for i in range(40)
    ]
    picks = Counter()
    for seed in range(200):
        sel = tr.select(Dataset.from_list(rows), tr.selector("diversity", k=1, seed=seed))
        picks[sel.kept["id"][0]] += 1
    # Weight 2**-rank: the longest trace is picked about half the time, the next about a quarter.
    assert 70 < picks["r39"] < 130 and 25 < picks["r38"] < 75
    assert picks["r39"] > picks["r38"] > picks.get("r30", 0)


def test_diversity_k_larger_than_the_pool():
    ds = _traces(10)
    with pytest.raises(tr.ConfigError, match=r"only 10 rows.*allow_fewer"):
        tr.select(ds, tr.selector("diversity", k=11))
    assert len(tr.select(ds, tr.selector("diversity", k=11, allow_fewer=True)).kept) == 10
    with pytest.raises(tr.ConfigError, match="k must be"):
        tr.selector("diversity", k=0)


def test_chained_selectors_report_a_funnel():
    ds = _traces(300, error_rate=0.3, seed=1)
    chain = tr.selector("quality", require_correct=True) >> tr.selector("diversity", k=50)
    sel = chain.select(ds)
    same = tr.select(
        ds, tr.selector("quality", require_correct=True), tr.selector("diversity", k=50)
    )
    assert sel.kept["id"] == same.kept["id"]
    assert [(s.name, s.rows_in) for s in sel.stages] == [
        ("quality", 300),
        ("diversity", sel.stages[0].rows_out),
    ]
    assert sel.stages[-1].rows_out == 50
    assert sel.reasons()[("quality", "incorrect")] == 300 - sel.stages[0].rows_out
    summary = sel.summary()
    assert summary["kept"] == 50 and summary["funnel"][0] == [
        "quality",
        300,
        sel.stages[0].rows_out,
    ]
    assert "quality" in repr(sel) and "incorrect" in repr(sel)
    assert "<table>" in sel._repr_html_()
    assert len(sel.dropped) == 250  # every dropped row is accounted for, once


def test_select_needs_selectors_and_rows():
    with pytest.raises(tr.DataError, match="at least one selector"):
        tr.select(_traces(3))
    with pytest.raises(tr.DataError, match="empty"):
        tr.select(_traces(3).select([]), tr.selector("quality"))
