"""Records <-> datasets.Dataset in the s1K schema, and loading problems from files, Datasets, rows.

``fixtures/s1k_sample.jsonl`` holds three rows in simplescaling/s1K's exact schema: the columns in
s1K's order, ``metadata`` as ``str(dict)``, ``cot`` null, ``thinking_trajectories`` a one-item
list.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from datasets import Dataset, load_dataset

import tinyreason as tr
from tinyreason.data import S1K_COLUMNS

S1K_SAMPLE = Path(__file__).resolve().parent / "fixtures" / "s1k_sample.jsonl"


def _shared_data() -> Path:
    """../shared/data next to the repository (the project never needs it: tests skip without)."""
    if os.environ.get("TINYREASON_SHARED_DATA"):
        return Path(os.environ["TINYREASON_SHARED_DATA"])
    repo = Path(__file__).resolve().parent.parent  # tests/ -> the repository root
    return repo.parent / "shared" / "data"


def _s1k_rows() -> list[dict[str, Any]]:
    return [json.loads(line) for line in S1K_SAMPLE.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def s1k() -> Dataset:
    """The fixture file as datasets itself reads it: the reference every round trip must match."""
    return load_dataset("json", data_files=str(S1K_SAMPLE), split="train")


@pytest.fixture(scope="module")
def s1k_parquet(tmp_path_factory: pytest.TempPathFactory, s1k: Dataset) -> Path:
    path = tmp_path_factory.mktemp("s1k") / "s1k_sample.parquet"
    s1k.to_parquet(str(path))
    return path


def _assert_s1k_columns_equal(got: Dataset, want: Dataset) -> None:
    for column in S1K_COLUMNS:
        assert got[column] == want[column], f"column {column!r} changed"
        assert got.features[column] == want.features[column], f"type of {column!r} changed"


# -- the s1K fixture itself ---------------------------------------------------------------------


def test_fixture_is_in_s1k_exact_schema(s1k: Dataset) -> None:
    rows = _s1k_rows()
    assert [list(row) for row in rows] == [list(S1K_COLUMNS)] * 3  # s1K's columns, in its order
    for row in rows:
        assert row["cot"] is None
        assert isinstance(row["thinking_trajectories"], list)
        assert len(row["thinking_trajectories"]) == 1
        assert row["metadata"].startswith("{'")  # str(dict), not JSON
    assert str(s1k.features["cot"]) == str(tr.to_dataset([tr.Problem("p", "q")]).features["cot"])


# -- loading ------------------------------------------------------------------------------------


def test_load_problems_reads_s1k_jsonl(s1k: Dataset) -> None:
    ds = tr.load_problems(S1K_SAMPLE)
    assert ds.column_names[:7] == [
        "id",
        "question",
        "answer",
        "solution",
        "cot_type",
        "source_type",
        "metadata",
    ]
    assert set(S1K_COLUMNS) <= set(ds.column_names)  # trace columns are kept as they were
    assert len(ds) == 3
    assert len(set(ds["id"])) == 3
    _assert_s1k_columns_equal(ds, s1k)
    problems = tr.problems_from_dataset(ds)
    assert [p.domain for p in problems] == ["math", "math", "science"]
    assert problems[1].source == "qfq/openaimath/Precalculus"
    assert problems[1].metadata["level"] == 2
    assert problems[2].metadata["Writer's Difficulty Estimate"].startswith("Easy")


def test_load_problems_reads_json_array_parquet_and_str_paths(
    tmp_path: Path, s1k: Dataset, s1k_parquet: Path
) -> None:
    json_path = tmp_path / "s1k.json"
    json_path.write_text(json.dumps(_s1k_rows()), encoding="utf-8")
    from_jsonl = tr.load_problems(str(S1K_SAMPLE))
    for source in (json_path, s1k_parquet, [S1K_SAMPLE, S1K_SAMPLE]):
        ds = tr.load_problems(source)
        if isinstance(source, list):
            assert len(ds) == 6
            assert len(set(ds["id"])) == 6  # the repeated questions get distinct ids
            continue
        assert ds["id"] == from_jsonl["id"]  # ids derive from the question: stable across formats
        _assert_s1k_columns_equal(ds, s1k)


def test_load_problems_from_dataset_rows_and_problems(
    s1k: Dataset, toy_problems: list[tr.Problem], toy_rows: list[dict[str, Any]]
) -> None:
    ds = tr.load_problems(s1k)
    _assert_s1k_columns_equal(ds, s1k)
    from_problems = tr.load_problems(toy_problems)
    assert tr.problems_from_dataset(from_problems) == toy_problems
    from_rows = tr.load_problems(toy_rows)
    assert from_rows["id"] == ["0", "1", "2"]  # the idx column
    assert from_rows["question"][0] == "How many sides does a hexagon have?"  # the problem column
    assert from_rows["answer"] == ["6", "27", "\\frac{1}{2}"]  # AMC-style floats: 27.0 -> "27"


def test_load_problems_limit_split_and_column_names(tmp_path: Path) -> None:
    path = tmp_path / "custom.jsonl"
    rows = [{"key": f"k{i}", "text": f"What is {i} + {i}?", "gold": 2 * i} for i in range(5)]
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    ds = tr.load_problems(
        path, question_column="text", answer_column="gold", id_column="key", limit=2
    )
    assert ds["id"] == ["k0", "k1"]
    assert ds["answer"] == ["0", "2"]
    assert ds["text"] == ["What is 0 + 0?", "What is 1 + 1?"]  # the original column is kept too
    with pytest.raises(tr.DataError, match=r"no answer column 'nope'"):
        tr.load_problems(path, question_column="text", answer_column="nope")
    from datasets import DatasetDict

    dd = DatasetDict({"test": Dataset.from_list(rows)})
    assert len(tr.load_problems(dd, split="test", question_column="text")) == 5
    with pytest.raises(tr.DataError, match=r"no split 'train'"):
        tr.load_problems(dd, question_column="text")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ([{"text": "What is 1 + 1?"}], "no question column"),
        ([], "no problems given"),
        (Dataset.from_dict({"question": []}), "holds no rows"),
        ([{"question": "   "}], "row 0 has no question text"),
        ([{"question": "q"}, "not a row"], "expected Problems, a Dataset or row dicts"),
        (42, "cannot load problems from int"),
    ],
    ids=["no-question-column", "empty-list", "empty-dataset", "blank-question", "mixed", "int"],
)
def test_load_problems_errors(source: Any, message: str) -> None:
    with pytest.raises(tr.DataError, match=message):
        tr.load_problems(source)


def test_load_problems_file_errors(tmp_path: Path) -> None:
    with pytest.raises(tr.DataError, match=r"no such file"):
        tr.load_problems(tmp_path / "missing.jsonl")
    (tmp_path / "empty.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(tr.DataError, match=r"empty\.jsonl is empty"):
        tr.load_problems(tmp_path / "empty.jsonl")
    (tmp_path / "bad.jsonl").write_text('{"question": "q"}\n{"question":\n', encoding="utf-8")
    with pytest.raises(tr.DataError, match=r"bad\.jsonl line 2 is not valid JSON"):
        tr.load_problems(tmp_path / "bad.jsonl")
    (tmp_path / "notes.txt").write_text("hello", encoding="utf-8")
    (tmp_path / "a.jsonl").write_text('{"question": "q"}', encoding="utf-8")
    with pytest.raises(tr.DataError, match=r"cannot tell how to read"):
        tr.load_problems([tmp_path / "a.jsonl", tmp_path / "notes.txt"])


def test_hub_name_offline_fails_fast(network_attempts: list) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # conftest.py
    with pytest.raises(tr.DataError, match=r"simplescaling/s1K.*local file"):
        tr.load_problems("simplescaling/s1K", split="train")
    assert network_attempts == []  # fast: no lookup, no connection, no retry's back-off sleep


def test_path_given_to_as_problems_says_to_load_it() -> None:
    with pytest.raises(tr.DataError, match=r"load_problems"):
        tr.as_problems(str(S1K_SAMPLE))


# -- ids ----------------------------------------------------------------------------------------


def test_duplicate_questions_and_ids_get_distinct_ids() -> None:
    problems = tr.problems_from_dataset([{"question": "Same?"}] * 3)
    ids = [p.id for p in problems]
    assert len(set(ids)) == 3
    assert ids[1:] == [f"{ids[0]}-2", f"{ids[0]}-3"]
    assert [p.id for p in tr.problems_from_dataset([{"question": "Same?"}] * 3)] == ids  # stable
    # An explicit id may already look like a renamed one.
    rows = [
        {"id": "a-2", "question": "x"},
        {"id": "a", "question": "y"},
        {"id": "a", "question": "z"},
    ]
    assert [p.id for p in tr.problems_from_dataset(rows)] == ["a-2", "a", "a-3"]
    assert tr.load_problems(Dataset.from_list(rows))["id"] == ["a-2", "a", "a-3"]


def test_as_problems_rejects_repeated_problem_ids(toy_problems: list[tr.Problem]) -> None:
    with pytest.raises(tr.DataError, match=r"ids must be unique"):
        tr.as_problems([toy_problems[0], toy_problems[0]])
    assert tr.as_problems(toy_problems[0]) == [toy_problems[0]]


# -- round trips --------------------------------------------------------------------------------


def test_s1k_round_trips_every_column_exactly(s1k: Dataset, s1k_parquet: Path) -> None:
    for source in (s1k, S1K_SAMPLE, s1k_parquet):
        ds = tr.load_problems(source)
        problems = tr.problems_from_dataset(ds)
        traces = tr.traces_from_dataset(ds)
        out = tr.to_dataset(problems, traces)
        _assert_s1k_columns_equal(out, s1k)
        # ...and the output reads back to the same records.
        assert tr.problems_from_dataset(out) == problems
        assert tr.traces_from_dataset(out) == traces


def test_s1k_traces_are_imported_with_unknown_thinking_kind(s1k: Dataset) -> None:
    traces = tr.traces_from_dataset(s1k)  # s1K itself, without our columns
    assert {(t.teacher, t.model, t.thinking_kind) for t in traces} == {
        ("imported", "unknown", "unknown")
    }
    assert traces[1].thinking.startswith("sin x = 3/5")
    assert traces[2].answer_text.endswith("The answer is (C).")
    assert all(t.cost_usd is None and t.usage == tr.Usage() for t in traces)


def test_records_round_trip_exactly(toy_problems: list[tr.Problem]) -> None:
    traces = [
        tr.Trace(
            "toy-1",
            "gemini",
            "gemini-2.0-flash-thinking",
            thinking="6 * 7: 6 * 7 = 42.\nWait, check: 7 * 6 = 42.",
            answer_text="42",
            thinking_kind="summary",
            usage=tr.Usage(input_tokens=12, output_tokens=1, thinking_tokens=20),
            cost_usd=0.00125,
        ),
        tr.Trace(
            "toy-2",
            "deepseek",
            "deepseek-reasoner",
            thinking="",
            answer_text="",
            finish_reason="error",
            cost_usd=None,
            error="HTTP 429: rate limited",
        ),
        tr.Trace(
            "toy-3",
            "fake",
            "scripted",
            thinking="11 is prime.",
            answer_text="11",
            thinking_kind="unknown",
            finish_reason="length",
            cost_usd=0.0,
        ),
    ]
    ds = tr.to_dataset(toy_problems, list(reversed(traces)))  # traces match by id, not position
    assert ds["id"] == ["toy-1", "toy-2", "toy-3"]
    assert tr.problems_from_dataset(ds) == toy_problems
    back = tr.traces_from_dataset(ds)
    assert back == traces
    assert back[0].cost_usd == 0.00125
    assert back[1].cost_usd is None  # unknown stays unknown, not 0.0
    assert back[2].cost_usd == 0.0
    assert tr.problems_from_dataset(ds)[0].metadata == {"level": 1, "tags": ["multiplication"]}
    assert ds[0]["metadata"] == "{'level': 1, 'tags': ['multiplication']}"  # s1K's str(dict)
    assert ds[1]["metadata"] == ""
    # A problems-only Dataset round-trips too, and has no trace columns.
    problems_only = tr.to_dataset(toy_problems)
    assert "attempt" not in problems_only.column_names
    assert tr.problems_from_dataset(problems_only) == toy_problems
    with pytest.raises(tr.DataError, match=r"problems Dataset, not a traces one"):
        tr.traces_from_dataset(problems_only)


def test_to_dataset_checks_traces_match_problems(toy_problems: list[tr.Problem]) -> None:
    def trace(pid: str) -> tr.Trace:
        return tr.Trace(pid, "fake", "scripted", "t", "a")

    with pytest.raises(tr.DataError, match=r"1 problem\(s\) without a trace"):
        tr.to_dataset(toy_problems, [trace("toy-1"), trace("toy-2")])
    with pytest.raises(tr.DataError, match=r"1 trace\(s\) without a problem"):
        tr.to_dataset(toy_problems, [trace(p.id) for p in toy_problems] + [trace("other")])
    with pytest.raises(tr.DataError, match=r"two traces for problem 'toy-1'"):
        tr.to_dataset(toy_problems, [trace("toy-1")] * 2)
    with pytest.raises(tr.DataError, match=r"ids must be unique"):
        tr.to_dataset([toy_problems[0], toy_problems[0]])


def test_metadata_forms() -> None:
    rows = [
        {"question": "a?", "metadata": "{'level': 5, 'ok': True, 'note': None}"},  # s1K: str(dict)
        {"question": "b?", "metadata": '{"level": 5}'},  # JSON
        {"question": "c?", "metadata": {"level": 5}},  # a real dict
        {"question": "d?", "metadata": "free text, not a dict"},
        {"question": "e?", "metadata": None},
    ]
    problems = tr.problems_from_dataset(rows)
    assert problems[0].metadata == {"level": 5, "ok": True, "note": None}
    assert problems[1].metadata == problems[2].metadata == {"level": 5}
    assert problems[4].metadata == {}
    ds = tr.to_dataset(problems)
    assert ds[3]["metadata"] == "free text, not a dict"  # kept verbatim
    assert tr.problems_from_dataset(ds) == problems


# -- the shared benchmark files -----------------------------------------------------------------


@pytest.mark.parametrize(("name", "count"), [("aime24", 30), ("amc23", 40), ("minerva_math", 272)])
def test_shared_benchmark_files_load(name: str, count: int) -> None:
    path = _shared_data() / f"{name}.jsonl"
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared data is optional)")
    ds = tr.load_problems(path)
    assert len(ds) == count
    assert len(set(ds["id"])) == count
    problems = tr.problems_from_dataset(ds)
    assert all(p.question.strip() for p in problems)
    if name == "amc23":
        assert problems[0].answer == "27"  # stored as the float 27.0
    if name == "aime24":
        assert all(p.answer and p.answer.isdigit() for p in problems)
    if name == "minerva_math":
        assert problems[0].id == "0"  # the idx column
        assert all(p.solution and "\\boxed" in p.solution for p in problems)
