"""Artifact I/O: whole files, manifests that verify, folders that are not ours left alone.

The kill tests run a writer in a subprocess that SIGKILLs itself at the Nth file-system step
(the Nth ``os.replace`` or ``os.fsync``, chosen per seed): the points are exact and repeatable,
no clock decides them. After each kill the artifact either loads whole and verified or is
refused with an ArtifactError, and a rerun writes one equal to an uninterrupted run's.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tinyreason import artifacts
from tinyreason.errors import ArtifactError, FolderNotOursError, TinyReasonError


def tree_hash(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256 (and every folder), to prove nothing changed."""
    out = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return out


def sealed(tmp_path: Path, files: dict[str, bytes], kind: str = "example") -> Path:
    folder = artifacts.prepare(tmp_path / "art", kind)
    for name, data in files.items():
        artifacts.write_bytes(folder / name, data)
    artifacts.seal(folder, kind, 1)
    return folder


# -- whole files ----------------------------------------------------------------------------


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = artifacts.write_text(tmp_path / "a.json", "old")
    with pytest.raises(RuntimeError), artifacts.writing(target) as temp:
        temp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_folder_is_replaced_whole(tmp_path: Path) -> None:
    target = tmp_path / "kept"
    for text in ("one", "two"):
        with artifacts.writing(target) as temp:
            temp.mkdir()
            (temp / "data.txt").write_text(text)
    assert (target / "data.txt").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept"]


def test_writing_nothing_is_an_error_not_an_empty_artifact(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError), artifacts.writing(tmp_path / "x.txt"):
        pass
    assert not (tmp_path / "x.txt").exists()


def test_write_json_writes_what_json_cannot_hold_as_text(tmp_path: Path) -> None:
    path = artifacts.write_json(tmp_path / "x.json", {"path": Path("a/b")})
    assert json.loads(path.read_text()) == {"path": "a/b"}


# -- output folders -------------------------------------------------------------------------


def test_a_folder_we_did_not_write_is_refused_and_left_byte_identical(tmp_path: Path) -> None:
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "notes.txt").write_text("the user's notes")
    (folder / "sub").mkdir()
    (folder / "sub" / "weights.bin").write_bytes(b"\0" * 100)
    before = tree_hash(folder)
    for call in (artifacts.check_output, artifacts.prepare):
        with pytest.raises(FolderNotOursError) as err:
            call(folder, "selection")
        assert "notes.txt" in str(err.value) and "overwrite=True" in str(err.value)
    assert tree_hash(folder) == before


def test_overwrite_writes_only_our_files_beside_the_users(tmp_path: Path) -> None:
    folder = tmp_path / "user"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    artifacts.prepare(folder, "example", overwrite=True)
    artifacts.write_text(folder / "ours.txt", "ours")
    manifest = artifacts.seal(folder, "example", 1, exclude=lambda rel: rel == "notes.txt")
    assert (folder / "notes.txt").read_text() == "mine"
    assert sorted(manifest.files) == ["ours.txt"]


def test_our_own_folder_may_be_written_again(tmp_path: Path) -> None:
    folder = sealed(tmp_path, {"a.txt": b"1"})
    artifacts.prepare(folder, "example")  # no error: it is ours
    # ...and from now until it is sealed again, it does not verify.
    with pytest.raises(ArtifactError, match="did not finish"):
        artifacts.verify(folder, "example", 1, rebuild="again")


def test_our_folder_of_another_kind_is_refused(tmp_path: Path) -> None:
    folder = sealed(tmp_path, {"a.txt": b"1"}, kind="selection")
    with pytest.raises(FolderNotOursError, match="holds a tinyreason selection"):
        artifacts.prepare(folder, "trained-student")


