"""What a trainer trains on: a traces Dataset, a Selection, or a path to either, checked first.

``train(dataset)`` takes a ``datasets.Dataset`` in the s1K schema, a Selection (its kept rows; its
funnel goes into the model card) or a path: a folder written by ``Selection.save``, a
``save_to_disk`` folder, a folder of data files, one file, or a hub dataset name
(:func:`load_traces`, which ``tinyreason train --data`` uses too). Anything else, and a path that
cannot be read, is a :class:`~tinyreason.errors.DataError` naming it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..errors import DataError, TinyReasonError

__all__ = ["load_traces", "training_data"]


def _load_from_disk(path: Path) -> Any:
    from datasets import load_from_disk

    try:
        loaded = load_from_disk(str(path))
    except TinyReasonError:
        raise
    except Exception as exc:  # datasets and pyarrow raise many kinds for a damaged folder
        raise DataError(
            f"{path}: the saved dataset cannot be read ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}); save it again with "
            "Dataset.save_to_disk."
        ) from None
    if hasattr(loaded, "keys"):  # a DatasetDict
        if "train" not in loaded:
            raise DataError(
                f"{path} holds the splits {sorted(loaded.keys())} and no 'train'; pass the "
                "folder of the split to train on."
            )
        return loaded["train"]
    return loaded


def load_traces(source: str | os.PathLike[str]) -> Any:
    """Traces from a saved Selection, a ``save_to_disk`` folder, data files, a file or a hub name.

    A folder written by ``Selection.save`` loads as that Selection, verified against its manifest:
    the trainer trains on its kept rows and the model card records its funnel.

    Raises:
        DataError: nothing readable there (an ArtifactError for a damaged saved Selection).

    Example:
        >>> load_traces("no/such/traces.jsonl")
        Traceback (most recent call last):
        ...
        tinyreason.errors.DataError: no such file: no/such/traces.jsonl
    """
    from ..data import load_problems
    from ..records.saved import is_saved_selection, read_selection

    path = Path(source)
    if path.is_dir() and is_saved_selection(path):
        return read_selection(path)
    if path.is_dir():
        if (path / "state.json").exists() or (path / "dataset_dict.json").exists():
            return _load_from_disk(path)
        files = sorted(
            f for ext in ("jsonl", "json", "parquet", "csv") for f in path.glob(f"*.{ext}")
        )
        if not files:
            raise DataError(
                f"{path} holds no dataset: save one with Dataset.save_to_disk, or put .jsonl / "
                ".json / .parquet / .csv files in it."
            )
        return load_problems([str(f) for f in files])
    return load_problems(str(source))


def training_data(dataset: Any, selection: Any = None) -> tuple[Any, Any]:
    """(rows, selection) from what a user passed to ``train``, checked before any compute.

    Raises:
        DataError: not a Dataset, a Selection or a path; a path that cannot be read; a
            ``selection`` that is not a Selection.

    Example:
        >>> training_data(None)
        Traceback (most recent call last):
        ...
        tinyreason.errors.DataError: train() needs traces: ... or a path to one; got None
    """
    from ..records import Selection
    from ..trace_columns import with_traces

    if isinstance(dataset, (str, os.PathLike)):
        dataset = load_traces(dataset)
    if isinstance(dataset, Selection):
        dataset, selection = dataset.kept, selection if selection is not None else dataset
    if selection is not None and not isinstance(selection, Selection):
        raise DataError(
            f"selection must be the Selection the rows came from (tr.select(...)), got "
            f"{type(selection).__name__}"
        )
    if hasattr(dataset, "keys") and hasattr(dataset, "column_names"):  # a DatasetDict
        raise DataError(
            f"train() got a DatasetDict with splits {sorted(dataset.keys())}; pass one split, "
            "e.g. ds['train']"
        )
    if not hasattr(dataset, "column_names") or not hasattr(dataset, "select_columns"):
        shown = "None" if dataset is None else type(dataset).__name__
        hint = (
            "; make a Dataset first: datasets.Dataset.from_list(rows)"
            if isinstance(dataset, (list, tuple))
            else ""
        )
        raise DataError(
            "train() needs traces: a datasets.Dataset in the s1K schema, a Selection "
            f"(tr.select(...)) or a path to one; got {shown}{hint}"
        )
    # A published set's own columns (s1K-1.1's deepseek_* / gemini_*) become the trace columns
    # every stage reads, DeepSeek's unless a trace was already picked.
    return with_traces(dataset), selection
