"""Fast, column-wise reads of a Dataset for the selectors.

Iterating a 59K-row Dataset as dicts costs seconds (every column of every row is decoded); the
selectors instead read the few columns they need as Arrow arrays (which respects a Dataset's
indices mapping, so a ``ds.select(...)`` view reads only its rows) and work on them with Arrow
compute kernels and numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from datasets import Dataset

__all__ = [
    "add_columns",
    "arrow_column",
    "column_list",
    "has_text",
    "take_rows",
    "thinking_chars",
    "trace_lengths",
]

#: The column the difficulty stage writes trace lengths to, and the others read first.
TRACE_TOKENS = "trace_tokens"


def arrow_column(dataset: Dataset, name: str) -> pa.Array:
    """One column as a single Arrow array, in the Dataset's row order.

    Reads the Arrow table and applies the Dataset's indices mapping with one ``take``:
    ``dataset.with_format("arrow")[name]`` gathers a ``select`` view row by row in Python and
    deep-copies the Dataset first, which costs seconds on 59K rows.
    """
    table = getattr(dataset, "data", None)
    table = getattr(table, "table", table)
    indices = getattr(dataset, "_indices", None)
    if table is None or not hasattr(table, "column"):  # not an Arrow-backed Dataset: the slow way
        column = dataset.with_format("arrow")[name]
    else:
        column = table.column(name)
        if indices is not None:
            column = column.take(getattr(indices, "table", indices).column(0))
    return column.combine_chunks() if hasattr(column, "combine_chunks") else column


def take_rows(dataset: Dataset, indices: Sequence[int], tag: str) -> Dataset:
    """``dataset.select(indices)`` without hashing the index list into a fingerprint.

    ``datasets`` fingerprints a ``select`` by pickling its arguments (a second on 59K indices);
    a hash of the parent's fingerprint, ``tag`` and the indices' bytes identifies it as well.
    """
    import hashlib

    import numpy as np

    rows = np.asarray(indices, dtype=np.int64)
    digest = hashlib.sha256(f"{getattr(dataset, '_fingerprint', '')}|{tag}".encode())
    digest.update(rows.tobytes())
    return dataset.select(rows, new_fingerprint=digest.hexdigest()[:16])


def column_list(dataset: Dataset, name: str) -> list[Any]:
    """One column as a Python list (None for nulls)."""
    return arrow_column(dataset, name).to_pylist()  # type: ignore[no-any-return]


def has_text(array: pa.Array) -> np.ndarray:
    """Per row, whether a string column holds a non-whitespace character (null: False).

    A regex that stops at the first non-space character: linear in nothing but leading blanks,
    however long the text is.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_null(array.type):
        return np.zeros(len(array), dtype=bool)
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        flat = pc.list_flatten(array)
        parents = pc.list_parent_indices(array).to_numpy()
        hit = pc.fill_null(pc.match_substring_regex(flat, r"\S"), False).to_numpy(
            zero_copy_only=False
        )
        out = np.zeros(len(array), dtype=bool)
        out[parents[hit]] = True
        return out
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = pc.cast(array, pa.string())
    return pc.fill_null(pc.match_substring_regex(array, r"\S"), False).to_numpy(  # type: ignore[no-any-return]
        zero_copy_only=False
    )


def thinking_chars(array: pa.Array) -> np.ndarray:
    """Per row, the characters of a thinking column (a string or a list of strings)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_null(array.type):
        return np.zeros(len(array), dtype=np.int64)
    if pa.types.is_list(array.type) or pa.types.is_large_list(array.type):
        flat = pc.list_flatten(array)
        parents = pc.list_parent_indices(array).to_numpy()
        lengths = pc.fill_null(pc.utf8_length(flat), 0).to_numpy(zero_copy_only=False)
        return np.bincount(parents, weights=lengths, minlength=len(array)).astype(np.int64)
    return pc.fill_null(pc.utf8_length(array), 0).to_numpy(zero_copy_only=False).astype(np.int64)  # type: ignore[no-any-return]


def trace_lengths(dataset: Dataset, column: str | None = None) -> tuple[np.ndarray, str]:
    """Each row's trace length, and where it came from.

    In order: ``column`` if given; else ``trace_tokens`` (the difficulty stage's count in the
    student's tokenizer); else the teacher's ``usage.thinking_tokens`` where it is above zero,
    the thinking's characters elsewhere.

    Raises:
        DataError: ``column`` is not numeric, or no length can be found at all.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    names = dataset.column_names
    if column is None and TRACE_TOKENS in names:
        column = TRACE_TOKENS
    if column is not None:
        array = arrow_column(dataset, column)
        numeric = pa.types.is_integer(array.type) or pa.types.is_floating(array.type)
        if not numeric and not pa.types.is_null(array.type):
            raise DataError(
                f"the length column {column!r} must hold numbers, not {array.type}; pass "
                "length_column= naming a numeric column (e.g. trace_tokens)."
            )
        values = pc.fill_null(array, 0).to_numpy(zero_copy_only=False)
        return np.asarray(values, dtype=np.int64), column
    lengths = np.zeros(len(dataset), dtype=np.int64)
    source = "thinking characters"
    if "thinking_trajectories" in names:
        lengths = thinking_chars(arrow_column(dataset, "thinking_trajectories"))
    if "usage" in names:
        usage = arrow_column(dataset, "usage")
        if pa.types.is_struct(usage.type) and usage.type.get_field_index("thinking_tokens") >= 0:
            tokens = pc.fill_null(pc.struct_field(usage, "thinking_tokens"), 0)
            tokens = tokens.to_numpy(zero_copy_only=False).astype(np.int64)
            lengths = np.where(tokens > 0, tokens, lengths)
            source = "usage.thinking_tokens"
    if "thinking_trajectories" not in names and source != "usage.thinking_tokens":
        raise DataError(
            "no trace length to rank by: the Dataset has no trace_tokens, usage or "
            "thinking_trajectories column; pass length_column= naming a numeric column."
        )
    return lengths, source


def add_columns(dataset: Dataset, columns: dict[str, Any]) -> Dataset:
    """``dataset`` with ``columns`` added, replacing any of the same name.

    Built in Arrow (the rows of a ``select`` view are taken once), so it shows no progress bar
    and keeps the other columns' features.
    """
    import hashlib
    import uuid

    import pyarrow as pa
    from datasets import Dataset, Features
    from datasets.info import DatasetInfo
    from datasets.table import InMemoryTable

    table = getattr(dataset.data, "table", dataset.data)
    indices = getattr(dataset, "_indices", None)
    if indices is not None:
        table = table.take(getattr(indices, "table", indices).column(0))
    features = {k: v for k, v in dataset.features.items() if k not in columns}
    table = table.drop_columns([name for name in columns if name in table.column_names])
    for name, values in columns.items():
        array = values if isinstance(values, (pa.Array, pa.ChunkedArray)) else pa.array(values)
        table = table.append_column(name, array)
        features[name] = Features.from_arrow_schema(pa.schema([table.schema.field(name)]))[name]
    info = DatasetInfo(features=Features(features))
    # New values: a fresh random fingerprint, as datasets gives any in-memory table.
    digest = hashlib.sha256(f"{getattr(dataset, '_fingerprint', '')}|add|{list(columns)}".encode())
    digest.update(uuid.uuid4().bytes)
    table = table.replace_schema_metadata(None)
    return Dataset(InMemoryTable(table), info=info, fingerprint=digest.hexdigest()[:16])
