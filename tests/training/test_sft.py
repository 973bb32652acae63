import json

import pytest
import torch

import tinyreason as tr


def _traces(n=8):
    teacher = tr.testing.FakeTeacher()
    problems = [tr.Problem(f"p{i}", f"What is {i} + {i}?", answer=str(2 * i)) for i in range(n)]
    for i in range(n):
        teacher.enqueue(f"{i} + {i} = {2 * i}", f"Answer: {2 * i}")
    return teacher.distill(problems)


def test_examples_render_through_the_student_format(tiny_base):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    trainer = tr.trainer("full", base=str(tiny_base), format="qwen-s1")
    rows = trainer.examples(_traces(2), tokenizer)
    assert rows[0]["prompt"].endswith("<|im_start|>assistant\n")
    # s1's text: the whole turn as the chat template renders it, "<|im_end|>\n" included.
    assert rows[0]["completion"] == (
        "<|im_start|>think\n0 + 0 = 0\n<|im_start|>answer\nAnswer: 0<|im_end|>\n"
    )


def test_a_token_or_step_conditional_student_trains_on_s1s_text(tiny_base):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_base)
    tcc = tr.trainer("full", base=str(tiny_base), format="qwen-s1", conditioning="tokens")
    n = len(tokenizer.encode("1 + 1 = 2", add_special_tokens=False))
    budget = 1 << max(0, (n - 1).bit_length())  # the length rounded up to a power of two
    prompt = tcc.examples(_traces(2), tokenizer)[1]["prompt"]
    assert f"What is 1 + 1?\n\nThink for up to {budget} tokens." in prompt
    scc = tr.trainer("full", base=str(tiny_base), format="qwen-s1", conditioning="steps")
    completion = scc.examples(_traces(2), tokenizer)[1]["completion"]
    assert "1 steps left\n1 + 1 = 2" in completion
    with pytest.raises(tr.ConfigError, match="conditioning"):
        tr.trainer("full", base=str(tiny_base), conditioning="words")


@pytest.mark.slow
def test_full_training_saves_a_student_that_reloads(tiny_base, tmp_path):
    import torch
    from transformers import AutoModelForCausalLM

    out = tmp_path / "student"
    student = tr.trainer(
        "full",
        base=str(tiny_base),
        format="qwen-s1",
        output_dir=str(out),
        max_steps=4,
        batch_size=4,
        per_device_batch_size=2,
        learning_rate=1e-2,
        logging_steps=1,
        progress=False,
    ).train(_traces())
    assert student.path == out and student.metrics["steps"] == 4
    assert student.hyperparameters["gradient_accumulation_steps"] == 2  # global batch kept at 4
    assert student.metrics["final_loss"] > 0
    assert [step for step, _ in student.metrics["loss_curve"]] == [1, 2, 3, 4]  # logging_steps=1
    assert student.metrics["loss_curve"][-1][1] == student.metrics["final_loss"]
    before = AutoModelForCausalLM.from_pretrained(tiny_base)
    after = AutoModelForCausalLM.from_pretrained(out)
    changed = [
        not torch.equal(a, b) for a, b in zip(before.parameters(), after.parameters(), strict=True)
    ]
    assert all(changed)
    manifest = json.loads((out / "tinyreason.json").read_text())
    assert manifest["format"]["name"] == "qwen-s1"
    loaded = tr.TrainedStudent.load(out)
    assert loaded.format == tr.chat_format("qwen-s1")
    assert loaded.backend().format.think_end == "<|im_start|>answer"
    # A backend built on the folder without format= reads it from tinyreason.json, not the
    # think-tags default (which would never see this student end its thinking).
    assert tr.backend("transformers", model=str(out)).format == tr.chat_format("qwen-s1")
    assert tr.backend("transformers", model=str(tiny_base)).format.name == "think-tags"


def test_bad_training_input_fails_before_any_compute(tiny_base):
    trainer = tr.trainer("full", base=str(tiny_base), format="think-tags")
    problems = tr.load_problems([{"question": "1+1?", "answer": "2"}])
    with pytest.raises(tr.DataError, match=r"lacks.*thinking_trajectories"):
        trainer.train(problems)
    teacher = tr.testing.FakeTeacher().enqueue("", "2")
    with pytest.raises(tr.DataError, match="no thinking or no answer"):
        trainer.train(teacher.distill([tr.Problem("p", "1+1?", answer="2")]))


def test_bad_options_are_reported_together():
    with pytest.raises(tr.ConfigError) as err:
        tr.trainer("full", base="x", max_steps=0, batch_size=6, per_device_batch_size=4)
    assert len(err.value.problems) == 2
    with pytest.raises(tr.ConfigError, match="no option 'lora_r'"):
        tr.trainer("full", base="x", lora_r=8)


def test_bf16_keeps_float32_master_weights_so_small_updates_land(tiny_base, tmp_path):
    # In pure bf16 an update smaller than 1/256 of a weight rounds away: at s1's lr of 1e-5 a
    # bf16 model measured 15.8% of its weights changed after one step. The full trainer keeps
    # float32 weights and computes in bf16 (autocast).
    trainer = tr.trainer(
        "full",
        base=str(tiny_base),
        format="think-tags",
        output_dir=str(tmp_path),
        bf16=True,
        max_steps=1,
        batch_size=8,
        per_device_batch_size=8,
        warmup_ratio=0.0,
        progress=False,
    )
    sft = trainer.sft_trainer(_traces())
    assert all(p.dtype == torch.float32 for p in sft.model.parameters())
    before = [p.detach().clone() for p in sft.model.parameters()]
    sft.train()
    after = list(sft.model.parameters())
    changed = sum(int((a != b).sum()) for a, b in zip(after, before, strict=True))
    assert changed / sum(p.numel() for p in before) > 0.95
    assert tr.trainer("lora", base=str(tiny_base), model_dtype="bfloat16").model_dtype == "bfloat16"
    with pytest.raises(tr.ConfigError, match="model_dtype must be one of"):
        tr.trainer("full", base=str(tiny_base), model_dtype="fp8")