def test_a_file_where_a_folder_is_wanted(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    with pytest.raises(ArtifactError, match="a file, not a folder"):
        artifacts.check_output(tmp_path / "out", "example")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs POSIX, not root")
def test_a_folder_that_cannot_be_written_is_found_before_compute(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ArtifactError, match="cannot be written"):
            artifacts.check_output(locked / "new" / "deeper", "example")
    finally:
        locked.chmod(0o700)


def test_too_little_disk_is_found_before_compute(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="GiB free"):
        artifacts.check_output(tmp_path / "out", "example", need_bytes=2**62)


def test_check_output_writes_nothing(tmp_path: Path) -> None:
    artifacts.check_output(tmp_path / "a" / "b", "example")
    assert list(tmp_path.iterdir()) == []


def test_prepare_removes_temporaries_a_crash_left(tmp_path: Path) -> None:
    folder = artifacts.prepare(tmp_path / "out", "example")
    (folder / f"{artifacts.TEMP_PREFIX}abc-kept").mkdir()
    artifacts.prepare(folder, "example")
    assert sorted(p.name for p in folder.iterdir()) == [artifacts.MANIFEST]


# -- verify ---------------------------------------------------------------------------------


def damage_missing(folder: Path) -> None:
    (folder / "sub" / "b.bin").unlink()


def damage_truncated(folder: Path) -> None:
    (folder / "a.txt").write_bytes(b"hell")


def damage_flipped(folder: Path) -> None:
    (folder / "a.txt").write_bytes(b"jello")


def damage_manifest_json(folder: Path) -> None:
    path = folder / artifacts.MANIFEST
    path.write_text(path.read_text()[:40])


def damage_manifest_fields(folder: Path) -> None:
    (folder / artifacts.MANIFEST).write_text(json.dumps({"kind": "example", "version": "1"}))


def damage_incomplete(folder: Path) -> None:
    path = folder / artifacts.MANIFEST
    data = json.loads(path.read_text())
    data["complete"] = False
    path.write_text(json.dumps(data))


def damage_newer(folder: Path) -> None:
    path = folder / artifacts.MANIFEST
    data = json.loads(path.read_text())
    data["version"] = 99
    path.write_text(json.dumps(data))


def damage_no_manifest(folder: Path) -> None:
    (folder / artifacts.MANIFEST).unlink()


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (damage_missing, "sub/b.bin is missing"),
        (damage_truncated, "a.txt is damaged (4 bytes, the manifest says 5)"),
        (damage_flipped, "a.txt is damaged (its sha256 differs)"),
        (damage_manifest_json, "the manifest is damaged"),
        (damage_manifest_fields, "the manifest is damaged"),
        (damage_incomplete, "its writing did not finish"),
        (damage_newer, "written by a newer tinyreason"),
        (damage_no_manifest, "has no tinyreason-manifest.json"),
    ],
)
def test_verify_names_what_is_wrong(tmp_path: Path, damage: object, says: str) -> None:
    folder = sealed(tmp_path, {"a.txt": b"hello", "sub/b.bin": b"\1\2"})
    artifacts.verify(folder, "example", 1, rebuild="run the example")
    damage(folder)  # type: ignore[operator]
    with pytest.raises(ArtifactError) as err:
        artifacts.verify(folder, "example", 1, rebuild="run the example")
    assert says in str(err.value)
    assert isinstance(err.value, TinyReasonError)


def test_verify_refuses_another_kind_and_a_missing_folder(tmp_path: Path) -> None:
    folder = sealed(tmp_path, {"a.txt": b"1"})
    with pytest.raises(ArtifactError, match="holds a example, not a selection"):
        artifacts.verify(folder, "selection", 1, rebuild="x")
    with pytest.raises(ArtifactError, match="no such folder"):
        artifacts.verify(tmp_path / "nope", "example", 1, rebuild="x")


def test_deep_false_checks_sizes_only_and_deep_true_hashes_everything(tmp_path: Path) -> None:
    folder = sealed(tmp_path, {"a.txt": b"hello"})
    damage_flipped(folder)
    artifacts.verify(folder, "example", 1, rebuild="x", deep=False)
    with pytest.raises(ArtifactError, match="sha256"):
        artifacts.verify(folder, "example", 1, rebuild="x", deep=True)


# -- the selection folder, through its real writer ---------------------------------------------


@pytest.fixture
def selection() -> object:
    from datasets import Dataset

    from tinyreason.selection.base import Selection, Stage

    kept = Dataset.from_dict({"id": ["a", "b"], "question": ["1+1?", "2+2?"], "x": [1, 2]})
    audit = Dataset.from_dict(
        {"id": ["c"], "question": ["?"], "stage": ["s"], "reason": ["empty"], "detail": [""]}
    )
    return Selection(kept, (audit,), (Stage("s", 3, 2, {"k": 1}),))


def same_selection(a: object, b: object) -> bool:
    return (
        a.kept.to_list() == b.kept.to_list()  # type: ignore[attr-defined]
        and a.dropped.to_list() == b.dropped.to_list()  # type: ignore[attr-defined]
        and a.stages == b.stages  # type: ignore[attr-defined]
    )


