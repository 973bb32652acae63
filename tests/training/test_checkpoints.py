"""Checkpoints: sealed once written, verified before a resume, a damaged newest one skipped."""

import json
import os
import re
import shutil

import pytest

import tinyreason as tr
from tinyreason import artifacts
from tinyreason.errors import ArtifactError
from tinyreason.training import ResumeWarning, seal_checkpoint, verify_checkpoint
from tinyreason.training.checkpoints import PROGRESS_FILE, plan_resume


def _full(base, out, **options):
    return tr.trainer(
        "full",
        base=str(base),
        format="think-tags",
        output_dir=str(out),
        batch_size=4,
        per_device_batch_size=4,
        learning_rate=1e-3,
        logging_steps=1,
        progress=False,
        **options,
    )


@pytest.fixture(scope="module")
def run(tiny_base, make_traces, tmp_path_factory):
    """A 2-step run with a checkpoint after each step (trained once for the module)."""
    out = tmp_path_factory.mktemp("checkpoints") / "run"
    student = _full(tiny_base, out, max_steps=2, save_steps=1).train(make_traces())
    return out, student


def _copy(run, tmp_path, name="copy"):
    copy = tmp_path / name
    shutil.copytree(run[0], copy)
    return copy


def test_each_checkpoint_is_sealed_with_its_progress(run):
    out, student = run
    for step in (1, 2):
        manifest = verify_checkpoint(out / f"checkpoint-{step}")
        assert manifest.kind == "checkpoint" and manifest.complete
        assert manifest.meta["step"] == step and manifest.meta["trainer"] == "full"
        assert manifest.meta["data"] == student.data["fingerprint"]
        assert {"model.safetensors", "optimizer.pt", PROGRESS_FILE} <= set(manifest.files)
    progress = json.loads((out / "checkpoint-2" / PROGRESS_FILE).read_text())
    # The last checkpoint's counts are the whole run's, which the student's metrics report.
    assert progress["counts"][0]["tokens"] == student.metrics["tokens"]
    assert progress["loss_sum"] / 2 == pytest.approx(student.metrics["train_loss"])
    # The student's own manifest leaves the checkpoints (sealed on their own) out.
    assert not any(f.startswith("checkpoint-") for f in artifacts.read_manifest(out).files)


def _truncate(folder):
    os.truncate(folder / "optimizer.pt", 10)


def _unseal(folder):
    (folder / artifacts.MANIFEST).unlink()


def _unfinished(folder):
    data = json.loads((folder / artifacts.MANIFEST).read_text())
    (folder / artifacts.MANIFEST).write_text(json.dumps({**data, "complete": False}))


def _edited(folder):  # same size, other bytes: only the hash can tell
    path = folder / "trainer_state.json"
    path.write_text(path.read_text().replace('"global_step": 2', '"global_step": 9'))


@pytest.mark.parametrize(
    ("damage", "cause"),
    [
        (_truncate, r"optimizer.pt is damaged \(10 bytes"),
        (_unseal, "it has no tinyreason-manifest.json"),
        (_unfinished, "its writing did not finish"),
        (_edited, r"trainer_state.json is damaged \(its sha256 differs\)"),
    ],
)
def test_a_damaged_newest_checkpoint_is_reported_and_the_previous_one_used(
    run, tmp_path, damage, cause
):
    out = _copy(run, tmp_path)
    damage(out / "checkpoint-2")
    plan = plan_resume(out, True, overwrite=False, trainer="full")
    assert plan.checkpoint == out / "checkpoint-1" and plan.step == 1
    assert plan.remove == (out / "checkpoint-2",)
    (note,) = plan.notes
    assert note.startswith("checkpoint-2 is damaged (") and "resuming from checkpoint-1" in note
    assert re.search(cause, note)
    with pytest.raises(ArtifactError, match=cause):  # named directly, it is refused
        plan_resume(out, str(out / "checkpoint-2"), overwrite=False)


