"""Kill tests: a run SIGKILLed at a write leaves artifacts that verify or are refused, and a
resumed run ends exactly where an uninterrupted one does.

``_kill_worker.py`` (one subprocess; a forked child per run) trains the tiny model for 3 steps with
a checkpoint after each, kills a run at write event K of each seed (counted, never timed: the same
place on any machine), copies the folder as the kill left it, and resumes it with
``resume_from_checkpoint="auto"``. The seeds' kill points fall in different phases with the
installed libraries (106 write events): before any checkpoint is complete (a fresh start), in
the second checkpoint (back to the first), while the third is sealed (back to the second), and
in the student's own save (the third, the run's last step, is the student).

Equality is bitwise: on one CPU, with one thread, the same operations reduce in the same order, and
the checkpoint restores the weights, AdamW's state, the schedule and the RNG exactly (float32
files). Only ``train_loss`` is compared within 1e-12: after a resume it is a sum in another order.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tinyreason as tr
from tinyreason import artifacts
from tinyreason.errors import ArtifactError
from tinyreason.training import verify_checkpoint
from tinyreason.training.checkpoints import checkpoint_folders, plan_resume

WORKER = Path(__file__).with_name("_kill_worker.py")
SEEDS = [2, 3, 5, 19]
EXACT = ("final_loss", "steps", "examples", "tokens", "trained_tokens", "padding_fraction")


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_killed_runs_resume_to_the_uninterrupted_result(tiny_base, traces, tmp_path):
    traces.save_to_disk(str(tmp_path / "traces"))
    (tmp_path / "runs").mkdir()
    spec = {
        "base": str(tiny_base),
        "data": str(tmp_path / "traces"),
        "root": str(tmp_path / "runs"),
        "seeds": SEEDS,
        "options": {
            "format": "think-tags",
            "max_steps": 3,
            "save_steps": 1,
            "batch_size": 4,
            "per_device_batch_size": 4,
            "learning_rate": 1e-3,
            "logging_steps": 1,
            "progress": False,
        },
    }
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, str(WORKER), str(tmp_path / "spec.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=360,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    runs = tmp_path / "runs"
    assert summary["reference"] == 0, (runs / "reference.log").read_text()[-3000:]
    reference = json.loads((runs / "reference.json").read_text())["metrics"]
    whole = artifacts.verify(runs / "reference", "trained-student", 1, rebuild="-", deep=True)
    phases = set()
    for seed in SEEDS:
        run = summary["seeds"][str(seed)]
        assert run["killed"] == -9, run  # SIGKILL: no clean-up ran
        left = runs / f"seed-{seed}-after-kill"
        # After the kill: every checkpoint verifies or is refused, naming what is wrong...
        complete = []
        for step, folder in checkpoint_folders(left):
            try:
                verify_checkpoint(folder)
                complete.append(step)
            except ArtifactError as exc:
                assert exc.path == str(folder) and exc.problem and exc.fix
        # ...the half-written student is refused (its manifest says so, or it has none yet)...
        with pytest.raises(ArtifactError, match=r"its writing did not finish|no such folder"):
            tr.TrainedStudent.load(left)
        # ...and a resume starts from the newest complete checkpoint, or afresh.
        plan = plan_resume(left, "auto", overwrite=False)
        assert plan.step == max(complete, default=0)
        phases.add(plan.step)
        # The resumed run finished, and equals the uninterrupted one.
        assert run["resumed"] == 0, (runs / f"seed-{seed}-resumed.log").read_text()[-3000:]
        resumed = json.loads((runs / f"seed-{seed}-resumed.json").read_text())["metrics"]
        assert resumed["resumed_from_step"] == plan.step
        for key in EXACT:
            assert resumed[key] == reference[key], (seed, key)
        assert resumed["loss_curve"] == reference["loss_curve"]
        assert resumed["train_loss"] == pytest.approx(reference["train_loss"], rel=1e-12)
        again = artifacts.verify(runs / f"seed-{seed}", "trained-student", 1, rebuild="-")
        assert again.files.keys() == whole.files.keys()
        # Byte for byte, the weights included; the card, tinyreason.json and the Trainer's
        # training_args.bin record the run itself (its run time, its folder), so they differ.
        for name in set(whole.files) - {"README.md", "tinyreason.json", "training_args.bin"}:
            assert again.files[name] == whole.files[name], (seed, name)
    assert phases == {0, 1, 2, 3}, summary  # the seeds cover every way back
