"""Packed and padding-free batches keep rows apart and train on the same tokens as padded ones.

TRL's padding-free collator flattens rows into one sequence and restarts ``position_ids`` at each
row; with sdpa on CPU, transformers turns those restarts into a block-diagonal mask. These tests
check it numerically on real batches from the trainer: the packed loss equals the sum of each row's
loss computed alone, and the trained tokens are exactly the completions.
"""

import pytest
import torch

import tinyreason as tr


def _segments(position_ids):
    starts = (position_ids == 0).nonzero().flatten().tolist()
    return list(zip(starts, [*starts[1:], position_ids.numel()], strict=True))


def _loss_sum(model, input_ids, labels, **kwargs):
    logits = model(input_ids=input_ids, use_cache=False, **kwargs).logits[0, :-1]
    return torch.nn.functional.cross_entropy(
        logits.float(), labels[0, 1:], ignore_index=-100, reduction="sum"
    )


@pytest.mark.parametrize("mode", ["packing", "padding_free"])
def test_packed_batches_keep_rows_apart_and_mask_prompts(tiny_base, make_traces, mode, tmp_path):
    trainer = tr.trainer(
        "full",
        base=str(tiny_base),
        format="think-tags",
        output_dir=str(tmp_path),
        batch_size=8,
        per_device_batch_size=8,
        block_size=512,
        max_steps=1,
        progress=False,
        **{mode: True},
    )
    traces = make_traces(8)
    sft = trainer.sft_trainer(traces)
    batch = next(iter(sft.get_train_dataloader()))
    assert "attention_mask" not in batch  # flattened: no padding at all
    ids, labels, pos = batch["input_ids"], batch["labels"], batch["position_ids"]
    segments = _segments(pos[0])
    assert len(segments) == 8  # every row in one sequence
    model = sft.model.eval()
    with torch.no_grad():
        packed = _loss_sum(model, ids, labels, position_ids=pos)
        alone = sum(_loss_sum(model, ids[:, a:b], labels[:, a:b]) for a, b in segments)
        leaky = _loss_sum(model, ids, labels)  # no position_ids: rows attend to each other
    assert torch.allclose(packed, alone, rtol=1e-5)
    assert not torch.allclose(leaky, alone, rtol=1e-3)  # the check above can fail

    # Trained tokens are exactly each row's completion: think start ... end of turn.
    tokenizer = sft.processing_class
    report = trainer.preflight(traces)
    assert int((labels != -100).sum()) == report.trained_tokens
    for a, b in segments:
        trained = labels[0, a:b][labels[0, a:b] != -100]
        text = tokenizer.decode(trained)
        assert text.startswith("<think>") and text.endswith("<|im_end|>\n")  # the whole turn
        assert "What is" not in text  # the prompt has no loss


def test_padding_free_refuses_rows_longer_than_the_block(tiny_base, make_traces):
    trainer = tr.trainer(
        "full", base=str(tiny_base), format="think-tags", block_size=48, padding_free=True
    )
    with pytest.raises(tr.ConfigError, match="padding_free=True without packing does not truncate"):
        trainer.preflight(make_traces(8))


def test_flash_attention_packing_needs_a_gpu(tiny_base, make_traces):
    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    trainer = tr.trainer(
        "full",
        base=str(tiny_base),
        format="think-tags",
        packing=True,
        attn_implementation="flash_attention_2",
    )
    with pytest.raises(tr.ConfigError, match="needs a CUDA GPU"):
        trainer.preflight(make_traces(4))