def test_resuming_past_a_damaged_checkpoint_ends_where_the_whole_run_did(
    run, tiny_base, make_traces, tmp_path
):
    out = _copy(run, tmp_path)
    _truncate(out / "checkpoint-2")
    with pytest.warns(ResumeWarning, match="checkpoint-2 is damaged"):
        resumed = _full(tiny_base, out, max_steps=2, save_steps=1, resume_from_checkpoint=True)
        student = resumed.train(make_traces())
    assert student.metrics["resumed_from_step"] == 1
    verify_checkpoint(out / "checkpoint-2")  # written again, and sealed
    whole, again = artifacts.read_manifest(run[0]), artifacts.read_manifest(out)
    # The same weights, bit for bit (a single thread or not, one machine reduces in one order).
    assert again.files["model.safetensors"] == whole.files["model.safetensors"]
    for key in ("final_loss", "tokens", "trained_tokens", "loss_curve", "steps"):
        assert student.metrics[key] == run[1].metrics[key]
    # A sum in another order: equal to the last bits or nearly.
    assert student.metrics["train_loss"] == pytest.approx(run[1].metrics["train_loss"], rel=1e-12)


def test_no_complete_checkpoint(run, tmp_path):
    out = _copy(run, tmp_path)
    _unseal(out / "checkpoint-1")
    _unfinished(out / "checkpoint-2")
    with pytest.raises(
        tr.ConfigError, match=r"no checkpoint in .* is complete \(checkpoint-2: its"
    ):
        plan_resume(out, True, overwrite=False)
    plan = plan_resume(out, "auto", overwrite=False)  # "auto": start afresh, said out loud
    assert plan.checkpoint is None and len(plan.remove) == 2
    assert "starting afresh" in plan.notes[0]


def test_resume_without_a_checkpoint_fails_before_compute(tiny_base, traces, tmp_path, no_compute):
    with pytest.raises(tr.ConfigError, match="holds no checkpoint"):
        _full(tiny_base, tmp_path / "empty", max_steps=2, resume_from_checkpoint=True).train(traces)
    with pytest.raises(tr.ConfigError, match="no such checkpoint folder"):
        _full(tiny_base, tmp_path, max_steps=2, resume_from_checkpoint="nowhere").train(traces)
    assert plan_resume(tmp_path / "empty", "auto", overwrite=False).checkpoint is None


def test_a_checkpoint_without_optimizer_state_says_what_resuming_loses(run, tmp_path):
    out = _copy(run, tmp_path)
    (out / "checkpoint-2" / "optimizer.pt").unlink()  # as save_only_model=True leaves it
    (out / "checkpoint-2" / "rng_state.pth").unlink()
    seal_checkpoint(out / "checkpoint-2")
    plan = plan_resume(out, "auto", overwrite=False)
    assert plan.checkpoint == out / "checkpoint-2"
    (note,) = plan.notes
    assert "optimizer.pt missing: AdamW's moments start again from zero" in note
    assert "rng_state.pth missing" in note and "will not equal an uninterrupted one" in note


def test_resume_choices_that_would_lose_work_are_refused(run, tmp_path):
    out = _copy(run, tmp_path)
    with pytest.raises(tr.ConfigError, match="checkpoint-2 is a complete checkpoint newer than"):
        plan_resume(out, str(out / "checkpoint-1"), overwrite=False)
    with pytest.raises(tr.ConfigError, match="saved by the 'full' trainer, not 'lora'"):
        plan_resume(out, True, overwrite=False, trainer="lora")
    plan = plan_resume(out, True, overwrite=False, trainer="full", data="other-rows")
    assert "another data" in plan.notes[0]
    fresh = plan_resume(out, None, overwrite=True)  # overwrite: the old checkpoints go
    assert fresh.checkpoint is None and len(fresh.remove) == 2


def test_resume_continues_from_the_last_checkpoint(tiny_base, traces, tmp_path):
    out = tmp_path / "run"
    first = _full(tiny_base, out, max_steps=2, save_steps=2).train(traces)
    assert first.hyperparameters["save_strategy"] == "steps"
    resumed = _full(tiny_base, out, max_steps=4, resume_from_checkpoint=True).train(traces)
    assert resumed.metrics["resumed_from_step"] == 2 and resumed.metrics["steps"] == 4
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    logged = [e["step"] for e in state["log_history"] if "loss" in e]
    assert logged == [1, 2]
    # 4 steps of 4 rows over 8 rows are 2 epochs, each of every row once: the resumed run's
    # count (the checkpoint's plus steps 3 and 4 it computed itself) is twice the first run's.
    assert resumed.metrics["tokens"] == 2 * first.metrics["tokens"]
