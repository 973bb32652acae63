"""The published s1 datasets, in their exact schemas, load, select and train unchanged.

Rows are built with the features the hub cards give (no network):

* ``simplescaling/s1K``: solution, question, cot_type, source_type, metadata (strings), cot (null),
  thinking_trajectories (a sequence of strings), attempt (string);
* ``simplescaling/s1K-1.1``: 13 string columns, DeepSeek-R1's and Gemini's trace and attempt, and
  each one's grade ("Yes" / "No") and the grader's reason;
* ``simplescaling/s1K_tokenized``: s1K's columns plus ``text`` (the rendered training text).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import Dataset, Features, Sequence, Value

import tinyreason as tr
from tinyreason.data import S1K_1_1_COLUMNS, S1K_COLUMNS, TRACE_SOURCES

S1K_FEATURES = Features(
    {
        "solution": Value("string"),
        "question": Value("string"),
        "cot_type": Value("string"),
        "source_type": Value("string"),
        "metadata": Value("string"),
        "cot": Value("null"),
        "thinking_trajectories": Sequence(Value("string")),
        "attempt": Value("string"),
    }
)
S1K_1_1_FEATURES = Features({name: Value("string") for name in S1K_1_1_COLUMNS})
S1K_TOKENIZED_FEATURES = Features({**S1K_FEATURES, "text": Value("string")})

DOMAINS = ("math", "science", "crossword")


def _question(i: int) -> str:
    return f"Problem {i}: how many primes are below {10 * i + 7}?"


def s1k(n: int = 6) -> Dataset:
    rows = [
        {
            "solution": f"Count them: {i}.",
            "question": _question(i),
            "cot_type": DOMAINS[i % 3],
            "source_type": "qfq/openaimath/Number Theory",
            "metadata": str({"level": i % 5, "subject": "Number Theory"}),
            "cot": None,
            "thinking_trajectories": [f"Gemini thinks about problem {i}. " * (i + 1)],
            "attempt": f"Answer: {i}",
        }
        for i in range(n)
    ]
    return Dataset.from_list(rows, features=S1K_FEATURES)


def s1k_1_1(n: int = 6) -> Dataset:
    rows = [
        {
            "solution": f"Count them: {i}.",
            "question": _question(i),
            "cot_type": DOMAINS[i % 3],
            "source_type": "qfq/openaimath/Number Theory",
            "metadata": str({"level": i % 5}),
            "gemini_thinking_trajectory": f"Gemini: step one of {i}. " * (i + 1),
            "gemini_attempt": f"Gemini's answer is {i}.",
            "deepseek_thinking_trajectory": f"Okay, so DeepSeek counts up to {i}. Wait. " * (i + 2),
            "deepseek_attempt": f"DeepSeek's answer: \\boxed{{{i}}}",
            "gemini_grade": "Yes" if i % 2 else "No",
            "gemini_grade_reason": f"Gemini's reason {i}",
            "deepseek_grade": "Yes",
            "deepseek_grade_reason": f"DeepSeek's reason {i}",
        }
        for i in range(n)
    ]
    return Dataset.from_list(rows, features=S1K_1_1_FEATURES)


def s1k_tokenized(n: int = 4) -> Dataset:
    rows = [
        row
        | {
            "text": "<|im_start|>user\n"
            + row["question"]
            + "<|im_end|>\n<|im_start|>assistant\n<|im_start|>think\n"
            + row["thinking_trajectories"][0]
            + "\n<|im_start|>answer\n"
            + row["attempt"]
            + "<|im_end|>"
        }
        for row in s1k(n).to_list()
    ]
    return Dataset.from_list(rows, features=S1K_TOKENIZED_FEATURES)


def test_fixtures_are_in_the_published_schemas() -> None:
    assert s1k().column_names == list(S1K_COLUMNS)
    assert s1k_1_1().column_names == list(S1K_1_1_COLUMNS)
    assert len(S1K_1_1_COLUMNS) == 13
    assert s1k_tokenized().column_names == [*S1K_COLUMNS, "text"]
    assert str(s1k().features["cot"]) == str(Value("null"))
    assert TRACE_SOURCES == ("deepseek", "gemini")


# -- loading ------------------------------------------------------------------------------------


def test_s1k_loads_as_traces() -> None:
    ds = tr.load_problems(s1k())
    assert ds["trace_source"] == ["thinking_trajectories"] * 6
    traces = tr.traces_from_dataset(ds)
    assert traces[2].thinking == "Gemini thinks about problem 2. " * 3
    assert traces[2].answer_text == "Answer: 2"
    assert {(t.teacher, t.model, t.thinking_kind, t.trace_source) for t in traces} == {
        ("imported", "unknown", "unknown", "thinking_trajectories")
    }
    # Straight from the published rows, too.
    assert tr.traces_from_dataset(s1k()) == traces


def test_s1k_1_1_loads_deepseek_by_default() -> None:
    raw = s1k_1_1()
    ds = tr.load_problems(raw)
    assert ds["thinking_trajectories"] == [[t] for t in raw["deepseek_thinking_trajectory"]]
    assert ds["attempt"] == raw["deepseek_attempt"]
    assert set(ds["trace_source"]) == {"deepseek"}
    assert set(ds["teacher_model"]) == {"deepseek-r1"}
    assert set(ds["thinking_kind"]) == {"raw"}
    assert ds.features["thinking_trajectories"] == Sequence(Value("string"))  # as s1K
    for column in S1K_1_1_COLUMNS:  # every published column, grades included, as it was
        assert ds[column] == raw[column], column
    assert ds.filter(lambda r: r["gemini_grade"] == "Yes")["id"] == ds["id"][1::2]
    traces = tr.traces_from_dataset(raw)
    assert traces == tr.traces_from_dataset(ds)
    assert traces[3].thinking == raw[3]["deepseek_thinking_trajectory"]
    assert traces[3].answer_text == "DeepSeek's answer: \\boxed{3}"
    assert {(t.teacher, t.model, t.thinking_kind, t.trace_source) for t in traces} == {
        ("imported", "deepseek-r1", "raw", "deepseek")
    }


def test_s1k_1_1_loads_gemini_on_request() -> None:
    raw = s1k_1_1()
    ds = tr.load_problems(raw, trace_source="gemini")
    assert ds["thinking_trajectories"] == [[t] for t in raw["gemini_thinking_trajectory"]]
    assert ds["attempt"] == raw["gemini_attempt"]
    assert set(ds["trace_source"]) == {"gemini"}
    assert set(ds["teacher_model"]) == {"gemini-2.0-flash-thinking-exp"}
    traces = tr.traces_from_dataset(raw, trace_source="gemini")
    assert traces[1].thinking == raw[1]["gemini_thinking_trajectory"]
    assert traces[1].answer_text == "Gemini's answer is 1."
    assert {(t.model, t.thinking_kind, t.trace_source) for t in traces} == {
        ("gemini-2.0-flash-thinking-exp", "raw", "gemini")
    }
    # The pick is kept in the data: reading the loaded rows again keeps Gemini's...
    assert tr.traces_from_dataset(ds) == traces
    # ...and naming the other source switches, as from the published rows.
    assert tr.traces_from_dataset(ds, trace_source="deepseek") == tr.traces_from_dataset(raw)
    again = tr.load_problems(ds, trace_source="deepseek")
    assert again["attempt"] == raw["deepseek_attempt"]
    assert set(again["teacher_model"]) == {"deepseek-r1"}


def test_s1k_1_1_from_a_parquet_file_and_the_cli_loader(tmp_path: Path) -> None:
    from tinyreason.training.launch import load_traces

    path = tmp_path / "s1K-1.1.parquet"
    s1k_1_1().to_parquet(str(path))
    ds = tr.load_problems(path)
    assert set(ds["trace_source"]) == {"deepseek"}
    assert load_traces(str(path))["attempt"] == ds["attempt"]  # `tinyreason train --data`


def test_row_dicts_in_the_published_schemas_keep_their_traces() -> None:
    for rows, source in ((s1k_1_1().to_list(), "deepseek"), (s1k().to_list(), None)):
        ds = tr.load_problems(rows)
        assert ds["attempt"] == [r[f"{source}_attempt" if source else "attempt"] for r in rows]
        assert set(ds["trace_source"]) == {source or "thinking_trajectories"}


def test_an_early_s1k_1_1_revision_with_list_traces_loads() -> None:
    """One revision of s1K-1.1 stored DeepSeek's trace and attempt as sequences of strings."""
    features = Features(
        {
            **S1K_1_1_FEATURES,
            "deepseek_thinking_trajectory": Sequence(Value("string")),
            "deepseek_attempt": Sequence(Value("string")),
        }
    )
    rows = [
        row
        | {
            "deepseek_thinking_trajectory": [row["deepseek_thinking_trajectory"]],
            "deepseek_attempt": [row["deepseek_attempt"]],
        }
        for row in s1k_1_1(2).to_list()
    ]
    traces = tr.traces_from_dataset(Dataset.from_list(rows, features=features))
    assert traces[1].thinking == s1k_1_1(2)[1]["deepseek_thinking_trajectory"]
    assert traces[1].answer_text == "DeepSeek's answer: \\boxed{1}"


