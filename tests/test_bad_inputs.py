"""Bad inputs and damaged artifacts, across the stages: each a clear error, and nothing touched.

Every case runs in a working folder that also holds the user's own files. It asserts the error's
type (a TinyReasonError subclass), that the message names the cause, and that no file in the
folder changed (hashed before and after). Cases are (id, what to call, the error, the words the
message must hold); ``user`` is the user's folder, ``art`` a folder of prepared artifacts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest

import tinyreason as tr
from tinyreason import artifacts
from tinyreason.errors import (
    ArtifactError,
    ConfigError,
    DataError,
    FolderNotOursError,
    TinyReasonError,
    UnknownPluginError,
)


def tree_hash(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): (
            hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        )
        for p in sorted(folder.rglob("*"))
    }


@pytest.fixture
def user(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user's working folder: their own files, and the damaged inputs the cases use."""
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "notes.md").write_text("my notes")
    (folder / "results").mkdir()
    (folder / "results" / "old.json").write_text('{"mine": true}')
    (folder / "empty.jsonl").write_text("")
    (folder / "bad.jsonl").write_text('{"question": "1+1?"}\n{"question": oops}\n')
    (folder / "list-line.jsonl").write_text('{"question": "1+1?"}\n[1, 2]\n')
    (folder / "nocols.csv").write_text("x,y\n1,2\n")
    (folder / "problems.txt").write_text("What is 1+1?\n")
    monkeypatch.chdir(folder)
    for key in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):  # the missing-key case needs none set
        monkeypatch.delenv(key, raising=False)
    return folder


@pytest.fixture
def art(tmp_path: Path) -> Path:
    """Saved artifacts, some damaged, outside the user's folder."""
    from datasets import Dataset

    from tinyreason.selection.base import Selection, Stage

    folder = tmp_path / "art"
    kept = Dataset.from_dict({"id": ["a"], "question": ["1+1?"]})
    good = Selection(kept, (), (Stage("s", 1, 1),))
    good.save(folder / "selection", plot=False)
    for name in ("truncated", "incomplete", "newer", "no-manifest", "bad-manifest"):
        good.save(folder / name, plot=False)
    data = next((folder / "truncated" / "kept").glob("*.arrow"))
    data.write_bytes(data.read_bytes()[:-1])
    for name, change in (("incomplete", {"complete": False}), ("newer", {"version": 7})):
        path = folder / name / artifacts.MANIFEST
        path.write_text(json.dumps({**json.loads(path.read_text()), **change}))
    (folder / "no-manifest" / artifacts.MANIFEST).unlink()
    (folder / "no-manifest" / "selection.json").write_text("{not json")
    (folder / "bad-manifest" / artifacts.MANIFEST).write_text("[]")
    return folder


def _teacher() -> tr.Teacher:
    return tr.teacher("arithmetic")


def _select_sel(source: object) -> object:
    return tr.select(source, tr.selector("quality"))  # type: ignore[arg-type]


def _dataset() -> object:
    return tr.teacher("arithmetic", seed=0).distill(
        [tr.Problem("p1", "What is 2 + 3?", answer="5")], cache=False, progress=False
    )


Case = tuple[str, Callable[[Path, Path], object], type[TinyReasonError], tuple[str, ...]]

