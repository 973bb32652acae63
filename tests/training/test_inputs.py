"""Every input to a trainer is checked before any model loads, with an error that says the fix."""

import dataclasses
import json
import typing

import pytest

import tinyreason as tr
from tinyreason.training import FullTrainer, LoraTrainer


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"learning_rate": "1e-5"}, r"learning_rate must be a number or None, got str '1e-5' \("),
        ({"epochs": -1}, r"epochs must be > 0, got -1"),
        ({"batch_size": True}, r"batch_size must be a whole number or None, got bool True"),
        ({"batch_size": 16.0}, r"batch_size must be a whole number or None, got float 16.0"),
        ({"adam_betas": 0.9}, r"adam_betas must be a list of float or None, got float 0.9"),
        ({"adam_betas": [0.9, 1.0]}, r"adam_betas must each be in \[0, 1\), got \(0.9, 1.0\)"),
        ({"warmup_ratio": float("nan")}, r"warmup_ratio must be in \[0, 1\), got nan"),
        ({"max_grad_norm": -1.0}, r"max_grad_norm must be >= 0"),
        ({"seed": -3}, r"seed must be >= 0"),
        ({"model_dtype": "fp8"}, r"model_dtype must be one of 'float32', 'bfloat16', 'float16'"),
        ({"save_steps": 5, "save_strategy": "no"}, r"saves nothing: drop one"),
        ({"resume_from_checkpoint": 3}, r"resume_from_checkpoint must be True or False or a str"),
        ({"output_dir": 5}, r"output_dir must be a string or a path or None, got int 5"),
        ({"format": print}, r"format must be a string or a StudentFormat object, got builtin"),
        ({"format": lambda q: q}, r"plain function is not a plugin object"),
        ({"preset": "s2"}, r"unknown preset 's2'; known presets: s1, s1-lora, s1\.1"),
        ({"lora_r": 8}, r"no option 'lora_r'"),
    ],
)
def test_a_bad_option_is_a_config_error_that_names_it(options, message):
    with pytest.raises(tr.ConfigError, match=message):
        tr.trainer("full", base="m", **options)


def test_options_are_checked_the_same_way_without_the_getter():
    # The getter checks types against the annotations; the class checks them again itself, so a
    # trainer built directly (or by a plugin) gets the same errors.
    with pytest.raises(tr.ConfigError, match="learning_rate must be a number"):
        FullTrainer(base="m", learning_rate="1e-5")
    with pytest.raises(tr.ConfigError) as err:
        LoraTrainer(base="m", lora_r=0, lora_dropout=1.5, target_modules=[], epochs=0)
    assert len(err.value.problems) == 4  # every value problem at once
    with pytest.raises(tr.UnknownPluginError, match="no-such-format"):
        tr.trainer("full", base="m", format="no-such-format")


def _numeric(annotation):
    args = typing.get_args(annotation) or (annotation,)
    return any(a in (int, float) or _numeric_tuple(a) for a in args)


def _numeric_tuple(annotation):
    return typing.get_origin(annotation) is tuple and float in typing.get_args(annotation)


@pytest.mark.parametrize("cls", [FullTrainer, LoraTrainer])
def test_every_numeric_option_has_a_range(cls):
    # One mechanism: each option's type is in its annotation and each number's range in RANGES,
    # so no option is checked by a hand-written case alone, and none is left unchecked.
    hints = typing.get_type_hints(cls)
    numeric = {f.name for f in dataclasses.fields(cls) if f.init and _numeric(hints[f.name])}
    assert numeric == set(cls.RANGES)


def test_bad_data_and_paths_are_reported_before_compute(tiny_base, traces, tmp_path, no_compute):
    trainer = tr.trainer("full", base=str(tiny_base), format="think-tags", max_steps=1)
    with pytest.raises(tr.DataError, match=r"train\(\) needs traces: .* got None"):
        trainer.train(None)
    with pytest.raises(tr.DataError, match=r"got list; make a Dataset first"):
        trainer.train([{"question": "1+1?"}])
    with pytest.raises(tr.DataError, match="no such file"):
        trainer.train(str(tmp_path / "missing.jsonl"))
    with pytest.raises(tr.DataError, match="selection must be the Selection"):
        trainer.train(traces, selection="quality")
    saved = tmp_path / "saved"
    traces.save_to_disk(str(saved))
    (saved / "state.json").write_text("{broken")
    with pytest.raises(tr.DataError, match=r"saved dataset cannot be read .* save it again"):
        trainer.train(str(saved))


def _base_copy(tiny_base, tmp_path, name):
    import shutil

    copy = tmp_path / name
    shutil.copytree(tiny_base, copy)
    return copy


def test_a_missing_or_damaged_base_is_named_before_compute(tiny_base, traces, tmp_path, no_compute):
    def train(base, **options):
        options = {"format": "think-tags", "max_steps": 1, "output_dir": str(tmp_path / "o")}
        return tr.trainer("full", base=str(base), **options).train(traces)

    with pytest.raises(tr.ConfigError, match=r"base '\./no/such/model': no such folder"):
        train("./no/such/model")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(tr.ConfigError, match=r"holds no config\.json"):
        train(empty)
    config = _base_copy(tiny_base, tmp_path, "config")
    (config / "config.json").write_text('{"model_type": ')
    with pytest.raises(tr.DataError, match=r"config.json is damaged \(JSONDecodeError"):
        train(config)
    weights = _base_copy(tiny_base, tmp_path, "weights")
    size = (weights / "model.safetensors").stat().st_size
    with open(weights / "model.safetensors", "r+b") as handle:
        handle.truncate(size - 1000)
    with pytest.raises(tr.DataError, match=r"model.safetensors is truncated \(.* its header says"):
        train(weights)
    tokenizer = _base_copy(tiny_base, tmp_path, "tokenizer")
    (tokenizer / "tokenizer.json").write_text("{}")
    with pytest.raises(tr.ConfigError, match=r"the tokenizer of base .* cannot be loaded \("):
        train(tokenizer)
    # A hub id that is not in the cache, offline: the tokenizer's load names it.
    with pytest.raises(tr.ConfigError, match=r"tokenizer of base 'nobody/no-such-model'.*offline"):
        train("nobody/no-such-model")


def test_the_command_line_has_overwrite_and_resume_auto(tiny_base, traces, tmp_path, capsys):
    from tinyreason.cli import main

    data = tmp_path / "traces.jsonl"
    traces.to_json(str(data))
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    argv = ["train", "--data", str(data), "--base", str(tiny_base), "--format", "think-tags"]
    argv += ["--output", str(out), "--set", "max_steps=1", "--set", "batch_size=4"]
    argv += ["--set", "per_device_batch_size=4", "--set", "progress=false"]
    assert main([*argv, "--resume", "auto", "--preflight"]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert main([*argv, "--resume", "auto", "--overwrite"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["metrics"]["resumed_from_step"] == 0  # "auto" and no checkpoint: afresh
    assert (out / "notes.txt").read_text() == "mine"
