"""Benchmark loaders: fixture files in each source's own schema, ../shared/data, the hub offline.

``fixtures/benchmarks/`` holds a few made-up rows per benchmark in the column layout of the copy
that benchmark loads: HuggingFaceH4/aime_2024 (JSONL), MathArena/aime_2025 (a JSON array),
HuggingFaceH4/MATH-500, Qwen2.5-Math's amc23 (float answers) and minerva_math (answers only in
``\\boxed{}``), and Idavidrein/gpqa (CSV with its column names).
"""

from __future__ import annotations

import json
import os
import random
import re
from pathlib import Path

import pytest

import tinyreason as tr
from tinyreason.evaluation.benchmarks import (
    AIME24,
    GPQADiamond,
    LocalBenchmark,
    MinervaMath,
    read_rows,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "benchmarks"
BUILTINS = ("aime24", "aime25", "math500", "gpqa-diamond", "amc23", "minerva-math")


def _shared_data() -> Path:
    """../shared/data next to the repository (the project never needs it: tests skip without)."""
    if os.environ.get("TINYREASON_SHARED_DATA"):
        return Path(os.environ["TINYREASON_SHARED_DATA"])
    repo = Path(__file__).resolve().parents[2]  # tests/evaluation/ -> the repository root
    return repo.parent / "shared" / "data"


def _shared_file(name: str) -> Path:
    path = _shared_data() / name
    if not path.exists():
        pytest.skip(f"{path} is absent (shared data is optional)")
    return path


def _options(question: str) -> dict[str, str]:
    """{"A": text, ...} from a GPQA question's "A) text" (s1) or "(A) text" (s1k) lines."""
    return dict(re.findall(r"^\(?([A-D])\) (.*)$", question, re.M))


# -- loaders over fixture files -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "file", "kind", "ids", "answers"),
    [
        ("aime24", "aime24.jsonl", "s1-integer", ["60", "61", "62"], ["16", "625", "25"]),
        ("aime25", "aime25.json", "s1-integer", ["1", "2"], ["10", "64"]),
        (
            "math500",
            "math500.jsonl",
            "s1-math",
            ["test/prealgebra/1.json", "test/algebra/2.json", "test/algebra/3.json"],
            ["\\frac{3}{4}", "7", "3"],
        ),
        ("amc23", "amc23.jsonl", "math", ["0", "1", "2"], ["2", "-1", "2.5"]),
        ("minerva-math", "minerva_math.jsonl", "math", ["0", "1", "2"], ["60", "10^{15}", "1.0"]),
    ],
)
def test_math_loaders_normalise_each_source(
    name: str, file: str, kind: str, ids: list[str], answers: list[str]
) -> None:
    bench = tr.benchmark(name, path=FIXTURES / file)
    assert isinstance(bench, tr.Benchmark)
    assert (bench.name, bench.answer_kind) == (name, kind)
    problems = bench.problems()
    assert [p.id for p in problems] == [f"{name}-{i}" for i in ids]
    assert [p.answer for p in problems] == answers  # "025" -> "25", 2.0 -> "2", \boxed{} -> text
    assert all(p.question.strip() and p.source == str(FIXTURES / file) for p in problems)


