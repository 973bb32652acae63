"""A trained student on the Hub: its card (huggingface_hub parses it back), the commit's files, and
a real push through huggingface_hub to a loopback Hub, downloaded again and loaded, offline."""

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from huggingface_hub import ModelCard, constants

import tinyreason as tr
from tinyreason import Generation, Problem, Solution, artifacts
from tinyreason.evaluation.report import Report, SettingResult
from tinyreason.hub import HubError
from tinyreason.testing.hub_server import HubServer
from tinyreason.training import TrainedStudent
from tinyreason.training.hub import publish_card, student_operations

TOKEN = "hf_secretsecretsecretsecret0123"


def _report(benchmark="aime24", source="hub:HuggingFaceH4/aime_2024@abc123 (train)"):
    """A two-budget report built by hand: 0% at budget 8, 50% at budget 64."""
    problems = [Problem("p1", "1+1?", "2"), Problem("p2", "2+2?", "4")]

    def setting(budget, correct):
        sols = [Solution(p.id, "2", (Generation("2", "", "2", budget, 1),)) for p in problems]
        return SettingResult(
            f"budget={budget}", budget, (0, budget), problems, sols, correct, [[c] for c in correct]
        )

    manifest = {"benchmark_source": {"source": source}}
    return Report(benchmark, [setting(8, [False, False]), setting(64, [True, False])], manifest)


@pytest.fixture(scope="module")
def student(tiny_base, make_traces, tmp_path_factory):
    """A tiny student with tensorboard logs, a checkpoint and a file of the user's beside it."""
    out = tmp_path_factory.mktemp("hub") / "student"
    trained = tr.trainer(
        "full",
        base=str(tiny_base),
        format="think-tags",
        output_dir=str(out),
        max_steps=1,
        batch_size=4,
        per_device_batch_size=4,
        save_steps=1,
        report_to="tensorboard",
        logging_steps=1,
        progress=False,
    ).train(make_traces(4))
    (out / "notes.txt").write_text("my own notes, not the student's")
    return trained


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    # The loopback Hub is on this machine: let huggingface_hub talk to it in the offline suite.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with HubServer() as server:
        yield server


def test_the_training_card_is_one_huggingface_hub_parses(student):
    card = ModelCard((student.path / "README.md").read_text())
    assert card.data.library_name == "transformers"
    assert card.data.tags == ["tinyreason", "s1", "reasoning", "sft", "trl"]
    assert card.data.base_model is None  # a local folder is no Hub id: left out of the metadata
    assert f"fingerprint: `{student.data['fingerprint']}`" in card.text
    assert "| `report_to` | tensorboard |" in card.text and "| `trl` |" in card.text


def test_the_published_card_carries_hub_metadata_and_eval_results():
    s = TrainedStudent(
        Path("runs/s"),
        "qwen-s1",
        "Qwen/Qwen2.5-0.5B-Instruct",
        {"steps": 5.0, "final_loss": 0.5},
        {"trainer": "full", "format": "qwen-s1", "learning_rate": 1e-5},
        {"fingerprint": "ab12", "rows": 1000},
    )
    text = str(
        publish_card(
            s,
            "my-s1",
            reports=[_report()],
            datasets=["me/s1k-mine"],
            license="apache-2.0",
            tags=["math"],
        )
    )
    card = ModelCard(text)  # huggingface_hub's own parser, model-index included
    assert card.data.base_model == "Qwen/Qwen2.5-0.5B-Instruct"
    assert card.data.datasets == ["me/s1k-mine"] and card.data.license == "apache-2.0"
    assert card.data.tags[0] == "tinyreason" and "math" in card.data.tags
    assert card.data.model_name == "my-s1" and card.text.lstrip().startswith("# my-s1")
    results = {r.metric_config: r for r in card.data.eval_results}
    assert {k: r.metric_value for k, r in results.items()} == {"budget=8": 0.0, "budget=64": 50.0}
    first = results["budget=64"]
    assert (first.dataset_type, first.dataset_split, first.dataset_revision) == (
        "HuggingFaceH4/aime_2024",
        "train",
        "abc123",
    )
    assert first.dataset_name == "aime24" and first.metric_type == "accuracy"
    assert "| aime24 | budget=64 | 50.0 |" in card.text
    # A benchmark read from a file is named, not linked.
    local = ModelCard(str(publish_card(s, "x", reports=[_report("mine", "mine.jsonl")])))
    assert local.data.eval_results[0].dataset_type == "mine"
    with pytest.raises(tr.ConfigError, match=r"tr\.evaluate Reports"):
        publish_card(s, "x", reports=["aime24"])