def test_a_saved_selection_loads_verified_and_damage_is_named(tmp_path: Path, selection) -> None:
    from tinyreason.selection.base import Selection

    folder = selection.save(tmp_path / "sel", plot=False)
    assert artifacts.verify(folder, "selection", 1, rebuild="x").meta == {"kept": 2}
    loaded = Selection.load(folder)
    assert type(loaded) is Selection and same_selection(loaded, selection)
    data = next((folder / "kept").glob("*.arrow"))
    data.write_bytes(data.read_bytes()[:-10])
    with pytest.raises(ArtifactError, match=rf"kept/{data.name} is damaged") as err:
        Selection.load(folder)
    assert "selection.save" in str(err.value)


def test_a_damaged_dropped_table_is_not_silently_fewer_rows(tmp_path: Path, selection) -> None:
    from tinyreason.selection.base import Selection

    folder = selection.save(tmp_path / "sel", plot=False)
    (folder / "dropped.parquet").write_bytes(b"PAR1")
    with pytest.raises(ArtifactError, match=r"dropped\.parquet is damaged"):
        Selection.load(folder)


def test_saving_a_selection_into_the_users_folder_is_refused(tmp_path: Path, selection) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "paper.tex").write_text("draft")
    before = tree_hash(folder)
    with pytest.raises(FolderNotOursError):
        selection.save(folder)
    assert tree_hash(folder) == before
    selection.save(folder, plot=False, overwrite=True)
    assert (folder / "paper.tex").read_text() == "draft"


def test_an_older_selection_without_a_manifest_loads_with_a_warning(
    tmp_path: Path, selection
) -> None:
    from tinyreason.selection.base import Selection

    folder = selection.save(tmp_path / "sel", plot=False)
    (folder / artifacts.MANIFEST).unlink()
    with pytest.warns(UserWarning, match="cannot be verified"):
        loaded = Selection.load(folder)
    assert same_selection(loaded, selection)


def test_training_reads_a_saved_selection_without_the_selection_stage(
    tmp_path: Path, selection
) -> None:
    from tinyreason.records import Selection as Record
    from tinyreason.records.saved import is_saved_selection, read_selection

    folder = selection.save(tmp_path / "sel", plot=False)
    assert is_saved_selection(folder) and not is_saved_selection(tmp_path)
    loaded = read_selection(folder)
    assert type(loaded) is Record and same_selection(loaded, selection)


# -- kill tests -----------------------------------------------------------------------------

_KILLER = """
import os, signal, sys
from datasets import Dataset
from tinyreason.selection.base import Selection, Stage

step, target = int(sys.argv[1]), sys.argv[2]
calls = {"n": 0}
real_replace, real_fsync = os.replace, os.fsync

def counted(real):
    def call(*args):
        calls["n"] += 1
        if calls["n"] == step:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(*args)
    return call

os.replace, os.fsync = counted(real_replace), counted(real_fsync)
kept = Dataset.from_dict({"id": ["a", "b"], "question": ["1+1?", "2+2?"], "x": [1, 2]})
audit = Dataset.from_dict(
    {"id": ["c"], "question": ["?"], "stage": ["s"], "reason": ["empty"], "detail": [""]}
)
Selection(kept, (audit,), (Stage("s", 3, 2, {"k": 1}),)).save(target, plot=False)
print("steps", calls["n"])
"""


def _save_in_subprocess(step: int, target: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_KILLER), str(step), str(target)],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.slow
def test_a_selection_save_killed_at_any_step_loads_whole_or_is_refused(
    tmp_path: Path, selection
) -> None:
    from tinyreason.selection.base import Selection

    whole = _save_in_subprocess(0, tmp_path / "whole")  # step 0: never killed
    assert whole.returncode == 0, whole.stderr
    steps = int(whole.stdout.split()[-1])
    assert steps > 5  # each file is fsynced and renamed: there are many points to kill at
    # Kill at several points: the first, the last, and spread between (the same every run).
    for step in sorted({1, 2, steps // 3, steps // 2, steps - 1, steps}):
        target = tmp_path / f"killed-{step}"
        first = _save_in_subprocess(step, target)
        assert first.returncode == -signal.SIGKILL, (step, first.stderr)
        try:
            loaded = Selection.load(target)
        except ArtifactError:
            pass  # refused, clearly: fine
        else:
            assert same_selection(loaded, selection), step
        again = _save_in_subprocess(0, target)  # the rerun writes into its own folder
        assert again.returncode == 0, again.stderr
        assert same_selection(Selection.load(target), selection)