CASES: list[Case] = [
    # -- getters: names and option values ------------------------------------------------------
    ("getter name not a string", lambda u, a: tr.teacher(123), ConfigError, ("string", "int")),
    ("getter name None", lambda u, a: tr.scaler(None), ConfigError, ("string", "NoneType")),
    ("chat format None", lambda u, a: tr.chat_format(None), ConfigError, ("string",)),
    (
        "unknown teacher (typo)",
        lambda u, a: tr.teacher("gemni"),
        UnknownPluginError,
        ("did you mean 'gemini'",),
    ),
    (
        "unknown kind of name",
        lambda u, a: tr.benchmark("aime2024"),
        UnknownPluginError,
        ("aime24",),
    ),
    (
        "unknown option",
        lambda u, a: tr.selector("quality", min_length=3),
        ConfigError,
        ("no option 'min_length'",),
    ),
    (
        "number as a string",
        lambda u, a: tr.scaler("budget-forcing", waits="2"),
        ConfigError,
        ("waits must be a whole number", "write 2"),
    ),
    (
        "bool where a count is wanted",
        lambda u, a: tr.scaler("budget-forcing", waits=True),
        ConfigError,
        ("waits", "bool"),
    ),
    (
        "negative budget",
        lambda u, a: tr.scaler("budget-forcing", max_thinking=-1),
        ConfigError,
        ("max_thinking", "-1"),
    ),
    (
        "string where a number is wanted (teacher)",
        lambda u, a: tr.teacher("arithmetic", error_rate="0.1"),
        ConfigError,
        ("error_rate", "write 0.1"),
    ),
    (
        "required option missing",
        lambda u, a: tr.trainer("full"),
        ConfigError,
        ("needs the option 'base'",),
    ),
    # -- problems and data files ---------------------------------------------------------------
    ("distill(None)", lambda u, a: _teacher().distill(None), DataError, ("NoneType",)),
    ("distill(a number)", lambda u, a: _teacher().distill(5), DataError, ("int",)),
    (
        "distill(a path)",
        lambda u, a: _teacher().distill("problems.jsonl"),
        DataError,
        ("tr.load_problems",),
    ),
    ("distill(list of ints)", lambda u, a: _teacher().distill([1, 2]), DataError, ("int",)),
    ("distill(empty list)", lambda u, a: _teacher().distill([]), DataError, ("empty",)),
    (
        "repeated problem ids",
        lambda u, a: _teacher().distill([tr.Problem("p", "1+1?"), tr.Problem("p", "2+2?")]),
        DataError,
        ("unique", "'p'"),
    ),
    ("Problem with no id", lambda u, a: tr.Problem(None, "q"), DataError, ("Problem.id",)),
    ("Problem empty question", lambda u, a: tr.Problem("p", "  "), DataError, ("empty",)),
    ("load a missing file", lambda u, a: tr.load_problems("nope.jsonl"), DataError, ("nope",)),
    ("load an empty file", lambda u, a: tr.load_problems("empty.jsonl"), DataError, ("empty",)),
    (
        "load a bad JSON line",
        lambda u, a: tr.load_problems("bad.jsonl"),
        DataError,
        ("bad.jsonl line 2", "not valid JSON"),
    ),
    (
        "load a JSON line that is not an object",
        lambda u, a: tr.load_problems("list-line.jsonl"),
        DataError,
        ("line 2", "not an object"),
    ),
    (
        "load without a question column",
        lambda u, a: tr.load_problems("nocols.csv"),
        DataError,
        ("no question column", "question_column"),
    ),
    (
        "load an unknown file kind",
        lambda u, a: tr.load_problems("problems.txt"),
        DataError,
        (".jsonl",),
    ),
    ("load a number", lambda u, a: tr.load_problems(123), DataError, ("int",)),
    (
        "load an unknown trace source",
        lambda u, a: tr.load_problems("nope.jsonl", trace_source="claude"),
        ConfigError,
        ("trace_source",),
    ),
    ("to_dataset(None)", lambda u, a: tr.to_dataset(None), DataError, ("NoneType",)),
    (
        "to_dataset(rows, not records)",
        lambda u, a: tr.to_dataset([{"question": "q"}]),
        DataError,
        ("Problem records", "dict"),
    ),
    ("as_problems(a number)", lambda u, a: tr.as_problems(5), DataError, ("int",)),
    # -- selection -----------------------------------------------------------------------------
    ("select(None)", lambda u, a: _select_sel(None), DataError, ("Dataset", "NoneType")),
    ("select(a path)", lambda u, a: _select_sel("traces.jsonl"), DataError, ("load it first",)),
    ("select(a list)", lambda u, a: _select_sel([{"q": 1}]), DataError, ("list",)),
    ("select with no selector", lambda u, a: tr.select(_dataset()), DataError, ("selector",)),
    (
        "select with a selector's name",
        lambda u, a: tr.select(_dataset(), "quality"),
        ConfigError,
        ("selector 1", "build it first"),
    ),
    (
        "select with a plain function",
        lambda u, a: tr.select(_dataset(), lambda ds: ds),
        ConfigError,
        ("plain function",),
    ),
    (
        "select with a bad trace source",
        lambda u, a: tr.select(_dataset(), tr.selector("quality"), trace_source="claude"),
        ConfigError,
        ("trace_source",),
    ),
    (
        "save a selection into the user's folder",
        lambda u, a: tr.Selection.load(a / "selection").save(u),
        FolderNotOursError,
        ("notes.md", "overwrite=True"),
    ),
    (
        "save a selection onto the user's file",
        lambda u, a: tr.Selection.load(a / "selection").save(u / "notes.md"),
        ArtifactError,
        ("not a folder",),
    ),
    (
        "load a selection from the user's folder",
        lambda u, a: tr.Selection.load(u),
        ArtifactError,
        ("no saved Selection",),
    ),
    (
        "load a selection from a missing folder",
        lambda u, a: tr.Selection.load(u / "missing"),
        ArtifactError,
        ("no saved Selection",),
    ),
    (
        "load a truncated selection",
        lambda u, a: tr.Selection.load(a / "truncated"),
        ArtifactError,
        ("kept/", "damaged", "selection.save"),
    ),
    (
        "load a selection whose save did not finish",
        lambda u, a: tr.Selection.load(a / "incomplete"),
        ArtifactError,
        ("did not finish",),
    ),
    (
        "load a selection from a newer tinyreason",
        lambda u, a: tr.Selection.load(a / "newer"),
        ArtifactError,
        ("newer tinyreason", "upgrade"),
    ),
    (
        "load an old unverified selection with a damaged summary",
        lambda u, a: tr.Selection.load(a / "no-manifest"),
        ArtifactError,
        ("damaged",),
    ),
    (
        "load a selection with a damaged manifest",
        lambda u, a: tr.Selection.load(a / "bad-manifest"),
        ArtifactError,
        ("manifest is damaged",),
    ),
    # -- training --------------------------------------------------------------------------------
    (
        "trainer learning rate as a string",
        lambda u, a: tr.trainer("full", base="b", learning_rate="1e-5"),
        ConfigError,
        ("learning_rate", "write 1e-5"),
    ),
    (
        "trainer option of another library",
        lambda u, a: tr.trainer("full", base="b", num_train_epochs=3),
        ConfigError,
        ("no option 'num_train_epochs'",),
    ),
    (
        "unknown preset",
        lambda u, a: tr.trainer("full", base="b", preset="s2"),
        ConfigError,
        ("s1",),
    ),
    (
        "unknown chat format for training",
        lambda u, a: tr.trainer("full", base="b", format="qwen-s2"),
        UnknownPluginError,
        ("did you mean 'qwen-s1'",),
    ),
    (
        "base model folder missing",
        lambda u, a: tr.trainer("full", base="./nope-model").train(_dataset()),
        ConfigError,
        ("nope-model", "no such folder"),
    ),
    (
        "train(None)",
        lambda u, a: tr.trainer("full", base="b").train(None),
        DataError,
        ("needs traces",),
    ),
    (
        "train on a missing file",
        lambda u, a: tr.trainer("full", base="b").train("missing.jsonl"),
        DataError,
        ("missing.jsonl",),
    ),
    (
        "resume from a number",
        lambda u, a: tr.trainer("full", base="b", resume_from_checkpoint=5),
        ConfigError,
        ("resume_from_checkpoint",),
    ),
    (
        "load a student from the user's folder",
        lambda u, a: tr.TrainedStudent.load(u),
        DataError,
        ("no tinyreason.json",),
    ),
    (
        "load a student from a missing folder",
        lambda u, a: tr.TrainedStudent.load(u / "missing"),
        ArtifactError,
        ("no such folder",),
    ),
    # -- test-time scaling and evaluation ----------------------------------------------------------
    (
        "backend on a missing model folder",
        lambda u, a: tr.backend("transformers", model="./nope-model", format="qwen-s1"),
        DataError,
        ("no model folder", "nope-model"),
    ),
    (
        "evaluate with a scalar budget",
        lambda u, a: tr.evaluate(str(u), "aime24", format="qwen-s1", budgets=512),
        ConfigError,
        ("[512]",),
    ),
    (
        "evaluate with no samples",
        lambda u, a: tr.evaluate(str(u), "aime24", format="qwen-s1", samples=0),
        ConfigError,
        ("samples", ">= 1"),
    ),
    (
        "evaluate into the user's folder",
        lambda u, a: tr.evaluate(str(u), "aime24", format="qwen-s1", run_dir=u),
        FolderNotOursError,
        ("notes.md",),
    ),
    (
        "evaluate a missing benchmark file",
        lambda u, a: tr.evaluate(str(u), "bench.jsonl", format="qwen-s1"),
        DataError,
        ("bench.jsonl",),
    ),
    (
        "evaluate an unknown benchmark",
        lambda u, a: tr.evaluate(str(u), "aime2024", format="qwen-s1"),
        UnknownPluginError,
        ("did you mean 'aime24'",),
    ),
    (
        "evaluate a model path without a format",
        lambda u, a: tr.evaluate(str(u), "aime24"),
        ConfigError,
        ("format=",),
    ),
    # -- teachers ----------------------------------------------------------------------------------
    (
        "a folder as the reply cache",
        lambda u, a: _teacher().distill([tr.Problem("p", "1+1?")], cache=u / "results"),
        TinyReasonError,
        ("teacher cache", "cache=False"),
    ),
    (
        "a negative spending cap",
        lambda u, a: _teacher().distill([tr.Problem("p", "1+1?")], cache=False, max_cost_usd=-1),
        ConfigError,
        ("max_cost_usd",),
    ),
    (
        "an unknown refresh",
        lambda u, a: _teacher().distill([tr.Problem("p", "1+1?")], cache=False, refresh="all!"),
        ConfigError,
        ("refresh",),
    ),
    (
        "a provider teacher without its key",
        lambda u, a: tr.teacher("gemini").distill([tr.Problem("p", "1+1?")], cache=False),
        ConfigError,
        ("GEMINI_API_KEY",),
    ),
    (
        "load a selection saved as another kind",
        lambda u, a: artifacts.verify(a / "selection", "trained-student", 1, rebuild="train"),
        ArtifactError,
        ("holds a selection",),
    ),
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize(
    ("call", "error", "says"),
    [pytest.param(c[1], c[2], c[3], id=c[0]) for c in CASES],
)
def test_a_bad_input_is_a_clear_error_and_changes_nothing(
    user: Path,
    art: Path,
    call: Callable[[Path, Path], object],
    error: type[TinyReasonError],
    says: tuple[str, ...],
) -> None:
    before_user, before_art = tree_hash(user), tree_hash(art)
    with pytest.raises(error) as raised:
        call(user, art)
    message = str(raised.value)
    for words in says:
        assert words in message, (words, message)
    # No chained noise: the cause is said in the message, not in a traceback below it.
    assert raised.value.__cause__ is None or isinstance(raised.value.__cause__, TinyReasonError)
    assert tree_hash(user) == before_user
    assert tree_hash(art) == before_art


def test_cases_are_distinct_and_many() -> None:
    names = [c[0] for c in CASES]
    assert len(names) == len(set(names))
    assert len(names) >= 60


def test_run_sync_adds_no_spurious_context() -> None:
    from tinyreason._async import run_sync

    async def fails() -> None:
        raise DataError("the real cause")

    with pytest.raises(DataError) as raised:
        run_sync(fails)
    assert raised.value.__context__ is None


CLI_CASES = [
    (["select", "--config", "nope.yaml"], "no recipe file 'nope.yaml'"),
    (["select", "--config", "demo", "--select.ouput", "x"], "did you mean 'output'"),
    (["distil", "--config", "demo", "--distil.limit", "ten"], "distil.limit"),
    (["train", "--config", "demo", "--train.trainer.learning_rate", "fast"], "learning_rate"),
    (["evaluate", "--config", "demo", "--evaluate.budgets", "512"], "evaluate.budgets"),
    (["recipe", "show", "s2"], "no shipped recipe 's2'"),
    (
        ["select", "--traces", "notes.md", "--selectors", '["quality"]', "--output", "results"],
        "results",
    ),
]


@pytest.mark.parametrize(("args", "says"), CLI_CASES, ids=[" ".join(c[0]) for c in CLI_CASES])
def test_a_bad_command_line_is_one_line_and_changes_nothing(
    user: Path, capsys: pytest.CaptureFixture[str], args: list[str], says: str
) -> None:
    from tinyreason.cli import main

    before = tree_hash(user)
    assert main(args) == 2
    err = capsys.readouterr().err
    assert says in err and err.count("\n") == 1 and "Traceback" not in err
    assert tree_hash(user) == before
