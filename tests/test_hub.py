"""Publishing to the Hub through huggingface_hub: cards it parses, and a push it makes for real
to a loopback Hub (``tinyreason.testing.hub_server``), offline."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pyarrow.parquet as pq
import pytest
from datasets import Dataset
from huggingface_hub import DatasetCard, ModelCard, constants

from tinyreason.errors import ConfigError
from tinyreason.hub import HubError, model_card, push, text_operation
from tinyreason.selection.base import Selection, Stage
from tinyreason.selection.hub import selection_card
from tinyreason.testing.hub_server import HubServer

TOKEN = "hf_secretsecretsecretsecret0123"


@pytest.fixture
def selection() -> Selection:
    kept = Dataset.from_dict({"id": ["a", "b"], "question": ["1+1?", "2+2?"], "domain": ["x", "y"]})
    audit = Dataset.from_dict(
        {"id": ["c"], "question": ["?"], "stage": ["quality"], "reason": ["empty"], "detail": [""]}
    )
    return Selection(kept, (audit,), (Stage("quality", 3, 2, {"require_correct": True}),))


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch) -> Iterator[HubServer]:
    # The loopback Hub is on this machine: let huggingface_hub talk to it in the offline suite.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    with HubServer() as server:
        yield server


def test_the_selection_card_is_one_huggingface_hub_parses(selection: Selection) -> None:
    card = DatasetCard(str(selection_card(selection, license="mit")))
    assert card.data.license == "mit"
    assert "tinyreason" in card.data.tags
    configs = {c["config_name"]: c["data_files"][0]["path"] for c in card.data.configs}
    assert configs == {"default": "data/train.parquet", "dropped": "dropped/train.parquet"}
    assert "| quality | 3 | 2 |" in card.text and "| quality/empty | 1 |" in card.text


def test_a_selection_is_pushed_whole_in_one_commit(hub: HubServer, selection: Selection) -> None:
    info = selection.push_to_hub("me/s1k-mine", token=TOKEN, endpoint=hub.base_url)
    repo = hub.repos["datasets/me/s1k-mine"]
    assert repo.private and len(repo.commits) == 1 and info.oid
    assert sorted(repo.files) == [
        "README.md",
        "data/train.parquet",
        "dropped/train.parquet",
        "selection.json",
    ]
    kept = pq.read_table(io.BytesIO(repo.files["data/train.parquet"])).to_pylist()
    assert kept == selection.kept.to_list()
    dropped = pq.read_table(io.BytesIO(repo.files["dropped/train.parquet"])).to_pylist()
    assert [r["reason"] for r in dropped] == ["empty"]
    # The token went to the Hub, and nowhere into what was published.
    assert set(hub.tokens) == {TOKEN}
    assert not any(TOKEN.encode() in data for data in repo.files.values())


def test_a_model_card_carries_hub_metadata_and_results() -> None:
    card = model_card(
        "# my student",
        base_model="Qwen/Qwen2.5-0.5B-Instruct",
        datasets=["simplescaling/s1K-1.1"],
        eval_results=[
            {
                "task_type": "text-generation",
                "dataset_type": "aime24",
                "dataset_name": "AIME24",
                "metric_type": "accuracy",
                "metric_value": 26.7,
            }
        ],
        model_name="my-student",
    )
    parsed = ModelCard(str(card))
    assert parsed.data.base_model == "Qwen/Qwen2.5-0.5B-Instruct"
    assert parsed.data.datasets == ["simplescaling/s1K-1.1"]
    assert parsed.data.eval_results[0].metric_value == 26.7
    with pytest.raises(ConfigError, match="model_name"):
        model_card(
            "# x",
            eval_results=[
                dict(
                    task_type="t",
                    dataset_type="d",
                    dataset_name="d",
                    metric_type="m",
                    metric_value=1.0,
                )
            ],
        )


def test_a_local_base_model_path_is_not_published_as_base_model(tmp_path) -> None:
    assert model_card("# x", base_model=str(tmp_path)).data.base_model is None


def test_push_refuses_a_bad_repo_id_and_says_when_offline() -> None:
    with pytest.raises(ConfigError, match="owner/name"):
        push("no-owner", [text_operation("x", "a.txt")], repo_type="dataset")
    # The suite runs with HF_HUB_OFFLINE=1: the push fails clearly, naming the repo.
    with pytest.raises(HubError, match="me/x"):
        push("me/x", [text_operation("x", "a.txt")], repo_type="dataset", token=TOKEN)


def test_a_refused_push_is_a_hub_error_without_the_token(hub: HubServer) -> None:
    hub.accept = {"hf_another_token"}  # the Hub does not know this token
    with pytest.raises(HubError, match="refused the push to me/x") as err:
        push(
            "me/x",
            [text_operation("x", "a.txt")],
            repo_type="dataset",
            token=TOKEN,
            endpoint=hub.base_url,
        )
    assert TOKEN not in str(err.value)
    assert "me/x" not in hub.repos
