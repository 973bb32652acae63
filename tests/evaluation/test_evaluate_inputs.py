"""Every input of tr.evaluate is checked before any model loads, with an error that says the fix.

Each case passes one bad argument (or a damaged benchmark file) with a model whose loading is
recorded, and asserts the error's type, that the message names the cause, that no model was
loaded and no backend called, and that the run folder and the benchmark file were left as they
were.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from seeded_backend import SeededBackend, problems

import tinyreason as tr
from tinyreason.evaluation import evaluate as evaluate_module


class NoBudget:
    """A scaler without a thinking budget."""

    def solve(self, backend: Any, problems: Any, *, seed: int | None = None) -> list[Any]:
        return []


def _plain_grader(predicted: str | None, reference: str) -> bool:
    return predicted == reference


# (what is passed, the error, a piece of its message)
CASES: list[tuple[dict[str, Any], type[Exception], str]] = [
    ({"model": None}, tr.ConfigError, "model must be a Backend object"),
    ({"model": 42}, tr.ConfigError, "got int 42"),
    ({"model": SeededBackend}, tr.ConfigError, "model is the class SeededBackend"),
    ({"model": "./no/such/student"}, tr.ConfigError, "no such folder"),
    ({"model": "org/model"}, tr.ConfigError, "format="),
    ({"benchmark": None}, tr.ConfigError, "benchmark must be a benchmark name"),
    ({"benchmark": 3.5}, tr.ConfigError, "benchmark must be"),
    ({"benchmark": problems}, tr.ConfigError, "benchmark is the function 'problems'"),
    ({"benchmark": ""}, tr.ConfigError, "benchmark is an empty string"),
    ({"benchmark": "aime-24"}, tr.UnknownPluginError, "did you mean 'aime24'"),
    ({"benchmark": "aime24"}, tr.DataError, "path="),  # offline, no local copy
    ({"scaler": "budget-forsing"}, tr.UnknownPluginError, "did you mean 'budget-forcing'"),
    ({"scaler": lambda b, p: []}, tr.ConfigError, "a plain function is not a plugin object"),
    ({"scaler": tr.Problem}, tr.ConfigError, "scaler is the class Problem"),
    ({"scaler": NoBudget(), "budgets": [8]}, tr.ConfigError, "has no thinking budget"),
    ({"scaler": NoBudget(), "samples": 2}, tr.ConfigError, "samples=2 needs a scaler"),
    ({"budgets": 512}, tr.ConfigError, "(write [512])"),
    ({"budgets": "512"}, tr.ConfigError, "budgets must be a list"),
    ({"budgets": ["512"]}, tr.ConfigError, "budgets must be a list"),
    ({"budgets": [256, -1]}, tr.ConfigError, "budgets[1] = -1"),
    ({"budgets": [8.5]}, tr.ConfigError, "budgets must be a list"),
    ({"budgets": []}, tr.ConfigError, "budgets is empty"),
    ({"samples": "4"}, tr.ConfigError, "(write 4, not '4')"),
    ({"samples": 0}, tr.ConfigError, "samples must be a whole number >= 1"),
    ({"temperature": "0.7"}, tr.ConfigError, "(write 0.7, not '0.7')"),
    ({"temperature": float("nan")}, tr.ConfigError, "temperature must be a finite number"),
    ({"format": 7}, tr.ConfigError, "format must be"),
    ({"grader": _plain_grader}, tr.ConfigError, "a plain function is not a plugin object"),
    ({"grader": "exact"}, tr.ConfigError, "grader must be one of 'math', 'choice'"),
    ({"grader": tr.Problem}, tr.ConfigError, "grader is the class Problem"),
    ({"answer_kind": "letters"}, tr.ConfigError, "answer_kind must be one of"),
    ({"answer_kind": 3}, tr.ConfigError, "answer_kind must be a string"),
    ({"seed": "0"}, tr.ConfigError, "(write 0, not '0')"),
    ({"seed": 1.5}, tr.ConfigError, "seed must be a whole number"),
    ({"progress": "yes"}, tr.ConfigError, "progress must be True or False"),
    ({"run_dir": ""}, tr.ConfigError, "run_dir is an empty string"),
    ({"run_dir": 5}, tr.ConfigError, "run_dir must be"),
    ({"overwrite": "yes"}, tr.ConfigError, "overwrite must be True or False"),
    ({"commit_every": 0}, tr.ConfigError, "commit_every must be a whole number >= 1"),
    ({"commit_every": "16"}, tr.ConfigError, "(write 16, not '16')"),
]


def _tree(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every model tr.evaluate loads, recorded (none may be)."""
    loaded: list[object] = []
    real: Callable[..., Any] = evaluate_module._backend
    monkeypatch.setattr(evaluate_module, "_backend", lambda *a: loaded.append(a) or real(*a))
    return loaded


