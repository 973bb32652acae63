"""Trackers through TRL: report_to / run_name / logging_steps pass through, tensorboard's event
files hold the loss, and any other SFTConfig field goes through trl_args, checked first."""

import json
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import tinyreason as tr
from tinyreason import artifacts
from tinyreason.training import config
from tinyreason.training.output import StudentFolder


def _scalars(folder):
    """{tag: [(step, value)]} of every tensorboard event file under ``folder``."""
    found = {}
    for events in sorted(Path(folder).rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(events.parent))
        acc.Reload()
        for tag in acc.Tags()["scalars"]:
            found.setdefault(tag, []).extend((e.step, e.value) for e in acc.Scalars(tag))
    return found


def _trainer(base, out, **options):
    return tr.trainer(
        "full",
        base=str(base),
        format="think-tags",
        output_dir=str(out),
        max_steps=2,
        batch_size=4,
        per_device_batch_size=4,
        progress=False,
        **options,
    )


def test_tensorboard_logs_the_loss_into_the_student(tiny_base, traces, tmp_path):
    out = tmp_path / "student"
    student = _trainer(
        tiny_base,
        out,
        report_to="tensorboard",
        run_name="tiny-s1",
        logging_steps=1,
        trl_args={"neftune_noise_alpha": 5.0},
    ).train(traces)
    logged = _scalars(out / "runs")
    # The loss at every step, as the Trainer logged it: the same curve the student records.
    assert [(s, pytest.approx(v)) for s, v in logged["train/loss"]] == [
        tuple(p) for p in student.metrics["loss_curve"]
    ]
    assert [s for s, _ in logged["train/learning_rate"]] == [1, 2]
    # The event files are the student's: listed in its manifest, so they are verified and pushed.
    manifest = artifacts.read_manifest(out)
    assert any(name.startswith("runs/") and "tfevents" in name for name in manifest.files)
    tr.TrainedStudent.load(out)
    # What went to TRL is recorded with the other hyperparameters (card and tinyreason.json).
    hyper = json.loads((out / "tinyreason.json").read_text())["hyperparameters"]
    assert hyper["report_to"] == "tensorboard" and hyper["run_name"] == "tiny-s1"
    assert hyper["trl_args"] == {"neftune_noise_alpha": 5.0}
    assert '| `trl_args` | {"neftune_noise_alpha": 5.0} |' in (out / "README.md").read_text()


def test_logging_dir_puts_the_events_outside_the_student(tiny_base, traces, tmp_path):
    out, logs = tmp_path / "student", tmp_path / "tb" / "train"
    _trainer(tiny_base, out, report_to=["tensorboard"], logging_dir=logs, logging_steps=1).train(
        traces
    )
    assert [s for s, _ in _scalars(logs)["train/loss"]] == [1, 2]
    assert not (out / "runs").exists()
    import os

    assert "TENSORBOARD_LOGGING_DIR" not in os.environ  # put back as it was


def test_unset_report_to_is_trls_default(tmp_path):
    import warnings

    from trl import SFTConfig

    with warnings.catch_warnings():  # TRL's own defaults use a name transformers 5 deprecates
        warnings.simplefilter("ignore", FutureWarning)
        default = SFTConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False)
    trainer = tr.trainer("full", base="m", max_steps=3)
    args = config.sft_config(trainer, tmp_path, 8, on_gpu=False, end_of_turn="<|im_end|>")
    # transformers 5: "none" (no tracker); tinyreason passes nothing, so whatever TRL does holds.
    assert args.report_to == default.report_to == []
    assert args.run_name == default.run_name
    named = tr.trainer("full", base="m", max_steps=3, report_to="tensorboard", run_name="r")
    args = config.sft_config(named, tmp_path, 8, on_gpu=False, end_of_turn="<|im_end|>")
    assert args.report_to == ["tensorboard"] and args.run_name == "r"


