"""Preflight: token counts that match TRL's, and a clear error for each bad input before compute."""

import json
import warnings

import pytest

import tinyreason as tr
from tinyreason.training import SFTTrainerBase, TruncationWarning


@pytest.fixture
def no_compute(monkeypatch):
    """Any attempt to load the model fails the test: errors must come before any compute."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the bad input was reported")

    monkeypatch.setattr(SFTTrainerBase, "_load_model", refuse)


def _trainer(base, **options):
    options.setdefault("format", "think-tags")
    return tr.trainer("full", base=str(base), progress=False, **options)


def test_report_counts_what_trl_trains_on(tiny_base, traces, tmp_path):
    trainer = _trainer(tiny_base, output_dir=str(tmp_path), block_size=64, max_steps=3)
    with pytest.warns(TruncationWarning):  # 2 of 8 rows are longer than 64 tokens
        report = trainer.preflight(traces, gpu="A100")
        sft = trainer.sft_trainer(traces)
    rows = sft.train_dataset
    assert report.rows == len(rows) == 8 and report.truncated_rows == 2
    assert report.kept_tokens == sum(len(r["input_ids"]) for r in rows) < report.total_tokens
    assert report.trained_tokens == sum(sum(x != -100 for x in r["labels"]) for r in rows)
    assert report.prompt_tokens + report.completion_tokens == report.total_tokens
    assert report.row_tokens["min"] <= report.row_tokens["median"] <= report.row_tokens["max"]
    assert report.epochs == pytest.approx(3 * 16 / 8)  # max_steps x batch 16 / rows
    assert report.estimate.gpu == "A100" and report.estimate.gpu_hours > 0
    data = json.loads(report.to_json())
    assert data["estimate"]["peak_tflops"] == 312.0
    assert "Preflight: 8 rows, block 64 tokens, padded batches" in repr(report)


def test_truncation_above_five_percent_warns(tiny_base, make_traces):
    traces = make_traces(20, repeat=6)
    report = _trainer(tiny_base, block_size=4096).preflight(traces)
    longest = report.row_tokens["max"]
    with pytest.warns(TruncationWarning, match=r"longer than block_size .* AIME"):
        report = _trainer(tiny_base, block_size=int(longest) - 1).preflight(traces)
    assert 0 < report.truncated_fraction <= 0.2 and report.warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # under 5%: silent
        _trainer(tiny_base, block_size=int(longest)).preflight(traces)


def test_block_smaller_than_every_row(tiny_base, traces, no_compute):
    with pytest.raises(tr.ConfigError, match="shorter than every row"):
        _trainer(tiny_base, block_size=8).train(traces)


def test_rows_with_an_empty_loss_mask_fail(tiny_base, make_traces, no_compute):
    traces = make_traces(4)
    question = "What is " + "1 + " * 60 + "1?"
    teacher = tr.testing.FakeTeacher().enqueue("1 + 1 = 2.", "Answer: 2")
    long_row = teacher.distill([tr.Problem("long", question, answer="61")])
    from datasets import concatenate_datasets

    mixed = concatenate_datasets([traces, long_row])
    with pytest.raises(tr.DataError, match=r"1 row\(s\) would train on nothing.*rows 4"):
        _trainer(tiny_base, block_size=60).train(mixed)


def test_bad_input_is_reported_before_any_compute(tiny_base, traces, no_compute):
    with pytest.raises(tr.DataError, match="lacks"):
        _trainer(tiny_base).train(tr.load_problems([{"question": "1+1?", "answer": "2"}]))
    empty = tr.testing.FakeTeacher().enqueue("", "2").distill([tr.Problem("p", "1+1?")])
    with pytest.raises(tr.DataError, match="no thinking or no answer"):
        _trainer(tiny_base).train(empty)
    misfit = tr.students.formats.ThinkFormat("plain", "[think]", "[/think]")
    with pytest.raises(tr.ConfigError, match="does not start with a special token"):
        _trainer(tiny_base, format=misfit).train(traces)
    with pytest.raises(tr.ConfigError, match="end of turn"):
        bad_eot = tr.students.formats.think_tags(end_of_turn="the end")
        _trainer(tiny_base, format=bad_eot).train(traces)
    with pytest.raises(tr.ConfigError, match="no option 'lora_r'"):
        tr.trainer("full", base=str(tiny_base), lora_r=8)
    # Without a GPU: "needs a CUDA GPU"; on a GPU without bitsandbytes: "needs bitsandbytes".
    with pytest.raises(tr.ConfigError, match=r"qlora=True needs (a CUDA GPU|bitsandbytes)"):
        tr.trainer("lora", base=str(tiny_base), format="think-tags", qlora=True).train(traces)


def test_end_of_turn_outside_the_trained_span_is_fatal(tiny_base, traces, monkeypatch):
    # A format whose completion does not end with the tokenizer's end of turn.
    fmt = tr.students.formats.think_tags(end_of_turn="<|endoftext|>")
    trainer = _trainer(tiny_base, format=fmt)
    monkeypatch.setattr(type(fmt), "completion", lambda self, t, a, tok: self.assistant_text(t, a))
    with pytest.raises(tr.ConfigError, match="outside the trained span"):
        trainer.preflight(traces)