def test_s1k_tokenized_loads() -> None:
    raw = s1k_tokenized()
    ds = tr.load_problems(raw)
    assert ds["text"] == raw["text"]
    for column in S1K_COLUMNS:
        assert ds[column] == raw[column], column
    traces = tr.traces_from_dataset(ds)
    assert traces[1].thinking == raw[1]["thinking_trajectories"][0]
    assert {t.trace_source for t in traces} == {"thinking_trajectories"}


# -- records round trip -------------------------------------------------------------------------


def test_the_trace_source_survives_to_dataset_round_trips() -> None:
    for source in TRACE_SOURCES:
        ds = tr.load_problems(s1k_1_1(), trace_source=source)
        problems, traces = tr.problems_from_dataset(ds), tr.traces_from_dataset(ds)
        out = tr.to_dataset(problems, traces)
        assert set(out["trace_source"]) == {source}
        assert tr.traces_from_dataset(out) == traces
        assert tr.problems_from_dataset(out) == problems
    distilled = tr.testing.FakeTeacher().distill([tr.Problem("p", "1+1?")])
    assert distilled["trace_source"] == [None]  # a teacher wrote it here: `teacher` says which
    assert tr.traces_from_dataset(distilled)[0].trace_source is None


# -- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["r1", "DeepSeek", "thinking_trajectories", 1])
def test_a_bad_trace_source_is_a_clear_error(bad: object) -> None:
    message = r"trace_source must be one of 'deepseek', 'gemini'"
    with pytest.raises(tr.ConfigError, match=message):
        tr.load_problems(s1k_1_1(), trace_source=bad)
    with pytest.raises(tr.ConfigError, match=message):
        tr.traces_from_dataset(s1k_1_1(), trace_source=bad)
    with pytest.raises(tr.ConfigError, match=message):
        tr.select(s1k_1_1(), tr.selector("quality"), trace_source=bad)
    with pytest.raises(tr.TinyReasonError):  # the common base, as for every error
        tr.load_problems("simplescaling/s1K-1.1", trace_source=bad)  # checked before any download


