"""A Selection on the Hugging Face Hub: kept rows, dropped rows with reasons, the report as card.

The kept rows are the dataset's default config (``data/train.parquet``); every dropped row with its
stage and reason is the ``dropped`` config (``dropped/train.parquet``), so
``datasets.load_dataset(repo)`` gives the training rows and ``load_dataset(repo, "dropped")`` the
audit. The card is the selection's report (funnel, drop reasons, domains, trace sources and
lengths) under metadata the Hub reads, built with huggingface_hub's ``DatasetCard``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from .._secrets import scrub
from ..hub import dataset_card, parquet_operation, push, text_operation

if TYPE_CHECKING:
    from huggingface_hub import CommitOperationAdd, DatasetCard

    from .base import Selection

__all__ = ["push_selection", "selection_card", "selection_operations"]

KEPT_PATH = "data/train.parquet"
DROPPED_PATH = "dropped/train.parquet"
SUMMARY_PATH = "selection.json"


def selection_card(
    selection: Selection, *, license: str | None = None, source_datasets: tuple[str, ...] = ()
) -> DatasetCard:
    """The selection's report as a dataset card.

    Example:
        >>> from datasets import Dataset
        >>> from tinyreason.selection.base import Selection, Stage
        >>> sel = Selection(Dataset.from_dict({"id": ["a"], "question": ["1+1?"]}), (),
        ...                 (Stage("quality", 2, 1),))
        >>> card = selection_card(sel)
        >>> [c["config_name"] for c in card.data.configs], "| quality | 2 | 1 |" in card.text
        (['default', 'dropped'], True)
    """
    summary = selection.summary()
    lines = [
        "# Selected reasoning traces",
        "",
        f"{summary['kept']:,} rows kept by tinyreason's selection. The default config holds the "
        "kept rows; the `dropped` config holds every dropped row with the stage and the reason "
        "that dropped it.",
        "",
        "## Funnel",
        "",
        "| stage | in | out |",
        "|---|---|---|",
        *[f"| {name} | {rows_in} | {rows_out} |" for name, rows_in, rows_out in summary["funnel"]],
    ]
    if summary["dropped"]:
        lines += ["", "## Why rows were dropped", "", "| stage/reason | rows |", "|---|---|"]
        lines += [f"| {reason} | {n} |" for reason, n in summary["dropped"].items()]
    if summary["domains"]:
        top = list(summary["domains"].items())[:15]
        lines += ["", "## Kept domains (top 15)", "", "| domain | rows |", "|---|---|"]
        lines += [f"| {domain} | {n} |" for domain, n in top]
    if summary["traces"]:
        lines += ["", "## Trace sources", ""]
        lines += [f"* {source}: {n}" for source, n in summary["traces"].items()]
    lengths = summary["lengths"]
    if lengths.get("count"):
        lines += [
            "",
            "## Trace lengths",
            "",
            f"{lengths.get('source') or 'length'}: mean {lengths.get('mean', 0):,.0f}, "
            f"median {lengths.get('median', 0):,.0f}, max {lengths.get('max', 0):,.0f}.",
        ]
    lines += [
        "",
        "## Settings",
        "",
        "```json",
        json.dumps(summary["stages"], indent=2, default=str),
        "```",
    ]
    configs = [
        {"config_name": "default", "data_files": [{"split": "train", "path": KEPT_PATH}]},
        {"config_name": "dropped", "data_files": [{"split": "train", "path": DROPPED_PATH}]},
    ]
    text = scrub("\n".join(lines))  # a stage's settings could name a key: never publish one
    return dataset_card(
        text,
        tags=["reasoning", "distillation", "s1"],
        license=license,
        configs=configs,
        source_datasets=source_datasets,
    )


def selection_operations(
    selection: Selection, *, license: str | None = None, source_datasets: tuple[str, ...] = ()
) -> list[CommitOperationAdd]:
    """Everything ``push_to_hub`` commits: the two tables, the summary and the card."""
    card = selection_card(selection, license=license, source_datasets=source_datasets)
    summary = scrub(json.dumps(selection.summary(), indent=2, default=str))
    return [
        parquet_operation(selection.kept, KEPT_PATH),
        parquet_operation(selection.dropped, DROPPED_PATH),
        text_operation(summary + "\n", SUMMARY_PATH),
        text_operation(str(card), "README.md"),
    ]


def push_selection(
    selection: Selection,
    repo_id: str,
    *,
    private: bool = True,
    token: str | None = None,
    license: str | None = None,
    source_datasets: tuple[str, ...] = (),
    commit_message: str = "Upload a selection with tinyreason",
    endpoint: str | None = None,
) -> object:
    """``Selection.push_to_hub``: everything :func:`selection_operations` builds, in one commit.

    Args:
        selection: What to publish.
        repo_id: ``owner/name`` of the dataset repo (created if missing).
        private: Create it private (default) or public.
        token: A Hub token; None uses huggingface_hub's login (``HF_TOKEN``).
        license: The data's license for the card (the teacher's terms may apply).
        source_datasets: Hub datasets the rows came from, for the card.
        commit_message: The commit's message.
        endpoint: A Hub mirror or enterprise Hub (default: ``HF_ENDPOINT``'s).

    Returns:
        huggingface_hub's ``CommitInfo``.
    """
    operations = selection_operations(selection, license=license, source_datasets=source_datasets)
    return push(
        repo_id,
        operations,
        repo_type="dataset",
        private=private,
        token=token,
        commit_message=commit_message,
        endpoint=endpoint,
    )
