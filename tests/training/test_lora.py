"""The lora trainer: adapters on every linear layer, saved alone or merged into one model."""

import json

import pytest
import torch

import tinyreason as tr


def _lora(base, out, **options):
    return tr.trainer(
        "lora",
        base=str(base),
        format="think-tags",
        output_dir=str(out),
        max_steps=2,
        batch_size=4,
        per_device_batch_size=4,
        learning_rate=1e-2,
        lora_r=4,
        progress=False,
        **options,
    )


def test_lora_options_and_preset():
    trainer = tr.trainer("lora", base="m")
    assert (trainer.lora_r, trainer.lora_alpha, trainer.target_modules) == (16, 32, "all-linear")
    assert trainer.preset == "s1-lora" and trainer.learning_rate == 1e-4
    assert trainer.batch_size == 16 and trainer.block_size == 32768
    assert tr.trainer("lora", base="m", preset="s1").learning_rate == 1e-5
    listed = tr.trainer("lora", base="m", target_modules=["q_proj", "v_proj"])
    assert listed.target_modules == ("q_proj", "v_proj")
    with pytest.raises(tr.ConfigError) as err:
        tr.trainer("lora", base="m", lora_r=0, lora_dropout=1.5)
    assert len(err.value.problems) == 2


def test_lora_adapter_folder_loads_as_a_student(tiny_base, traces, tmp_path):
    out = tmp_path / "adapter"
    student = _lora(tiny_base, out).train(traces)
    assert (out / "adapter_config.json").exists() and not (out / "model.safetensors").exists()
    card = (out / "README.md").read_text()
    assert "library_name: peft" in card and "LoRA adapter" in card
    assert student.hyperparameters["trainer"] == "lora"
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_base), out)
    lora_b = [p for n, p in model.named_parameters() if "lora_B" in n]
    assert lora_b and all(p.abs().sum() > 0 for p in lora_b)  # B starts at zero: it trained
    assert tr.TrainedStudent.load(out).backend().format.think_end == "</think>"
    # Merging later follows the trainers' folder rules: a foreign folder is refused, and the
    # merged student is sealed and verifies.
    from tinyreason.training import merge_adapter

    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("mine")
    with pytest.raises(tr.errors.FolderNotOursError, match=r"notes\.txt"):
        merge_adapter(out, tmp_path / "mine")
    merged = merge_adapter(out, tmp_path / "merged")
    assert tr.TrainedStudent.load(merged).format.think_end == "</think>"
    assert not (merged / "adapter_config.json").exists()
    with pytest.raises(tr.DataError, match=r"holds no adapter_config\.json"):
        merge_adapter(tiny_base, tmp_path / "merged-again")


def test_merged_lora_is_a_standalone_model(tiny_base, traces, tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "merged"
    _lora(tiny_base, out, merge=True).train(traces)
    assert not (out / "adapter_config.json").exists()
    assert (out / "adapter" / "adapter_config.json").exists()
    assert "library_name: transformers" in (out / "README.md").read_text()
    before = dict(AutoModelForCausalLM.from_pretrained(tiny_base).named_parameters())
    after = dict(AutoModelForCausalLM.from_pretrained(out).named_parameters())
    assert before.keys() == after.keys()  # no adapter modules left
    changed = {n for n in before if not torch.equal(before[n], after[n])}
    assert any("q_proj" in n for n in changed) and any("down_proj" in n for n in changed)
    assert not any("embed" in n or "norm" in n for n in changed)  # only linear layers adapt
    manifest = json.loads((out / "tinyreason.json").read_text())
    assert manifest["hyperparameters"]["merge"] is True
