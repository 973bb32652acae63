"""Loading problems from anywhere into a Dataset; the public face of the s1K column schema.

:func:`load_problems` reads a Dataset, records or row dicts, local JSON / JSONL / Parquet / CSV
files or a hub dataset, and names the file and line that cannot be read. The column schema and the
records <-> ``datasets.Dataset`` conversion (:func:`to_dataset`, :func:`problems_from_dataset`,
:func:`traces_from_dataset`, :func:`as_problems`) live in :mod:`tinyreason._data_schema`; every
name of theirs is importable from here, as it always was.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._data_schema import (
    ANSWER_COLUMNS,
    ID_COLUMNS,
    PROBLEM_COLUMNS,
    QUESTION_COLUMNS,
    TRACE_COLUMNS,
    _features,
    _problem_row,
    as_problems,
    problems_from_dataset,
    to_dataset,
    traces_from_dataset,
)
from .errors import DataError
from .trace_columns import (
    S1K_1_1_COLUMNS,
    S1K_COLUMNS,
    TRACE_SOURCES,
    carries_traces,
    check_trace_source,
    with_traces,
)

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = [
    "ANSWER_COLUMNS",
    "ID_COLUMNS",
    "PROBLEM_COLUMNS",
    "QUESTION_COLUMNS",
    "S1K_1_1_COLUMNS",
    "S1K_COLUMNS",
    "TRACE_COLUMNS",
    "TRACE_SOURCES",
    "as_problems",
    "load_problems",
    "problems_from_dataset",
    "to_dataset",
    "traces_from_dataset",
]

# -- loading -----------------------------------------------------------------------------------

_FILE_BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet", ".csv": "csv"}


def load_problems(
    source: Any,
    split: str | None = None,
    *,
    question_column: str | None = None,
    answer_column: str | None = None,
    id_column: str | None = None,
    limit: int | None = None,
    trace_source: str | None = None,
    **load_kwargs: Any,
) -> Dataset:
    """Load problems into a Dataset with our columns (``id``, ``question``, ``answer``...).

    Args:
        source: A ``datasets.Dataset``, a list of Problems or dicts, a local JSON / JSONL / Parquet
            / CSV file (or a list of them), or a hub dataset name such as ``"simplescaling/s1K"``
            (needs the network; set ``HF_HUB_OFFLINE=1`` to fail fast offline).
        split: The split of a hub dataset or ``DatasetDict`` (default ``"train"``).
        question_column: The question's column, when it is not found automatically.
        answer_column: The short answer's column, likewise.
        id_column: The id's column, likewise.
        limit: Keep only the first ``limit`` rows.
        trace_source: Which of an s1K-1.1 row's traces to train on: ``"deepseek"`` (DeepSeek-R1's,
            what s1.1 used) or ``"gemini"``; None (default) keeps a trace already picked, else
            DeepSeek's. Other Datasets hold one trace a row: leave it unset.
        **load_kwargs: Passed to ``datasets.load_dataset`` (``revision=``, ``name=``...).

    Every original column is kept, so traces (s1K, s1K_tokenized, ours) load ready for selection
    and training; s1K-1.1 rows also get the picked trace in s1K's columns and ``trace_source``.

    Raises:
        ConfigError: ``trace_source`` is not ``"deepseek"``, ``"gemini"`` or None.
        DataError: the file is missing, of an unknown kind, empty, or has no question column; or
            ``trace_source`` names a trace the Dataset does not hold.

    Example:
        >>> ds = load_problems([{"problem": "1+1?", "answer": 2}])
        >>> ds.column_names[:3], ds[0]["answer"]
        (['id', 'question', 'answer'], '2')
        >>> row = {"question": "1+1?", "deepseek_thinking_trajectory": "1+1=2",
        ...        "deepseek_attempt": "2", "gemini_thinking_trajectory": "1 and 1",
        ...        "gemini_attempt": "2"}
        >>> load_problems([row], trace_source="gemini")[0]["thinking_trajectories"]
        ['1 and 1']
    """
    from datasets import Dataset, DatasetDict

    check_trace_source(trace_source)  # before any download
    dataset = _load_any(source, split, load_kwargs)
    if isinstance(dataset, DatasetDict):
        split = split or "train"
        if split not in dataset:
            raise DataError(f"no split {split!r}; the splits are {list(dataset)}")
        dataset = dataset[split]
    if limit is not None:
        dataset = dataset.select(range(min(limit, len(dataset))))
    if len(dataset) == 0:
        raise DataError(f"{source!r} holds no rows.")
    problems = problems_from_dataset(
        dataset, question_column=question_column, answer_column=answer_column, id_column=id_column
    )
    ours = Dataset.from_list([_problem_row(p) for p in problems], features=_features(False))
    # Keep every other column (trace columns, scores...) as it was.
    for name in dataset.column_names:
        if name not in ours.column_names:
            ours = ours.add_column(name, dataset[name], feature=dataset.features[name])
    return with_traces(ours, trace_source)


def _unreadable(paths: Sequence[Path], exc: BaseException) -> str:
    """Why the files could not be read, naming the file and (for JSON lines) the first bad line.

    Only called after a failure, so a good file is never read twice.
    """
    for path in paths:
        if path.suffix not in (".json", ".jsonl") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            json.loads(text)  # one JSON document (an array or an object) is fine as a whole
            continue
        except ValueError:
            pass
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as err:
                return (
                    f"{path} line {number} is not valid JSON ({err}); fix or remove that line "
                    "(a .jsonl file holds one JSON object per line)."
                )
            if not isinstance(row, dict):
                return (
                    f"{path} line {number} is a JSON {type(row).__name__}, not an object; each "
                    'line must be one object such as {"question": ..., "answer": ...}.'
                )
    names = [str(p) for p in paths]
    return (
        f"could not read {names} ({type(exc).__name__}: {exc}); check that each file is a "
        "well-formed .json/.jsonl/.parquet/.csv file with one problem per row."
    )


def _load_any(source: Any, split: str | None, load_kwargs: dict[str, Any]) -> Any:
    from datasets import Dataset, DatasetDict, load_dataset

    if isinstance(source, (Dataset, DatasetDict)):
        return source
    if isinstance(source, (list, tuple)) and not (source and isinstance(source[0], (str, Path))):
        if source and isinstance(source[0], Mapping) and carries_traces(source[0]):
            return Dataset.from_list([dict(r) for r in source])  # trace rows: every key kept
        problems = as_problems(source)  # an empty list fails here, saying so
        return Dataset.from_list([_problem_row(p) for p in problems], features=_features(False))
    sources = source if isinstance(source, (list, tuple)) else [source]
    paths = [Path(s) for s in sources if isinstance(s, (str, Path))]
    if len(paths) == len(sources) and all(p.suffix in _FILE_BUILDERS or p.exists() for p in paths):
        for p in paths:
            if not p.exists():
                raise DataError(f"no such file: {p}")
        kinds = {_FILE_BUILDERS.get(p.suffix) for p in paths}
        if None in kinds or len(kinds) != 1:
            raise DataError(
                f"cannot tell how to read {[str(p) for p in paths]}: use .json, .jsonl, "
                ".parquet or .csv files, all of one kind."
            )
        for p in paths:
            if p.is_file() and p.stat().st_size == 0:
                raise DataError(f"{p} is empty; give a file with one problem per row.")
        try:
            return load_dataset(kinds.pop(), data_files=[str(p) for p in paths], split="train")
        except Exception as exc:  # a malformed file: name the file and, for JSON, the line
            raise DataError(_unreadable(paths, exc)) from None
    if isinstance(source, str):
        try:
            return load_dataset(source, split=split or "train", **load_kwargs)
        except Exception as exc:  # offline, a typo, a gated dataset: say so plainly
            raise DataError(
                f"could not load {source!r} from the Hugging Face hub ({type(exc).__name__}: "
                f"{exc}). Check the name and your connection, or pass a local file."
            ) from exc
    raise DataError(f"cannot load problems from {type(source).__name__}: {source!r}")
