"""Checkpoints and resume: train 2 steps with a checkpoint, then resume to 4."""

import json

import pytest

import tinyreason as tr


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


def test_resume_continues_from_the_last_checkpoint(tiny_base, traces, tmp_path):
    out = tmp_path / "run"
    first = _full(tiny_base, out, max_steps=2, save_steps=2).train(traces)
    assert first.hyperparameters["save_strategy"] == "steps"
    assert (out / "checkpoint-2" / "trainer_state.json").exists()
    resumed = _full(tiny_base, out, max_steps=4, resume_from_checkpoint=True).train(traces)
    assert resumed.metrics["resumed_from_step"] == 2 and resumed.metrics["steps"] == 4
    state = json.loads((out / "checkpoint-2" / "trainer_state.json").read_text())
    logged = [e["step"] for e in state["log_history"] if "loss" in e]
    assert logged == [1, 2]
    # The resumed run computed only steps 3 and 4 (the token counter saw 2 steps of batches).
    assert resumed.metrics["tokens"] < first.metrics["tokens"] * 1.5


def test_resume_without_a_checkpoint_fails_before_compute(tiny_base, traces, tmp_path):
    with pytest.raises(tr.ConfigError, match="holds no checkpoint"):
        _full(tiny_base, tmp_path / "empty", max_steps=2, resume_from_checkpoint=True).train(traces)
    with pytest.raises(tr.ConfigError, match="no such checkpoint folder"):
        _full(tiny_base, tmp_path, max_steps=2, resume_from_checkpoint="nowhere").train(traces)
