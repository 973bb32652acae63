"""Publishing to the Hugging Face Hub through huggingface_hub: cards, commit operations, one push.

Every stage that publishes (``Selection.push_to_hub``, ``TrainedStudent.push_to_hub``, traces)
builds its card with huggingface_hub's own card classes (``DatasetCard`` / ``ModelCard`` with
their metadata: base_model, datasets, tags, license, eval results) and its files as commit
operations, then :func:`push` makes one commit. Building is separate from pushing, so what would
be published can be checked (and is tested) without the network.

The token comes from huggingface_hub (``huggingface-cli login`` or ``HF_TOKEN``) unless one is
passed; it is never written to a card, a log or a repr.

Example:
    >>> card = dataset_card("# My selection", tags=["s1"], license="apache-2.0")
    >>> card.data.tags, card.data.license
    (['tinyreason', 's1'], 'apache-2.0')
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError, TinyReasonError

if TYPE_CHECKING:
    from datasets import Dataset
    from huggingface_hub import CommitInfo, CommitOperationAdd, DatasetCard, ModelCard

__all__ = [
    "HubError",
    "dataset_card",
    "folder_operations",
    "model_card",
    "parquet_operation",
    "push",
    "text_operation",
]

#: Every card tinyreason writes carries this tag.
TAG = "tinyreason"


class HubError(TinyReasonError):
    """The Hub refused or could not be reached; the message says what it answered."""


def _tags(tags: Sequence[str]) -> list[str]:
    return [TAG, *[t for t in tags if t != TAG]]


def dataset_card(
    text: str,
    *,
    tags: Sequence[str] = (),
    license: str | None = None,
    configs: Sequence[Mapping[str, object]] = (),
    source_datasets: Sequence[str] = (),
) -> DatasetCard:
    """A dataset card: ``text`` under metadata the Hub reads (validated by huggingface_hub).

    Args:
        text: The card's Markdown body.
        tags: Tags besides ``tinyreason``.
        license: The data's license, if known (it is the data's, not tinyreason's).
        configs: The dataset's configs (``config_name``, ``data_files``), so the Hub and
            ``datasets.load_dataset(repo, name)`` find each table.
        source_datasets: Hub datasets the rows came from.
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    data = DatasetCardData(
        tags=_tags(tags),
        license=license,
        configs=[dict(c) for c in configs] or None,
        source_datasets=list(source_datasets) or None,
    )
    return DatasetCard(f"---\n{data.to_yaml()}\n---\n\n{text.strip()}\n")


def model_card(
    text: str,
    *,
    base_model: str | None = None,
    datasets: Sequence[str] = (),
    tags: Sequence[str] = (),
    license: str | None = None,
    eval_results: Sequence[Mapping[str, object]] = (),
    model_name: str | None = None,
) -> ModelCard:
    """A model card: ``text`` under metadata the Hub reads (validated by huggingface_hub).

    Args:
        text: The card's Markdown body.
        base_model: The model it was fine-tuned from (a Hub id; a local path is left out).
        datasets: Hub datasets it was trained on.
        tags: Tags besides ``tinyreason``.
        license: The model's license, if known.
        eval_results: Results to show on the model page, each with ``task_type``,
            ``dataset_type``, ``dataset_name``, ``metric_type``, ``metric_value``.
        model_name: The name shown with the results (required by the Hub when there are results).

    Example:
        >>> card = model_card("# s", base_model="Qwen/Qwen2.5-0.5B-Instruct", eval_results=[
        ...     {"task_type": "text-generation", "dataset_type": "aime24", "dataset_name": "AIME24",
        ...      "metric_type": "accuracy", "metric_value": 50.0}], model_name="s")
        >>> card.data.base_model, card.data.eval_results[0].metric_value
        ('Qwen/Qwen2.5-0.5B-Instruct', 50.0)
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    results = [EvalResult(**dict(r)) for r in eval_results]  # type: ignore[arg-type]
    if results and not model_name:
        raise ConfigError("a model card with eval results needs model_name=")
    data = ModelCardData(
        base_model=base_model if base_model and not Path(base_model).exists() else None,
        datasets=list(datasets) or None,
        tags=_tags(tags),
        license=license,
        library_name="transformers",
        eval_results=results or None,
        model_name=model_name,
    )
    return ModelCard(f"---\n{data.to_yaml()}\n---\n\n{text.strip()}\n")


def parquet_operation(dataset: Dataset, path_in_repo: str) -> CommitOperationAdd:
    """The rows of ``dataset`` as a Parquet file to add at ``path_in_repo``.

    Example:
        >>> from datasets import Dataset
        >>> op = parquet_operation(Dataset.from_dict({"a": [1]}), "data/train.parquet")
        >>> op.path_in_repo
        'data/train.parquet'
    """
    from huggingface_hub import CommitOperationAdd

    buffer = io.BytesIO()
    dataset.to_parquet(buffer)
    return CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=buffer.getvalue())


def text_operation(text: str, path_in_repo: str) -> CommitOperationAdd:
    """``text`` (UTF-8) as a file to add at ``path_in_repo`` (a card, a summary)."""
    from huggingface_hub import CommitOperationAdd

    return CommitOperationAdd(path_in_repo=path_in_repo, path_or_fileobj=text.encode("utf-8"))


def folder_operations(
    folder: str | Path, *, exclude: Sequence[str] = ()
) -> list[CommitOperationAdd]:
    """Every file under ``folder`` as an operation (paths relative to it), but ``exclude`` globs.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "a.txt").write_text("a"); (folder / "ck").mkdir()
        >>> _ = (folder / "ck" / "b.bin").write_text("b")
        >>> [op.path_in_repo for op in folder_operations(folder, exclude=["ck/*"])]
        ['a.txt']
    """
    from fnmatch import fnmatch

    from huggingface_hub import CommitOperationAdd

    root = Path(folder)
    ops = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not any(fnmatch(rel, pattern) for pattern in exclude):
            ops.append(CommitOperationAdd(path_in_repo=rel, path_or_fileobj=str(path)))
    return ops


def push(
    repo_id: str,
    operations: Sequence[CommitOperationAdd],
    *,
    repo_type: str,
    private: bool = True,
    token: str | bool | None = None,
    commit_message: str = "Upload with tinyreason",
    revision: str | None = None,
    endpoint: str | None = None,
) -> CommitInfo:
    """Create the repo if needed (private by default) and add ``operations`` in one commit.

    ``endpoint`` is a Hub mirror or an enterprise Hub (default: huggingface_hub's, which reads
    ``HF_ENDPOINT``).

    Raises:
        ConfigError: ``repo_id`` is not ``owner/name``.
        HubError: the Hub refused (the message holds its answer, never the token).
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    if not isinstance(repo_id, str) or repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise ConfigError(f"repo_id must be 'owner/name', got {repo_id!r}")
    api = HfApi(endpoint=endpoint, token=token)
    try:
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True)
        return api.create_commit(
            repo_id,
            list(operations),
            repo_type=repo_type,
            commit_message=commit_message,
            revision=revision,
        )
    except HfHubHTTPError as exc:
        raise HubError(f"the Hub refused the push to {repo_id}: {exc}") from None
    except OSError as exc:  # offline, DNS, refused connection
        raise HubError(
            f"cannot reach the Hub to push {repo_id} ({type(exc).__name__}: {exc}); check the "
            "connection, HF_ENDPOINT and HF_HUB_OFFLINE"
        ) from None
