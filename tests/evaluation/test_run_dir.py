"""tr.evaluate(..., run_dir=...): commits, resumes, refuses, seals; Report.save / load verify.

Crashes here are in-process (the backend raises on its Nth call); test_evaluate_kill.py kills a
subprocess. Torn and damaged results are made by cutting or editing results.jsonl at seeded
offsets.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import pytest
from seeded_backend import SETTINGS, Crash, SeededBackend, problems

import tinyreason as tr
from tinyreason import artifacts
from tinyreason.errors import ArtifactError, FolderNotOursError
from tinyreason.evaluation import evaluate as evaluate_module
from tinyreason.evaluation.run_dir import KIND, VERSION, RunFolder

UNITS = 6 * len(SETTINGS["budgets"])


def _tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tr.Report:
    """The uninterrupted run every resumed run must equal."""
    return tr.evaluate(
        SeededBackend(), problems(), run_dir=tmp_path_factory.mktemp("ref") / "run", **SETTINGS
    )


@pytest.mark.parametrize("fail_at", [1, 3, 4, 6])
def test_a_crash_loses_only_the_group_in_flight(
    tmp_path: Path, fail_at: int, reference: tr.Report
) -> None:
    folder = tmp_path / "run"
    with pytest.raises(Crash):
        tr.evaluate(SeededBackend(fail_at=fail_at), problems(), run_dir=folder, **SETTINGS)
    with pytest.raises(ArtifactError, match="did not finish"):
        artifacts.verify(folder, KIND, VERSION, rebuild="rerun")
    backend = SeededBackend()
    report = tr.evaluate(backend, problems(), run_dir=folder, **SETTINGS)
    assert len(backend.prompts) == UNITS - 2 * (fail_at - 1)  # groups of 2, all before committed
    assert report == reference
    # A third run generates nothing, and rebuilds the same report from the folder.
    again = SeededBackend()
    assert tr.evaluate(again, problems(), run_dir=folder, **SETTINGS) == reference
    assert again.calls == 0


def test_groups_and_seeds_do_not_depend_on_the_run_dir(tmp_path: Path) -> None:
    options = {k: v for k, v in SETTINGS.items() if k != "commit_every"}
    whole = tr.evaluate(SeededBackend(), problems(), **options)
    # One group holding every problem draws what a run without run_dir draws.
    into = tr.evaluate(
        SeededBackend(), problems(), run_dir=tmp_path / "a", commit_every=6, **options
    )
    assert into == whole
    grouped = tr.evaluate(SeededBackend(), problems(), commit_every=2, **options)
    assert grouped == tr.evaluate(
        SeededBackend(), problems(), run_dir=tmp_path / "b", commit_every=2, **options
    )
    # Groups after the first are seeded apart: their samples differ from the one-call run's.
    assert grouped != whole


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_a_torn_end_is_dropped_and_generated_again(
    tmp_path: Path, seed: int, reference: tr.Report
) -> None:
    folder = tmp_path / "run"
    tr.evaluate(SeededBackend(), problems(), run_dir=folder, **SETTINGS)
    results = folder / "results.jsonl"
    data = results.read_bytes()
    lines = data.splitlines(keepends=True)
    assert len(lines) == UNITS
    # Cut inside the last group (its second line, or in the middle of its first), as a kill
    # while writing it would; the cut is never at a line end of a whole group.
    start = len(b"".join(lines[:-2]))
    cut = random.Random(seed).randrange(start + 1, len(data) - 1)
    results.write_bytes(data[:cut])
    backend = SeededBackend()
    with pytest.warns(UserWarning, match="dropped") as caught:
        report = tr.evaluate(backend, problems(), run_dir=folder, **SETTINGS)
    # Said where the run folder was opened (tr.evaluate), not inside the results log.
    assert [Path(w.filename).name for w in caught] == ["evaluate.py"]
    assert len(backend.prompts) == 2  # the last group, and only it
    assert report == reference
    assert results.read_bytes() == data  # the same lines, written again
    artifacts.verify(folder, KIND, VERSION, rebuild="rerun")


def test_a_damaged_line_before_the_end_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    with pytest.raises(Crash):
        tr.evaluate(SeededBackend(fail_at=4), problems(), run_dir=folder, **SETTINGS)
    results = folder / "results.jsonl"
    lines = results.read_text().splitlines(keepends=True)
    assert '"thinking":"x' in lines[1]
    lines[1] = lines[1].replace('"thinking":"x', '"thinking":"y', 1)  # one changed byte
    results.write_text("".join(lines))
    before = _tree(folder)
    with pytest.raises(ArtifactError, match=r"results.jsonl: line 2 is damaged.*checksum"):
        tr.evaluate(SeededBackend(), problems(), run_dir=folder, **SETTINGS)
    assert _tree(folder) == before  # nothing dropped, nothing rewritten
    # overwrite=True discards the run's results and starts again.
    backend = SeededBackend()
    tr.evaluate(backend, problems(), run_dir=folder, overwrite=True, **SETTINGS)
    assert len(backend.prompts) == UNITS


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"seed": 1}, "seed was 0, now 1"),
        ({"budgets": [6, 24]}, "budgets was [6, 12], now [6, 24]"),
        ({"samples": 4}, "scaler was"),
        ({"answer_kind": "math"}, "answer_kind was"),
        ({"grader": "choice"}, "grader was"),
        ({"commit_every": 3}, "commit_every was 2, now 3"),
    ],
)
def test_other_settings_in_the_same_folder_are_refused(
    tmp_path: Path, change: dict[str, object], named: str
) -> None:
    folder = tmp_path / "run"
    tr.evaluate(SeededBackend(), problems(), run_dir=folder, **SETTINGS)
    before = _tree(folder)
    backend = SeededBackend()
    with pytest.raises(tr.ConfigError, match="holds an evaluation with other settings") as err:
        tr.evaluate(backend, problems(), run_dir=folder, **(SETTINGS | change))
    assert named in str(err.value) and "overwrite=True" in str(err.value)
    assert backend.calls == 0 and _tree(folder) == before  # nothing touched, still sealed
    artifacts.verify(folder, KIND, VERSION, rebuild="rerun")


def test_other_problems_or_backend_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    tr.evaluate(SeededBackend(), problems(), run_dir=folder, **SETTINGS)
    with pytest.raises(tr.ConfigError, match="problems was"):
        tr.evaluate(SeededBackend(), problems(5), run_dir=folder, **SETTINGS)
    changed = [tr.Problem(p.id, p.question, answer="0") for p in problems()]
    with pytest.raises(tr.ConfigError, match="problems was"):
        tr.evaluate(SeededBackend(), changed, run_dir=folder, **SETTINGS)

    class Other(SeededBackend):
        def describe(self) -> dict[str, object]:
            return {**super().describe(), "model": "another"}

    with pytest.raises(tr.ConfigError, match="backend was"):
        tr.evaluate(Other(), problems(), run_dir=folder, **SETTINGS)
    # Where it runs is not part of the settings.

    class Elsewhere(SeededBackend):
        def describe(self) -> dict[str, object]:
            return {**super().describe(), "device": "cuda:1"}

    assert tr.evaluate(Elsewhere(), problems(), run_dir=folder, **SETTINGS).table()


def test_a_foreign_folder_is_refused_before_the_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("my notes")
    loaded: list[object] = []
    monkeypatch.setattr(evaluate_module, "_backend", lambda *a: loaded.append(a))
    with pytest.raises(FolderNotOursError, match=r"notes.txt"):
        tr.evaluate(tmp_path, problems(), format="think-tags", run_dir=folder, **SETTINGS)
    assert loaded == [] and list(_tree(folder)) == ["notes.txt"]
    monkeypatch.undo()
    # A folder where the report would go that is not ours is refused up front too.
    ours = tmp_path / "ours"
    with pytest.raises(Crash):
        tr.evaluate(SeededBackend(fail_at=2), problems(), run_dir=ours, **SETTINGS)
    (ours / "report").mkdir()
    (ours / "report" / "draft.md").write_text("mine")
    with pytest.raises(FolderNotOursError, match=r"draft.md"):
        tr.evaluate(SeededBackend(), problems(), run_dir=ours, **SETTINGS)
    # overwrite=True writes beside the user's file, lists only ours, and leaves theirs alone.
    report = tr.evaluate(SeededBackend(), problems(), run_dir=folder, overwrite=True, **SETTINGS)
    assert (folder / "notes.txt").read_text() == "my notes"
    manifest = artifacts.verify(folder, KIND, VERSION, rebuild="rerun")
    assert "notes.txt" not in manifest.files and "results.jsonl" in manifest.files
    assert tr.Report.load(folder) == report


def test_one_process_at_a_time(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    holder = RunFolder.open(folder, {"seed": 0}, problems(), [None], commit_every=2)
    try:
        with pytest.raises(tr.ConfigError, match="being written by another process"):
            RunFolder.open(folder, {"seed": 0}, problems(), [None], commit_every=2)
    finally:
        holder.close()
    RunFolder.open(folder, {"seed": 0}, problems(), [None], commit_every=2).close()


def test_a_newer_run_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    tr.evaluate(SeededBackend(), problems(), run_dir=folder, **SETTINGS)
    settings = json.loads((folder / "settings.json").read_text())
    (folder / "settings.json").write_text(json.dumps({**settings, "version": 99}))
    with pytest.raises(ArtifactError, match="newer tinyreason"):
        tr.evaluate(SeededBackend(), problems(), run_dir=folder, **SETTINGS)


# -- Report.save / Report.load -----------------------------------------------------------------


def test_a_saved_report_loads_back_equal_and_verified(tmp_path: Path, reference: tr.Report) -> None:
    folder = reference.save(tmp_path / "report")
    manifest = artifacts.read_manifest(folder)
    assert manifest is not None and manifest.complete and manifest.kind == "report"
    assert sorted(manifest.files) == ["report.json", "rows.jsonl", "scaling.png", "solutions.jsonl"]
    assert tr.Report.load(folder) == reference
    assert len((folder / "rows.jsonl").read_text().splitlines()) == UNITS
    # Saved again over itself: allowed (it is ours), and still equal.
    assert tr.Report.load(reference.save(folder)) == reference
    # A damaged or missing file is named.
    rows = folder / "solutions.jsonl"
    rows.write_text(rows.read_text().replace('"p1"', '"p9"', 1))
    with pytest.raises(ArtifactError, match=r"solutions.jsonl is damaged"):
        tr.Report.load(folder)
    (folder / "scaling.png").unlink()
    with pytest.raises(ArtifactError, match=r"solutions.jsonl is damaged|scaling.png is missing"):
        tr.Report.load(folder)
    with pytest.raises(ArtifactError, match="no such folder"):
        tr.Report.load(tmp_path / "nothing")


def test_a_report_is_not_saved_into_someone_elses_folder(
    tmp_path: Path, reference: tr.Report
) -> None:
    folder = tmp_path / "theirs"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    with pytest.raises(FolderNotOursError, match=r"thesis.tex"):
        reference.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["thesis.tex"]
    saved = reference.save(folder, overwrite=True)
    assert (folder / "thesis.tex").read_text() == "years of work"
    assert "thesis.tex" not in artifacts.verify(saved, "report", 1, rebuild="save").files
    # A run folder is not a report folder: its report lives in run_dir/report.
    run = tmp_path / "run"
    tr.evaluate(SeededBackend(), problems(), run_dir=run, **SETTINGS)
    with pytest.raises(FolderNotOursError, match="evaluation-run, not a report"):
        reference.save(run)
    assert tr.Report.load(run / "report") == tr.Report.load(run) == reference