def test_the_commit_holds_the_sealed_student_without_checkpoints(student):
    folder = student.path
    assert any(p.name.startswith("checkpoint-") for p in folder.iterdir())
    sealed = artifacts.read_manifest(folder)
    ops = {
        op.path_in_repo: op for op in student_operations(student, "tiny-s1", reports=[_report()])
    }
    assert set(ops) == set(sealed.files) | {"README.md", artifacts.MANIFEST}
    assert not any(name.startswith("checkpoint-") or name == "notes.txt" for name in ops)
    assert any(name.startswith("runs/") for name in ops)  # the tensorboard logs go too
    # The published manifest lists the published card, everything else as sealed.
    published = json.loads(ops[artifacts.MANIFEST].path_or_fileobj)
    card = ops["README.md"].path_or_fileobj
    assert published["files"]["README.md"]["size"] == len(card)
    assert {k: v for k, v in published["files"].items() if k != "README.md"} == {
        k: {"size": v.size, "sha256": v.sha256} for k, v in sealed.files.items() if k != "README.md"
    }
    assert ModelCard(card.decode()).data.eval_results[0].dataset_name == "aime24"
    # The folder itself is left as it was.
    assert artifacts.read_manifest(folder) == sealed


def test_a_student_is_pushed_whole_and_loads_back(student, hub, tmp_path):
    info = student.push_to_hub(
        "me/tiny-s1", token=TOKEN, reports=[_report()], endpoint=hub.base_url
    )
    repo = hub.repos["models/me/tiny-s1"]
    assert repo.private and len(repo.commits) == 1 and info.oid
    assert "model.safetensors" in repo.files and "tinyreason.json" in repo.files
    # What a user downloads verifies and loads as the folder does.
    copy = tmp_path / "download"
    for name, data in repo.files.items():
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes(data)
    loaded = TrainedStudent.load(copy)
    assert loaded.data["fingerprint"] == student.data["fingerprint"]
    assert ModelCard((copy / "README.md").read_text()).data.eval_results
    # The token went to the Hub only: not into a file, a card or the student's repr.
    assert set(hub.tokens) == {TOKEN}
    assert not any(TOKEN.encode() in data for data in repo.files.values())
    assert TOKEN not in repr(student)


def test_a_damaged_or_unsealed_student_is_refused_before_the_network(student, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(student.path, copy, ignore=shutil.ignore_patterns("checkpoint-*"))
    (copy / "tinyreason.json").write_text("{}")
    with pytest.raises(tr.ArtifactError, match=r"tinyreason\.json"):
        TrainedStudent(copy, student.format, student.base).push_to_hub("me/x", token=TOKEN)
    (copy / artifacts.MANIFEST).unlink()
    with pytest.raises(tr.ArtifactError, match="no tinyreason manifest"):
        TrainedStudent(copy, student.format, student.base).push_to_hub("me/x", token=TOKEN)
    with pytest.raises(tr.ConfigError, match="owner/name"):
        student.push_to_hub("no-owner", token=TOKEN)


def test_offline_the_push_fails_clearly(student, monkeypatch):
    # Offline (as the suite runs), huggingface_hub refuses, and the error names the repo.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(HubError, match="me/tiny"):
        student.push_to_hub("me/tiny", token=TOKEN)
