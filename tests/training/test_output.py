"""The student's folder: never written where it is not ours, written whole, verified on load."""

import json
import os
import shutil

import pytest

import tinyreason as tr
from tinyreason import artifacts
from tinyreason.cli import main
from tinyreason.errors import ArtifactError, FolderNotOursError
from tinyreason.training import UnverifiedStudentWarning, seal_checkpoint
from tinyreason.training.output import estimate_output_bytes, model_size


def _full(base, out, **options):
    options = {
        "format": "think-tags",
        "output_dir": str(out),
        "batch_size": 4,
        "per_device_batch_size": 4,
        "progress": False,
        **options,
    }
    return tr.trainer("full", base=str(base), **options)


def _users_folder(folder):
    (folder / "data").mkdir(parents=True)
    (folder / "notes.txt").write_text("my notes")
    (folder / "data" / "results.csv").write_text("a,b\n1,2\n")
    (folder / "README.md").write_text("# my project\n")
    return folder


def test_a_foreign_folder_is_refused_before_compute_and_left_as_it_was(
    tiny_base, traces, tmp_path, no_compute, tree, capsys
):
    out = _users_folder(tmp_path / "mine")
    before = tree(out)
    with pytest.raises(FolderNotOursError, match=r"holds 3 files tinyreason did not write") as err:
        _full(tiny_base, out, max_steps=1).train(traces)
    assert "overwrite=True" in str(err.value) and "README.md, data, notes.txt" in str(err.value)
    with pytest.raises(FolderNotOursError):
        _full(tiny_base, out).preflight(traces)  # the dry run checks the folder too
    data = tmp_path / "traces.jsonl"
    traces.to_json(str(data))
    argv = ["train", "--data", str(data), "--base", str(tiny_base), "--format", "think-tags"]
    assert main([*argv, "--output", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert tree(out) == before  # byte for byte, and nothing added


def test_overwrite_replaces_only_our_files_and_the_student_loads_verified(
    tiny_base, traces, tmp_path, tree
):
    out = _users_folder(tmp_path / "mine")
    users = {k: v for k, v in tree(out).items() if k != "README.md"}
    student = _full(tiny_base, out, max_steps=1, overwrite=True).train(traces)
    after = tree(out)
    assert {k: after[k] for k in users} == users  # the user's files are untouched
    manifest = artifacts.read_manifest(out)
    assert manifest.complete and manifest.kind == "trained-student"
    assert "notes.txt" not in manifest.files and "data/results.csv" not in manifest.files
    # README.md is the model card's name: it is one of ours, and replaced.
    assert {"README.md", "tinyreason.json", "model.safetensors", "config.json"} <= set(
        manifest.files
    )
    assert "Fine-tuned from" in (out / "README.md").read_text()
    assert manifest.meta["trainer"] == "full" and manifest.meta["steps"] == 1
    assert tr.TrainedStudent.load(out).metrics == student.metrics

    def damaged(name, change):
        copy = tmp_path / name
        shutil.copytree(out, copy)
        change(copy)
        return copy

    truncated = damaged("truncated", lambda f: os.truncate(f / "model.safetensors", 100))
    with pytest.raises(ArtifactError, match=r"model.safetensors is damaged \(100 bytes"):
        tr.TrainedStudent.load(truncated)
    edited = damaged(
        "edited",
        lambda f: (f / "tinyreason.json").write_text(
            (f / "tinyreason.json").read_text().replace("think-tags", "think-tagz")
        ),
    )
    with pytest.raises(ArtifactError, match=r"tinyreason.json is damaged \(its sha256 differs\)"):
        tr.TrainedStudent.load(edited)
    missing = damaged("missing", lambda f: (f / "config.json").unlink())
    with pytest.raises(ArtifactError, match=r"config\.json is missing; train it again"):
        tr.TrainedStudent.load(missing)

    def unfinished(folder):
        data = json.loads((folder / artifacts.MANIFEST).read_text())
        (folder / artifacts.MANIFEST).write_text(json.dumps({**data, "complete": False}))

    with pytest.raises(ArtifactError, match="its writing did not finish"):
        tr.TrainedStudent.load(damaged("unfinished", unfinished))
    older = damaged("older", lambda f: (f / artifacts.MANIFEST).unlink())
    with pytest.warns(UnverifiedStudentWarning, match="older tinyreason without a manifest"):
        assert tr.TrainedStudent.load(older).format.name == "think-tags"
    broken = damaged("older-broken", lambda f: (f / artifacts.MANIFEST).unlink())
    (broken / "tinyreason.json").write_text("{not json")
    with pytest.warns(UnverifiedStudentWarning), pytest.raises(ArtifactError, match="damaged"):
        tr.TrainedStudent.load(broken)
    with pytest.raises(tr.DataError, match=r"has no tinyreason\.json; for a model trained"):
        tr.TrainedStudent.load(tiny_base)  # trained elsewhere: today's clear error


def test_unwritable_folders_and_full_disks_are_refused_before_compute(
    tiny_base, traces, tmp_path, no_compute, monkeypatch
):
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(ArtifactError, match="cannot be written"):
        _full(tiny_base, blocker / "student").train(traces)
    with pytest.raises(ArtifactError, match="it is a file, not a folder"):
        _full(tiny_base, blocker).train(traces)
    if os.geteuid() != 0:  # root writes anywhere: the permission bits cannot stop it
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ArtifactError, match="cannot be written"):
            _full(tiny_base, locked / "student").train(traces)
    # The estimate: float32 weights for the student, and weights + AdamW's two moments for each
    # of the 2 checkpoints kept at once (save_total_limit=1, plus the one being written).
    parameters, _ = model_size(tiny_base)
    trainer = _full(tiny_base, tmp_path / "s", max_steps=10, save_steps=2, save_total_limit=1)
    assert estimate_output_bytes(trainer, 10) == int(parameters * 4 * (1 + 2 * 3) * 1.05)
    lora = tr.trainer("lora", base=str(tiny_base), save_steps=1, max_steps=4)
    assert estimate_output_bytes(lora, 4) == 0  # adapters are not counted

    class Usage:
        free = 1000  # bytes

    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage())
    with pytest.raises(ArtifactError, match=r"the disk has 0.0 GiB free and this needs about"):
        trainer.train(traces)


def test_a_fresh_start_over_an_earlier_runs_checkpoints_is_refused(
    tiny_base, traces, tmp_path, no_compute
):
    out = artifacts.prepare(tmp_path / "run", "trained-student")
    artifacts.write_json(out / "checkpoint-2" / "trainer_state.json", {"global_step": 2})
    seal_checkpoint(out / "checkpoint-2")
    with pytest.raises(tr.ConfigError, match=r"holds checkpoints of an earlier run \(checkpoint-2"):
        _full(tiny_base, out, max_steps=1).train(traces)
    with pytest.raises(tr.ConfigError, match="is the base model's folder"):
        _full(tiny_base, tiny_base, max_steps=1, overwrite=True).train(traces)
