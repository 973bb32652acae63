"""``tinyreason train``: the same training from the command line."""

import json
from pathlib import Path

import pytest

import tinyreason as tr
from tinyreason.cli import main
from tinyreason.training.launch import accelerate_config, load_traces, parse_sets


@pytest.fixture
def traces_file(traces, tmp_path):
    path = tmp_path / "traces.jsonl"
    traces.to_json(str(path))
    return path


def test_train_command_trains_and_prints_a_summary(tiny_base, traces_file, tmp_path, capsys):
    out = tmp_path / "student"
    argv = ["train", "--data", str(traces_file), "--base", str(tiny_base)]
    argv += ["--format", "think-tags", "--trainer", "full", "--preset", "s1", "--output", str(out)]
    argv += ["--set", "max_steps=2", "--set", "batch_size=4", "--set", "per_device_batch_size=4"]
    argv += ["--set", "progress=false", "--set", "adam_betas=[0.9, 0.98]"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "Preflight: 8 rows" in printed and "effective hyperparameters" in printed
    summary = json.loads(printed.strip().splitlines()[-1])
    assert summary["metrics"]["steps"] == 2
    manifest = json.loads((out / "tinyreason.json").read_text())
    assert manifest["hyperparameters"]["adam_betas"] == [0.9, 0.98]
    assert manifest["hyperparameters"]["preset"] == "s1"


def test_preflight_only_and_bad_options(tiny_base, traces_file, capsys):
    base = ["train", "--data", str(traces_file), "--base", str(tiny_base), "--format", "think-tags"]
    assert main([*base, "--preflight", "--gpu", "RTX 4090"]) == 0
    assert "RTX4090-hours" in capsys.readouterr().out
    assert main([*base, "--set", "lora_r=8"]) == 2
    assert "no option 'lora_r'" in capsys.readouterr().err
    assert main([*base, "--preset", "s2"]) == 2
    assert "known presets: s1, s1-lora, s1.1" in capsys.readouterr().err
    assert main([*base, "--set", "block_size=4", "--preflight"]) == 2
    assert "shorter than every row" in capsys.readouterr().err


def test_load_traces_from_folders_and_files(traces, tmp_path):
    traces.save_to_disk(str(tmp_path / "saved"))
    assert len(load_traces(str(tmp_path / "saved"))) == 8
    (tmp_path / "files").mkdir()
    traces.to_json(str(tmp_path / "files" / "part.jsonl"))
    assert "thinking_trajectories" in load_traces(str(tmp_path / "files")).column_names
    selection = tr.select(traces, tr.selector("quality"))
    selection.save(tmp_path / "selected", plot=False)
    loaded = load_traces(str(tmp_path / "selected"))  # a saved Selection stays a Selection
    assert len(loaded.kept) == 8 and loaded.summary()["funnel"] == [["quality", 8, 8]]
    (tmp_path / "nothing").mkdir()
    with pytest.raises(Exception, match="holds no dataset"):
        load_traces(str(tmp_path / "nothing"))


def test_set_values_and_accelerate_configs(tmp_path):
    assert parse_sets(["lr=1e-5", "name=x=y"]) == {"lr": 1e-5, "name": "x=y"}
    with pytest.raises(Exception, match="key=value"):
        parse_sets(["novalue"])
    from accelerate.commands.config.config_args import load_config_from_file

    fsdp = load_config_from_file(str(accelerate_config("fsdp")))  # what accelerate launch reads
    assert fsdp.distributed_type == "FSDP"
    assert fsdp.fsdp_config["fsdp_transformer_layer_cls_to_wrap"] == "Qwen2DecoderLayer"
    assert fsdp.fsdp_config["fsdp_reshard_after_forward"] == "FULL_SHARD"
    ds = load_config_from_file(str(accelerate_config("deepspeed_zero3", tmp_path)))
    assert ds.distributed_type == "DEEPSPEED"
    path = ds.deepspeed_config["deepspeed_config_file"]  # made absolute, next to the yaml
    ds_json = json.loads(Path(path).read_text())
    assert ds_json["zero_optimization"]["stage"] == 3
    assert ds_json["gradient_accumulation_steps"] == "auto"  # filled from our hyperparameters
