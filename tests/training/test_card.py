"""The model card and manifest: data fingerprint, teachers, selection funnel, hyperparameters."""

import json

from huggingface_hub import ModelCard

import tinyreason as tr
from tinyreason.training import data_manifest, fingerprint


def test_fingerprint_follows_the_rows_not_their_order_of_creation(make_traces):
    a, b = make_traces(4), make_traces(4)
    assert fingerprint(a) == fingerprint(b)
    assert fingerprint(a) != fingerprint(make_traces(5))
    manifest = data_manifest(a)
    assert manifest["rows"] == 4 and manifest["teacher"] == {"fake": 4}
    assert manifest["thinking_kind"] == {"raw": 4}


def test_card_records_data_selection_and_hyperparameters(tiny_base, traces, tmp_path):
    secret = "sk-do-not-leak-123"
    traces = traces.add_column("teacher_config", [f"api_key={secret}"] * len(traces))
    selection = tr.select(traces, tr.selector("quality"))
    out = tmp_path / "student"
    student = tr.trainer(
        "full",
        base=str(tiny_base),
        format="think-tags",
        output_dir=str(out),
        max_steps=1,
        batch_size=4,
        per_device_batch_size=4,
        progress=False,
    ).train(selection)  # a Selection trains on its kept rows and records its funnel
    card = (out / "README.md").read_text()
    parsed = ModelCard(card)  # built with huggingface_hub's card classes, and parsed back by them
    assert parsed.data.library_name == "transformers" and "tinyreason" in parsed.data.tags
    assert parsed.data.base_model is None  # a local folder is not a Hub id: not in the metadata
    assert f"Fine-tuned from `{tiny_base}`" in card
    assert f"fingerprint: `{fingerprint(selection.kept)}`" in card
    assert "teacher: fake" in card and "thinking kind: raw" in card
    assert "selection: kept" in card and "quality" in card
    assert "| `learning_rate` | 1e-05 |" in card and "| `gradient_accumulation_steps` | 1 |" in card
    assert "| `transformers` |" in card and "| `trl` |" in card
    assert secret not in card and "What is" not in card  # names only, never row contents
    manifest = json.loads((out / "tinyreason.json").read_text())
    assert manifest["data"]["selection"] == selection.summary()
    assert secret not in (out / "tinyreason.json").read_text()
    assert tr.TrainedStudent.load(out).data["fingerprint"] == student.data["fingerprint"]
