"""Presets fill unset hyperparameters; the global batch stays constant on any device count."""

import pytest

import tinyreason as tr
from tinyreason.training import PRESETS, gradient_accumulation
from tinyreason.training.presets import PRESET_FIELDS
from tinyreason.training.sft import SFTTrainerBase


def test_s1_preset_is_the_default_and_every_value_can_be_overridden():
    trainer = tr.trainer("full", base="m")
    s1 = PRESETS["s1"]
    assert all(getattr(trainer, key) == s1[key] for key in PRESET_FIELDS)
    assert (trainer.epochs, trainer.learning_rate, trainer.warmup_ratio) == (5.0, 1e-5, 0.05)
    assert (trainer.adam_betas, trainer.weight_decay, trainer.batch_size) == ((0.9, 0.95), 1e-4, 16)
    custom = tr.trainer("full", base="m", learning_rate=3e-3, adam_betas=[0.9, 0.98])
    assert custom.learning_rate == 3e-3 and custom.adam_betas == (0.9, 0.98)
    assert custom.epochs == 5.0  # the rest still from s1
    assert set(PRESET_FIELDS) <= set(SFTTrainerBase.__dataclass_fields__)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(
        tr.ConfigError, match=r"unknown preset .paper.; known presets: s1, s1-lora, s1\.1"
    ):
        tr.trainer("full", base="m", preset="paper")


def test_bad_options_are_reported_together():
    with pytest.raises(tr.ConfigError) as err:
        tr.trainer("full", base="m", epochs=-1, save_steps=0, warmup_ratio=1.5)
    assert len(err.value.problems) == 3
    assert tr.trainer("full", base="m", save_steps=5).save_strategy == "steps"
    # A name outside the choices is a type problem, reported (with the others) before values.
    with pytest.raises(tr.ConfigError, match="save_strategy must be one of 'no', 'steps'"):
        tr.trainer("full", base="m", save_strategy="often")


@pytest.mark.parametrize(
    ("world", "per_device", "accumulation"), [(1, 1, 16), (8, 1, 2), (16, 1, 1), (2, 4, 2)]
)
def test_global_batch_16_on_any_device_count(world, per_device, accumulation):
    assert gradient_accumulation(16, per_device, world) * per_device * world == 16
    assert gradient_accumulation(16, per_device, world) == accumulation


def test_indivisible_global_batch_names_the_fix():
    with pytest.raises(tr.ConfigError, match=r"3 x 2 = 6: set per_device_batch_size=2"):
        gradient_accumulation(16, 3, 2)
    with pytest.raises(tr.ConfigError, match=r"multiple of 3 devices \(15 or 18\)"):
        gradient_accumulation(16, 1, 3)


def test_the_trl_config_derives_accumulation_from_world_size(monkeypatch, tmp_path):
    from tinyreason.training import config

    # WORLD_SIZE itself would make the Trainer join a process group (test_distributed does).
    monkeypatch.setattr(config, "world_size", lambda: 4)
    trainer = tr.trainer("full", base="m", per_device_batch_size=2, max_steps=3)
    args = config.sft_config(trainer, tmp_path, 100, on_gpu=False, end_of_turn="<|im_end|>")
    assert args.gradient_accumulation_steps == 2  # 16 / (2 x 4)
    assert (args.adam_beta1, args.adam_beta2, args.lr_scheduler_type) == (0.9, 0.95, "cosine")
    assert args.max_length == 32768 and args.completion_only_loss and not args.bf16
    assert args.eos_token == "<|im_end|>" and args.report_to in ([], "none", ["none"])


def test_step_count_matches_s1_315_steps_for_1000_rows(tmp_path):
    from tinyreason.training import config

    trainer = tr.trainer("full", base="m")  # the s1 preset: 5 epochs, batch 16
    args = config.sft_config(trainer, tmp_path, 1000, on_gpu=False, end_of_turn="<|im_end|>")
    assert args.max_steps == 315  # 5 epochs x ceil(1000 / 16) = 5 x 63, as s1 logged