@pytest.mark.parametrize(
    ("bad", "error", "message"), CASES, ids=[f"{i}-{next(iter(c[0]))}" for i, c in enumerate(CASES)]
)
def test_a_bad_input_is_explained_before_any_model_loads(
    tmp_path: Path,
    loads: list[object],
    bad: dict[str, Any],
    error: type[Exception],
    message: str,
) -> None:
    backend = SeededBackend()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "keep.txt").write_text("the user's")
    arguments: dict[str, Any] = {"model": backend, "benchmark": problems(), "progress": False}
    arguments |= {"run_dir": run_dir, "overwrite": True} if "run_dir" not in bad else {}
    arguments |= bad
    with pytest.raises(error) as err:
        tr.evaluate(**arguments)
    assert message in str(err.value)
    assert loads == [] and backend.calls == 0
    assert _tree(run_dir) == {"keep.txt": hashlib.sha256(b"the user's").hexdigest()}


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(tr.ConfigError) as err:
        tr.evaluate(
            SeededBackend(), problems(), budgets=512, samples=0, temperature="hot", seed=None
        )
    assert len(err.value.problems) == 4


def test_names_and_files_are_accepted_where_documented(tmp_path: Path) -> None:
    bench = tmp_path / "arith.jsonl"
    bench.write_text('{"question": "question 0: needs 4", "answer": "1"}\n')
    report = tr.evaluate(
        SeededBackend(), str(bench), scaler="budget-forcing", grader="math", progress=False
    )
    assert report.benchmark == "arith" and report.table()[0]["accuracy"] == 100.0
    assert tr.evaluate(SeededBackend(), bench, progress=False).benchmark == "arith"


# (file name, content, a piece of the message): the user's damaged benchmark file, named.
FILES: list[tuple[str, bytes, str]] = [
    ("missing.jsonl", b"", "no such file"),
    ("empty.jsonl", b"", "holds no rows"),
    ("blank.jsonl", b"\n\n", "holds no rows"),
    (
        "bad.jsonl",
        b'{"question": "q", "answer": "1"}\n{"question": "r", "ans',
        "line 2: not valid JSON",
    ),
    ("latin1.jsonl", '{"question": "caf\u00e9", "answer": "1"}\n'.encode("latin-1"), "not UTF-8"),
    ("scalar.jsonl", b"42\n", "are not objects"),
    ("noquestion.jsonl", b'{"answer": "1"}\n', "has no question"),
    ("noanswer.jsonl", b'{"question": "q"}\n', "no reference answer"),
    (
        "twice.jsonl",
        b'{"id": 1, "question": "q", "answer": 1}\n{"id": 1, "question": "r", "answer": 2}\n',
        "ids repeat",
    ),
    ("broken.parquet", b"PAR1 not really", "as Parquet"),
    ("folder.jsonl", b"", "is a folder"),
]


@pytest.mark.parametrize(("name", "content", "message"), FILES, ids=[f[0] for f in FILES])
def test_a_damaged_benchmark_file_is_named(
    tmp_path: Path, loads: list[object], name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    if name == "folder.jsonl":
        path.mkdir()
    elif name != "missing.jsonl":
        path.write_bytes(content)
    before = _tree(tmp_path)
    backend = SeededBackend()
    with pytest.raises(tr.DataError) as err:
        tr.evaluate(backend, str(path), run_dir=tmp_path / "run", progress=False)
    assert str(path) in str(err.value) or f"'{path.stem}'" in str(err.value)
    assert message in str(err.value)
    assert loads == [] and backend.calls == 0
    assert _tree(tmp_path) == before and not (tmp_path / "run").exists()