def test_math500_keeps_subject_level_and_reads_parquet(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from_jsonl = tr.benchmark("math500", path=FIXTURES / "math500.jsonl").problems()
    assert from_jsonl[0].domain == "Prealgebra" and from_jsonl[0].metadata["level"] == 1
    assert from_jsonl[0].solution.endswith("$.")
    parquet = tmp_path / "math500.parquet"
    pq.write_table(pa.Table.from_pylist(read_rows(FIXTURES / "math500.jsonl")), parquet)
    from_parquet = tr.benchmark("math500", path=str(parquet)).problems()
    assert [(p.id, p.question, p.answer) for p in from_parquet] == [
        (p.id, p.question, p.answer) for p in from_jsonl
    ]


def test_limit_and_several_files() -> None:
    assert len(AIME24(path=FIXTURES / "aime24.jsonl", limit=2).problems()) == 2
    both = tr.benchmark("aime25", path=[FIXTURES / "aime25.json", FIXTURES / "aime24.jsonl"])
    assert [p.answer for p in both.problems()] == ["10", "64", "16", "625", "25"]


# -- GPQA ---------------------------------------------------------------------------------------


def test_gpqa_options_are_shuffled_like_s1_and_the_letter_is_right() -> None:
    problems = GPQADiamond(path=FIXTURES / "gpqa_diamond.csv").problems()
    rows = read_rows(FIXTURES / "gpqa_diamond.csv")
    assert [p.id for p in problems] == [f"gpqa-diamond-{r['Record ID']}" for r in rows]
    # s1's fix_gpqa.py: random.seed(42) once, then per row shuffle [wrong 1, 2, 3, right].
    rng = random.Random(42)
    for problem, row in zip(problems, rows, strict=True):
        order = ["Incorrect Answer 1", "Incorrect Answer 2", "Incorrect Answer 3", "Correct Answer"]
        rng.shuffle(order)
        options = _options(problem.question)
        assert list(options.values()) == [row[column] for column in order]
        assert options[problem.answer] == row["Correct Answer"]
        assert problem.question.startswith(f"{row['Question']}\n\nA) ")  # s1's prompt
        assert problem.domain == row["High-level domain"]
    assert [p.answer for p in problems] == ["C", "A", "B", "D"]
    # prompt="s1k": the template of s1K's training rows (the default before), same shuffle.
    s1k = GPQADiamond(path=FIXTURES / "gpqa_diamond.csv", prompt="s1k").problems()
    assert [p.answer for p in s1k] == ["C", "A", "B", "D"]
    for old, new in zip(s1k, problems, strict=True):
        assert old.question.startswith(f"{old.question.split(chr(10))[0]}\nAnswer Choices:\n(A) ")
        assert _options(old.question) == _options(new.question)


def test_gpqa_shuffle_is_seeded_and_limit_keeps_the_order() -> None:
    path = FIXTURES / "gpqa_diamond.csv"
    first = GPQADiamond(path=path).problems()
    assert GPQADiamond(path=path).problems() == first
    assert GPQADiamond(path=path, limit=2).problems() == first[:2]
    other = GPQADiamond(path=path, seed=7).problems()
    assert [p.question for p in other] != [p.question for p in first]
    for problem in other:  # another seed, another order: the letter still names the right text
        assert _options(problem.question)[problem.answer] == problem.metadata["correct_answer"]


def test_gpqa_reads_prebuilt_rows_and_rejects_incomplete_ones(tmp_path: Path) -> None:
    prebuilt = tmp_path / "gpqa.jsonl"
    prebuilt.write_text(
        json.dumps({"question": "Q?\nAnswer Choices:\n(A) x\n(B) y", "answer": "(B)"}) + "\n"
    )
    [problem] = tr.benchmark("gpqa-diamond", path=prebuilt).problems()
    assert problem.answer == "B" and problem.question.startswith("Q?")
    broken = tmp_path / "broken.csv"
    broken.write_text("Question,Correct Answer,Incorrect Answer 1\nQ?,a,b\n")
    with pytest.raises(tr.DataError, match="Incorrect Answer 2"):
        tr.benchmark("gpqa-diamond", path=broken).problems()


# -- s1's evaluation settings ------------------------------------------------------------------


def test_aime24_prompt_is_the_question_alone_as_s1_renders_it(tmp_path: Path) -> None:
    # s1's doc_to_text: QUERY_TEMPLATE = '{Question}', applied to the cell as it is.
    [problem] = AIME24(path=FIXTURES / "aime24.jsonl", limit=1).problems()
    assert problem.question == "Find the number of positive divisors of $2024$."
    row = {"id": 7, "problem": "Find $x$.\n", "answer": "007"}
    (tmp_path / "one.jsonl").write_text(json.dumps(row))
    [problem] = AIME24(path=tmp_path / "one.jsonl").problems()
    assert (problem.question, problem.answer) == ("Find $x$.\n", "7")  # not stripped, as s1


def test_gpqa_prompt_is_s1s_template_literally(tmp_path: Path) -> None:
    problems = GPQADiamond(path=FIXTURES / "gpqa_diamond.csv").problems()
    assert problems[0].question == (
        "Which particle carries the electromagnetic force?\n\n"
        "A) graviton\nB) W boson\nC) photon\nD) gluon"
    )
    assert problems[0].answer == "C"
    assert problems[1].question == (
        "What is the chemical symbol of sodium?\n\nA) Na\nB) Sd\nC) So\nD) S"
    )
    # s1's process_docs does not strip the cells; s1K's fix_gpqa.py (prompt="s1k") does.
    header = "Question,Correct Answer,Incorrect Answer 1,Incorrect Answer 2,Incorrect Answer 3\n"
    (tmp_path / "gpqa.csv").write_text(header + '"Q?\n",right ,w1,w2,w3\n')
    [raw] = GPQADiamond(path=tmp_path / "gpqa.csv", seed=0).problems()
    order = ["w1", "w2", "w3", "right "]
    random.Random(0).shuffle(order)
    assert raw.question == "Q?\n\n\n" + "\n".join(
        f"{letter}) {text}" for letter, text in zip("ABCD", order, strict=True)
    )
    assert raw.answer == "ABCD"[order.index("right ")] and raw.metadata["correct_answer"] == "right"
    [stripped] = GPQADiamond(path=tmp_path / "gpqa.csv", seed=0, prompt="s1k").problems()
    assert stripped.question.startswith("Q?\nAnswer Choices:\n(A) ")
    assert stripped.answer == raw.answer


@pytest.mark.parametrize(
    ("name", "kind", "extraction"),
    [
        ("aime24", "s1-integer", "s1"),
        ("aime25", "s1-integer", "s1"),
        ("math500", "s1-math", "s1"),
        ("gpqa-diamond", "s1-multiple_choice", "s1"),
        ("amc23", "math", "tinyreason"),
        ("minerva-math", "math", "tinyreason"),
    ],
)
def test_s1_settings_are_the_defaults_and_described(name: str, kind: str, extraction: str) -> None:
    bench = tr.benchmark(name)
    assert (bench.answer_kind, bench.extraction, bench.max_new_tokens) == (kind, extraction, 32768)
    described = bench.describe()
    assert described["prompt"] == "s1" and described["prompt_template"] == bench.prompt_template
    assert (described["extraction"], described["max_new_tokens"]) == (extraction, 32768)
    # The other rule stays reachable by name.
    other = "tinyreason" if extraction == "s1" else "s1"
    flipped = tr.benchmark(name, extraction=other).answer_kind
    assert flipped == (kind.removeprefix("s1-") if other == "tinyreason" else f"s1-{kind}")
    assert tr.benchmark(name, max_new_tokens=None).max_new_tokens is None


def test_prompt_templates_are_s1s() -> None:
    assert AIME24().prompt_template == "{question}"
    gpqa = GPQADiamond()
    assert gpqa.prompt_template == (
        "{question}\n\nA) {choice1}\nB) {choice2}\nC) {choice3}\nD) {choice4}"
    )
    assert GPQADiamond(prompt="s1k").prompt_template.startswith("{question}\nAnswer Choices:\n")
    assert gpqa.describe()["seed"] == 42


def test_bad_s1_settings_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(tr.ConfigError) as err:
        tr.benchmark("aime24", prompt="s1k", extraction="gpt-4o-mini", max_new_tokens=0)
    message = str(err.value)
    assert "prompt must be one of 's1'" in message and "extraction must be one of" in message
    assert "max_new_tokens must be a whole number" in message
    with pytest.raises(tr.ConfigError, match="max_new_tokens"):
        LocalBenchmark("x", tmp_path / "x.jsonl", max_new_tokens=True)  # type: ignore[arg-type]
    local = LocalBenchmark("x", tmp_path / "x.jsonl", answer_kind="s1-math", max_new_tokens=4096)
    assert local.describe()["extraction"] == "s1" and local.describe()["max_new_tokens"] == 4096
    assert LocalBenchmark("x", tmp_path / "x.jsonl").max_new_tokens is None


# -- the hub, offline ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["aime24", "gpqa-diamond"])
def test_hub_offline_fails_fast_saying_to_pass_a_path(name: str, network_attempts: list) -> None:
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # conftest.py
    bench = tr.benchmark(name)
    with pytest.raises(tr.DataError, match=r"path=.*HF_HUB_OFFLINE") as err:
        bench.problems()
    assert network_attempts == []  # fast: no lookup, no connection, no retry's back-off sleep
    assert bench.hub.dataset in str(err.value)
    if name == "gpqa-diamond":
        assert "gated" in str(err.value)


def test_sources_and_revisions_are_documented_in_describe() -> None:
    math500 = tr.benchmark("math500")
    assert math500.describe()["source"] == (
        "hub:HuggingFaceH4/MATH-500@ff5b20257d8185524591543f8ff5993951537bb8 (test)"
    )
    gpqa = tr.benchmark("gpqa-diamond", revision="main")
    assert gpqa.source == "hub:Idavidrein/gpqa/gpqa_diamond@main (train)"


# -- LocalBenchmark -----------------------------------------------------------------------------


def test_local_benchmark_with_named_columns(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("key,text,final\nk1,What is 2+2?,4\nk2,What is 3*3?,9\n")
    bench = LocalBenchmark(
        "mine", path, question_column="text", answer_column="final", id_column="key"
    )
    assert isinstance(bench, tr.Benchmark)
    problems = bench.problems()
    assert [(p.id, p.question, p.answer) for p in problems] == [
        ("mine-k1", "What is 2+2?", "4"),
        ("mine-k2", "What is 3*3?", "9"),
    ]
    first = LocalBenchmark("mine", path, question_column="text", answer_column="final", limit=1)
    assert [p.id for p in first.problems()] == ["mine-0"]  # no id column named: row numbers
    with pytest.raises(tr.DataError, match=r"no column answer_column='gold'"):
        LocalBenchmark("mine", path, question_column="text", answer_column="gold").problems()


def test_local_benchmark_answers_from_boxed_solutions_only(tmp_path: Path) -> None:
    path = tmp_path / "solutions.jsonl"
    rows = [
        {"problem": "p1", "solution": "so it is \\boxed{12}."},
        {"problem": "p2", "solution": "we get 3 and then 4"},  # no box: no reference answer
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    assert LocalBenchmark("s", path, limit=1).problems()[0].answer == "12"
    with pytest.raises(tr.DataError, match=r"1 problem\(s\) of 's' have no reference answer"):
        LocalBenchmark("s", path).problems()


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [
        ("", ".jsonl", "has no problems"),
        ("hello", ".txt", "cannot tell how to read"),
        ('{"question": "q"}\nnot json', ".jsonl", "line 2: not valid JSON"),
        ('{"train": [{"question": "q"}], "test": [{"question": "r"}]}', ".json", "several lists"),
        (
            '{"id": 1, "question": "q", "answer": 1}\n{"id": 1, "question": "r", "answer": 2}',
            ".jsonl",
            "ids repeat",
        ),
    ],
    ids=["empty", "unknown-suffix", "bad-json", "json-object", "repeated-ids"],
)
def test_bad_files_are_explained(tmp_path: Path, content: str, suffix: str, message: str) -> None:
    path = tmp_path / f"bench{suffix}"
    path.write_text(content)
    with pytest.raises(tr.DataError, match=message):
        LocalBenchmark("bad", path).problems()


def test_bad_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(tr.DataError, match="no such file"):
        LocalBenchmark("x", tmp_path / "missing.jsonl").problems()
    with pytest.raises(tr.ConfigError) as err:
        LocalBenchmark("", [], answer_kind="letters", limit=0)
    assert len(err.value.problems) == 4  # every problem reported at once
    with pytest.raises(tr.ConfigError, match="limit must be"):
        tr.benchmark("aime24", limit=0)
    with pytest.raises(tr.ConfigError, match="has no option 'pth'"):
        tr.benchmark("aime24", pth="x.jsonl")
    with pytest.raises(tr.ConfigError, match="seed must be"):
        GPQADiamond(seed="42")  # type: ignore[arg-type]


# -- registration -------------------------------------------------------------------------------


def test_builtins_are_registered_and_unknown_names_explained() -> None:
    assert set(BUILTINS) <= set(tr.available("benchmark"))
    for name in BUILTINS:
        assert tr.benchmark(name).name == name  # lazy: nothing is loaded until problems()
    assert isinstance(tr.benchmark("aime24", path=FIXTURES / "aime24.jsonl"), AIME24)
    with pytest.raises(tr.UnknownPluginError, match="did you mean 'aime24'"):
        tr.benchmark("aime2024")


def test_a_plugin_registers_its_own_benchmark() -> None:
    class MyPlugin:
        @tr.hookimpl
        def register_benchmarks(self, register):
            register(
                "my-minerva",
                lambda limit=None: MinervaMath(path=FIXTURES / "minerva_math.jsonl", limit=limit),
            )

    tr.register_plugin(MyPlugin(), name="mine")
    assert [p.answer for p in tr.benchmark("my-minerva", limit=2).problems()] == ["60", "10^{15}"]


# -- the shared data (optional) -----------------------------------------------------------------


def test_shared_aime24_matches_its_solutions() -> None:
    problems = tr.benchmark("aime24", path=_shared_file("aime24.jsonl")).problems()
    assert len(problems) == 30 and len({p.id for p in problems}) == 30
    for p in problems:
        assert p.answer.isdigit() and 0 <= int(p.answer) <= 999 and p.answer == str(int(p.answer))
        boxed = tr.evaluation.extract_answer(p.solution, kind="integer")
        assert boxed == p.answer, p.id


def test_shared_amc23_and_minerva_math_load_whole() -> None:
    amc = tr.benchmark("amc23", path=_shared_file("amc23.jsonl")).problems()
    assert len(amc) == 40 and amc[0].answer == "27" and all("." not in p.answer for p in amc)
    minerva = tr.benchmark("minerva-math", path=_shared_file("minerva_math.jsonl")).problems()
    assert len(minerva) == 272 and all(p.answer for p in minerva)
    assert (minerva[0].answer, minerva[1].answer) == ("1.6", "4.5e33")