def test_trl_args_reach_the_sft_config(tmp_path):
    trainer = tr.trainer(
        "full",
        base="m",
        max_steps=3,
        trl_args={"neftune_noise_alpha": 5.0, "optim": "adamw_torch", "logging_first_step": True},
    )
    args = config.sft_config(trainer, tmp_path, 8, on_gpu=False, end_of_turn="<|im_end|>")
    assert args.neftune_noise_alpha == 5.0 and args.logging_first_step is True
    assert str(getattr(args.optim, "value", args.optim)) == "adamw_torch"
    assert args.learning_rate == 1e-5  # tinyreason's own options still set theirs


def test_bad_trl_args_and_trackers_are_refused_before_any_model_loads(monkeypatch):
    with pytest.raises(tr.ConfigError) as err:
        tr.trainer(
            "full",
            base="m",
            report_to="tensorbord",
            trl_args={
                "neftune_noise_alpa": 5.0,  # a typo
                "learning_rate": 2e-5,  # set by a tinyreason option
                "push_to_hub": True,  # tinyreason publishes the finished student itself
                "hub_token": "hf_secret_value_123",
                "neftune_noise_alpha": "5",  # a string for a number
                "optim_args": object(),  # not a plain value
            },
        )
    problems = err.value.problems
    said = "\n".join(problems)
    assert "did you mean 'tensorboard'?" in said
    assert "no field 'neftune_noise_alpa' (did you mean 'neftune_noise_alpha'?)" in said
    assert "learning_rate is set by tinyreason: pass learning_rate=... to the trainer" in said
    assert "student.push_to_hub" in said and "login" in said
    assert "neftune_noise_alpha must be a number or None, got str '5'" in said
    assert "optim_args must be a plain value" in said
    assert "hf_secret_value_123" not in said and len(problems) == 7
    with pytest.raises(tr.ConfigError, match="warmup_ratio"):
        tr.trainer("full", base="m", trl_args={"warmup_steps": 10})
    with pytest.raises(tr.ConfigError, match="add report_to='tensorboard'"):
        tr.trainer("full", base="m", logging_dir="runs/tb")
    # A tracker that is not installed is named with its install command, at construction.
    from transformers.integrations import integration_utils

    monkeypatch.setattr(integration_utils, "is_wandb_available", lambda: False)
    with pytest.raises(tr.ConfigError, match="'wandb' is not installed: pip install wandb"):
        tr.trainer("full", base="m", report_to=["tensorboard", "wandb"])


def test_a_combination_trl_refuses_is_a_config_error_before_the_model(
    tiny_base, traces, tmp_path, no_compute
):
    trainer = _trainer(tiny_base, tmp_path / "s", trl_args={"torch_empty_cache_steps": 0})
    with pytest.raises(
        tr.ConfigError, match=r"TRL refused the training settings.*torch_empty_cache"
    ):
        trainer.train(traces)


def test_a_resumed_run_keeps_its_earlier_logs(tmp_path):
    def crashed(folder):
        # A first session: the folder marked ours and incomplete, its tensorboard events written.
        artifacts.prepare(folder, "trained-student")
        artifacts.write_text(folder / "runs" / "first" / "events.out.tfevents.1", "steps 1-2")

    resumed, fresh = tmp_path / "resumed", tmp_path / "fresh"
    for folder, resuming in ((resumed, True), (fresh, False)):
        crashed(folder)
        student = StudentFolder(folder)
        student.open(resuming=resuming)
        artifacts.write_text(folder / "runs" / "second" / "events.out.tfevents.2", "steps 3-4")
        artifacts.write_text(folder / "config.json", "{}")
        student.seal({"trainer": "full"})
    assert sorted(artifacts.read_manifest(resumed).files) == [
        "config.json",
        "runs/first/events.out.tfevents.1",
        "runs/second/events.out.tfevents.2",
    ]
    # A fresh start leaves the abandoned run's logs alone, outside the student.
    assert "runs/first/events.out.tfevents.1" not in artifacts.read_manifest(fresh).files
    assert (fresh / "runs" / "first" / "events.out.tfevents.1").exists()