def test_a_source_the_dataset_lacks_is_a_clear_error() -> None:
    with pytest.raises(tr.DataError, match=r"'gemini_thinking_trajectory'.*Leave trace_source"):
        tr.load_problems(s1k(), trace_source="gemini")
    with pytest.raises(tr.DataError, match=r"problems Dataset, not a traces one"):
        tr.traces_from_dataset(s1k_1_1().remove_columns(["deepseek_attempt", "gemini_attempt"]))


# -- selection and training ---------------------------------------------------------------------


def test_selection_reads_s1k_1_1_and_reports_the_trace_source(tmp_path: Path) -> None:
    raw = s1k_1_1(30)
    sel = tr.select(raw, tr.selector("quality"), tr.selector("diversity", k=12, seed=0))
    assert len(sel.kept) == 12
    assert set(sel.kept["trace_source"]) == {"deepseek"}
    assert set(sel.kept["deepseek_grade"]) == {"Yes"}  # grades travel with the rows
    kept = {r["question"]: r for r in sel.kept}
    for row in raw:
        if row["question"] in kept:
            assert kept[row["question"]]["attempt"] == row["deepseek_attempt"]
    assert sel.trace_sources() == {"deepseek": 12}
    assert sel.summary()["traces"] == {"deepseek": 12}
    assert "traces: deepseek (12)" in repr(sel)
    assert sel.summary()["lengths"]["source"] == "characters"
    gemini = tr.select(raw, tr.selector("quality"), tr.selector("diversity", k=12, seed=0),
                       trace_source="gemini")  # fmt: skip
    assert gemini.summary()["traces"] == {"gemini": 12}
    assert "traces: gemini (12)" in repr(gemini)
    saved = json.loads((sel.save(tmp_path / "run") / "selection.json").read_text())
    assert saved["traces"] == {"deepseek": 12}
    loaded = tr.Selection.load(tmp_path / "run")
    assert loaded.trace_sources() == {"deepseek": 12}
    # The kept rows are traces: they read back as DeepSeek-R1's.
    assert {t.model for t in tr.traces_from_dataset(sel.kept)} == {"deepseek-r1"}


