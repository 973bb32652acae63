"""Fast, column-wise reads of a Dataset for the selectors.

Iterating a 59K-row Dataset as dicts costs seconds (every column of every row is decoded); the
selectors instead read the few columns they need as Arrow arrays (which respects a Dataset's
indices mapping, so a ``ds.select(...)`` view reads only its rows) and work on them with Arrow
compute kernels and numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa
    from datasets import Dataset

__all__ = [
    "LENGTHS",
    "add_columns",
    "arrow_column",
    "check_length",
    "column_list",
    "count_tokens",
    "has_text",
    "take_rows",
    "thinking_chars",
    "thinking_texts",
    "tokenizer_label",
    "trace_lengths",
]

#: The column the difficulty stage writes trace lengths to, and the others read first.
TRACE_TOKENS = "trace_tokens"
#: How a trace's length is counted: the thinking in the student's tokenizer (s1), or billed.
LENGTHS = ("tokenizer", "billed")


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


def count_tokens(tokenizer: Any, texts: Sequence[str]) -> list[int]:
    """The number of tokens of each text.

    Args:
        tokenizer: A Hugging Face tokenizer, its name or folder, or a function from a text to its
            token count.
        texts: The texts.

    Raises:
        ConfigError: ``tokenizer`` is none of those.

    Example:
        >>> count_tokens(lambda text: len(text.split()), ["one two", "three"])
        [2, 1]
    """
    if isinstance(tokenizer, str):
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(tokenizer)
    if hasattr(tokenizer, "encode") and callable(tokenizer):
        counts: list[int] = []
        for start in range(0, len(texts), 256):  # batched: fast tokenizers run in Rust
            batch = list(texts[start : start + 256])
            ids = tokenizer(batch, add_special_tokens=False)["input_ids"]
            counts.extend(len(x) for x in ids)
        return counts
    if callable(tokenizer):
        return [int(tokenizer(t)) for t in texts]
    raise ConfigError(
        f"tokenizer must be a Hugging Face tokenizer, its name or folder, or a function from a "
        f"text to its token count, got {type(tokenizer).__name__}"
    )


def tokenizer_label(tokenizer: Any) -> str:
    """How a tokenizer is named in reports: ``tokenizer:<name or folder>``."""
    if isinstance(tokenizer, str):
        name = tokenizer
    else:
        name = getattr(tokenizer, "name_or_path", None) or getattr(
            tokenizer, "__name__", type(tokenizer).__name__
        )
    return f"tokenizer:{name}"


def check_length(length: Any, tokenizer: Any, length_column: str | None = None) -> list[str]:
    """Problems with a selector's ``length`` / ``tokenizer`` / ``length_column`` settings."""
    problems = []
    if length not in LENGTHS:
        problems.append(
            f"length must be one of {', '.join(map(repr, LENGTHS))} ('tokenizer': the thinking's "
            f"tokens in tokenizer=, as s1; 'billed': the teacher's usage.thinking_tokens), got "
            f"{length!r}"
        )
    elif length == "billed" and tokenizer is not None:
        problems.append("tokenizer= only applies to length='tokenizer'; drop one of the two.")
    if length_column is not None and tokenizer is not None:
        problems.append("pass length_column= (stored lengths) or tokenizer= (count), not both.")
    if tokenizer is not None and not (isinstance(tokenizer, str) or callable(tokenizer)):
        problems.append(
            "tokenizer must be a Hugging Face tokenizer, its name or folder, or a function from a "
            f"text to its token count, got {type(tokenizer).__name__}"
        )
    return problems


def thinking_texts(dataset: Dataset) -> list[str]:
    """Each row's thinking as one string (s1K's list joined with newlines)."""
    from ..trace_columns import thinking_text

    return [thinking_text(t) for t in column_list(dataset, "thinking_trajectories")]


def trace_lengths(
    dataset: Dataset,
    column: str | None = None,
    *,
    length: str = "tokenizer",
    tokenizer: Any = None,
) -> tuple[np.ndarray, str]:
    """Each row's trace length, and which count it is (the label reports show).

    s1 ranks by the thinking's length in the student's (Qwen's) tokenizer (``gemini_length`` in
    its ``data/featurization.py``), so that is the default:

    * ``column`` given: that numeric column (label: its name);
    * ``length="tokenizer"`` (default): the thinking counted with ``tokenizer`` (label
      ``tokenizer:<name>``); without one, a stored ``trace_tokens`` column (label
      ``trace_tokens``), else the thinking's characters (label ``characters``: no tokenizer is
      guessed; characters order traces nearly as tokens do, without ties);
    * ``length="billed"``: the teacher's ``usage.thinking_tokens`` (label
      ``usage.thinking_tokens``), characters / 4 for rows without it. Billed tokens count hidden
      reasoning too (Gemini and Claude bill the thinking they summarise), not the text trained on.

    Raises:
        DataError: ``column`` is not numeric, or there is no thinking to measure.
        ConfigError: ``length`` or ``tokenizer`` is not valid.

    Example:
        >>> from datasets import Dataset
        >>> ds = Dataset.from_dict({"thinking_trajectories": [["a b c d e"], ["a b"]]})
        >>> lengths, label = trace_lengths(ds, tokenizer=lambda text: len(text.split()))
        >>> lengths.tolist(), label
        ([5, 2], 'tokenizer:<lambda>')
        >>> trace_lengths(ds)[0].tolist(), trace_lengths(ds)[1]
        ([9, 3], 'characters')
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    problems = check_length(length, tokenizer, column)
    if problems:
        raise ConfigError(problems)
    names = dataset.column_names
    if column is None and tokenizer is None and length == "tokenizer" and TRACE_TOKENS in names:
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
    billed = None
    if length == "billed" and "usage" in names:
        usage = arrow_column(dataset, "usage")
        if pa.types.is_struct(usage.type) and usage.type.get_field_index("thinking_tokens") >= 0:
            billed = pc.fill_null(pc.struct_field(usage, "thinking_tokens"), 0)
            billed = billed.to_numpy(zero_copy_only=False).astype(np.int64)
    if "thinking_trajectories" not in names and billed is None:
        raise DataError(
            "no trace length to rank by: the Dataset has no thinking_trajectories (nor "
            f"{'usage' if length == 'billed' else 'trace_tokens'}) column. Read s1K-1.1 rows "
            "through tr.select or tr.load_problems, or pass length_column= naming a numeric column."
        )
    if tokenizer is not None:
        counts = count_tokens(tokenizer, thinking_texts(dataset)) if len(dataset) else []
        return np.asarray(counts, dtype=np.int64), tokenizer_label(tokenizer)
    chars = (
        thinking_chars(arrow_column(dataset, "thinking_trajectories"))
        if "thinking_trajectories" in names
        else np.zeros(len(dataset), dtype=np.int64)
    )
    if length == "billed":  # rows billed nothing: characters / 4 rounded up, on the tokens' scale
        billed = billed if billed is not None else np.zeros(len(dataset), dtype=np.int64)
        return np.where(billed > 0, billed, -(-chars // 4)), "usage.thinking_tokens"
    return chars.astype(np.int64), "characters"


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