def test_training_renders_the_picked_s1k_1_1_trace() -> None:
    from tinyreason.testing import tiny_tokenizer

    raw = s1k_1_1(3)
    trainer = tr.trainer("full", base="unused", format="qwen-s1")
    tokenizer = tiny_tokenizer()
    for source in TRACE_SOURCES:
        sel = tr.select(raw, tr.selector("quality"), trace_source=source)
        completion = trainer.examples(sel, tokenizer)[2]["completion"]
        thinking = raw[2][f"{source}_thinking_trajectory"].strip()
        assert completion.startswith(f"<|im_start|>think\n{thinking}")
        assert raw[2][f"{source}_attempt"] in completion.split("<|im_start|>answer")[1]
    loaded = tr.load_problems(raw, trace_source="gemini")
    assert "Gemini's answer is 0." in trainer.examples(loaded, tokenizer)[0]["completion"]


def test_a_raw_s1k_1_1_dataset_trains_on_deepseeks_trace_in_s1s_text() -> None:
    """trainer.train(s1K-1.1) unchanged: DeepSeek's trace, s1's "Answer: " rule, the whole turn."""
    from tinyreason.testing import tiny_tokenizer

    raw = s1k_1_1(3)
    tokenizer = tiny_tokenizer()
    trainer = tr.trainer("full", base="unused", format="qwen-s1")
    row = trainer.examples(raw, tokenizer)[1]
    thinking = raw[1]["deepseek_thinking_trajectory"].strip()
    # "DeepSeek's answer: ..." holds no "Answer:" (s1's check is case-sensitive): it gets one.
    assert row["completion"] == (
        f"<|im_start|>think\n{thinking}\n<|im_start|>answer\n"
        "Answer: DeepSeek's answer: \\boxed{1}<|im_end|>\n"
    )
    # The model card and tinyreason.json record which trace the student trained on.
    from tinyreason.training._runtime import unwrap_selection
    from tinyreason.training.card import data_manifest

    rows, _ = unwrap_selection(raw, None)
    assert data_manifest(rows)["trace_source"] == {"deepseek": 3}
