"""Where a row's reasoning trace is: the one reader of trace columns, s1K-1.1's two traces included.

Three published layouts hold traces, and every part of tinyreason reads them through this module:

* **s1K's** (``simplescaling/s1K``, ``s1K_tokenized``, our own Datasets): one trace per row in
  ``thinking_trajectories`` (a list of strings, joined with newlines) and ``attempt``.
* **s1K-1.1's** (``simplescaling/s1K-1.1``): two traces per row, DeepSeek-R1's
  (``deepseek_thinking_trajectory``, ``deepseek_attempt``) and Gemini's
  (``gemini_thinking_trajectory``, ``gemini_attempt``), each with a grade (``deepseek_grade`` /
  ``gemini_grade``, ``"Yes"`` or ``"No"``) and the grader's reason. ``trace_source="deepseek"``
  (the default, what s1.1 trained on) or ``"gemini"`` picks one; it is copied into
  ``thinking_trajectories`` / ``attempt``, so every stage reads it like s1K. The published
  columns, grades included, are kept as they are: filter on them as on any column.

Which trace a row carries is kept in the data, in the ``trace_source`` column: ``"deepseek"`` or
``"gemini"`` (s1K-1.1), ``"thinking_trajectories"`` (imported rows in s1K's layout, which do not
say who wrote them), or null for traces a teacher wrote here (``teacher`` says which).

Imported s1K-1.1 traces get ``teacher="imported"``, ``thinking_kind="raw"`` and the model s1
documents: ``"deepseek-r1"``, and ``"gemini-2.0-flash-thinking-exp"`` for Gemini's. Gemini's are
raw as well: that experimental API returned the model's thoughts themselves (s1's ``data/gemini.py``
takes ``parts[0]`` as the thinking), not the summaries today's Gemini API returns. Rows in s1K's
layout say nothing of their model, so they stay ``"unknown"`` (other sets share that layout).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import ConfigError, DataError

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = [
    "IMPORTED_SOURCE",
    "S1K_1_1_COLUMNS",
    "S1K_COLUMNS",
    "TRACE_SOURCES",
    "RowTrace",
    "carries_traces",
    "check_trace_source",
    "resolve_trace_source",
    "row_trace",
    "thinking_text",
    "with_traces",
]

#: ``simplescaling/s1K``'s columns, in its order (``s1K_tokenized`` adds ``text``).
S1K_COLUMNS = (
    "solution",
    "question",
    "cot_type",
    "source_type",
    "metadata",
    "cot",
    "thinking_trajectories",
    "attempt",
)
#: ``simplescaling/s1K-1.1``'s columns, in its order (every one a string).
S1K_1_1_COLUMNS = (
    "solution",
    "question",
    "cot_type",
    "source_type",
    "metadata",
    "gemini_thinking_trajectory",
    "gemini_attempt",
    "deepseek_thinking_trajectory",
    "deepseek_attempt",
    "gemini_grade",
    "gemini_grade_reason",
    "deepseek_grade",
    "deepseek_grade_reason",
)


class _Source(NamedTuple):
    thinking: str
    attempt: str
    model: str


_SOURCES = {
    "deepseek": _Source("deepseek_thinking_trajectory", "deepseek_attempt", "deepseek-r1"),
    "gemini": _Source(
        "gemini_thinking_trajectory", "gemini_attempt", "gemini-2.0-flash-thinking-exp"
    ),
}
#: The traces of an s1K-1.1 row that ``trace_source=`` can pick.
TRACE_SOURCES = tuple(_SOURCES)
#: ``trace_source`` of imported rows in s1K's layout (the column the trace was read from).
IMPORTED_SOURCE = "thinking_trajectories"


class RowTrace(NamedTuple):
    """One row's trace as every stage reads it.

    Example:
        >>> row_trace({"question": "1+1?", "thinking_trajectories": ["1+1=2"], "attempt": "2"})
        RowTrace(thinking='1+1=2', answer='2', trace_source='thinking_trajectories', \
teacher='imported', model='unknown', thinking_kind='unknown')
    """

    thinking: str
    answer: str
    trace_source: str | None
    teacher: str
    model: str
    thinking_kind: str


def check_trace_source(trace_source: str | None) -> str | None:
    """``trace_source`` if it is a valid choice (None: the default).

    Raises:
        ConfigError: any other value, listing the valid ones.

    Example:
        >>> check_trace_source("gemini")
        'gemini'
    """
    if trace_source is None or (isinstance(trace_source, str) and trace_source in _SOURCES):
        return trace_source
    raise ConfigError(
        f"trace_source must be one of {', '.join(map(repr, TRACE_SOURCES))} (s1K-1.1's "
        f"DeepSeek-R1 or Gemini traces) or None for the default, got {trace_source!r}"
    )


def resolve_trace_source(columns: Iterable[str], trace_source: str | None = None) -> str | None:
    """Which s1K-1.1 trace to read from a Dataset with ``columns``; None: read s1K's columns.

    ``trace_source=None`` keeps a trace already in ``thinking_trajectories`` / ``attempt`` (s1K,
    ours, or s1K-1.1 already loaded), else picks DeepSeek's when its columns are there, else
    Gemini's. A named source is always read from its own columns.

    Raises:
        ConfigError: ``trace_source`` is not a valid choice.
        DataError: a named source's columns are missing.

    Example:
        >>> resolve_trace_source(["question", "deepseek_thinking_trajectory", "deepseek_attempt"])
        'deepseek'
    """
    check_trace_source(trace_source)
    names = set(columns)
    have = [s for s, spec in _SOURCES.items() if {spec.thinking, spec.attempt} <= names]
    if trace_source is not None:
        if trace_source not in have:
            spec = _SOURCES[trace_source]
            raise DataError(
                f"trace_source={trace_source!r} reads the columns {spec.thinking!r} and "
                f"{spec.attempt!r} (s1K-1.1's layout), which this Dataset lacks; its columns are "
                f"{sorted(names)}. Leave trace_source unset for Datasets with one trace per row."
            )
        return trace_source
    if {"thinking_trajectories", "attempt"} <= names:
        return None
    return have[0] if have else None


def carries_traces(columns: Iterable[str]) -> bool:
    """Whether rows with ``columns`` hold a trace (s1K's columns, or an s1K-1.1 pair).

    Example:
        >>> carries_traces(["question", "answer"]), carries_traces(S1K_1_1_COLUMNS)
        (False, True)
    """
    names = set(columns)
    return {"thinking_trajectories", "attempt"} <= names or resolve_trace_source(names) is not None


def thinking_text(value: Any) -> str:
    """A thinking cell as one string: s1K's list of strings joined with newlines (empty skipped).

    Example:
        >>> thinking_text(["First.", "", "Second."]), thinking_text(None)
        ('First.\\nSecond.', '')
    """
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "\n".join(str(t) for t in value if t)
    return str(value)


def row_trace(row: Mapping[str, Any], trace_source: str | None = None) -> RowTrace:
    """The trace a row carries: its thinking, answer, and where they came from.

    Args:
        row: A row dict in s1K's layout, s1K-1.1's, or ours.
        trace_source: For s1K-1.1 rows: ``"deepseek"`` or ``"gemini"``; None (default) keeps a
            trace already in ``thinking_trajectories``, else DeepSeek's.

    Raises:
        ConfigError: ``trace_source`` is not a valid choice.
        DataError: the row has no trace (a problems row), or lacks the named source's columns.

    Example:
        >>> row = {"question": "1+1?", "deepseek_thinking_trajectory": "1+1=2",
        ...        "deepseek_attempt": "2", "gemini_thinking_trajectory": "one and one",
        ...        "gemini_attempt": "Two"}
        >>> row_trace(row).thinking, row_trace(row, "gemini").model
        ('1+1=2', 'gemini-2.0-flash-thinking-exp')
    """
    source = resolve_trace_source(row.keys(), trace_source)
    if source is not None:
        spec = _SOURCES[source]
        answer = row.get(spec.attempt)
        return RowTrace(
            thinking_text(row.get(spec.thinking)),
            thinking_text(answer),
            source,
            "imported",
            spec.model,
            "raw",
        )
    if "thinking_trajectories" not in row or "attempt" not in row:
        raise DataError(
            "the row has no thinking_trajectories/attempt columns (nor s1K-1.1's "
            "deepseek_/gemini_ ones): this is a problems Dataset, not a traces one. Distil it "
            "first: tr.teacher(...).distill(dataset)."
        )
    if "trace_source" in row:
        recorded = row.get("trace_source") or None
    else:  # imported rows in s1K's layout say no teacher; ours do
        recorded = None if row.get("teacher") else IMPORTED_SOURCE
    return RowTrace(
        thinking_text(row.get("thinking_trajectories")),
        row.get("attempt") or "",
        recorded,
        row.get("teacher") or "imported",
        row.get("teacher_model") or "unknown",
        row.get("thinking_kind") or "unknown",
    )


def with_traces(dataset: Dataset, trace_source: str | None = None) -> Dataset:
    """``dataset`` with its trace in s1K's columns and ``trace_source`` recorded.

    s1K-1.1 rows get the picked trace in ``thinking_trajectories`` (a one-item list, as s1K) and
    ``attempt``, plus ``trace_source``, ``teacher="imported"``, ``teacher_model`` and
    ``thinking_kind="raw"``; their published columns stay. Rows in s1K's layout without a
    ``teacher`` get ``trace_source="thinking_trajectories"``. Anything else is returned as it is.

    Args:
        dataset: A ``datasets.Dataset``.
        trace_source: ``"deepseek"`` or ``"gemini"`` for s1K-1.1 rows; None (default): a trace
            already picked stays, else DeepSeek's.

    Raises:
        ConfigError: ``trace_source`` is not a valid choice.
        DataError: ``trace_source`` names a source whose columns the Dataset lacks.

    Example:
        >>> from datasets import Dataset
        >>> ds = Dataset.from_dict({"question": ["1+1?"], "deepseek_thinking_trajectory": ["1+1=2"],
        ...     "deepseek_attempt": ["2"], "gemini_thinking_trajectory": ["one and one"],
        ...     "gemini_attempt": ["Two"]})
        >>> row = with_traces(ds, "gemini")[0]
        >>> row["thinking_trajectories"], row["attempt"], row["trace_source"]
        (['one and one'], 'Two', 'gemini')
    """
    from datasets import Value

    names = dataset.column_names
    source = resolve_trace_source(names, trace_source)
    n = len(dataset)
    if source is None:
        if (
            {"thinking_trajectories", "attempt"} <= set(names)
            and "trace_source" not in names
            and "teacher" not in names
        ):
            with _quiet():
                return dataset.add_column(
                    "trace_source", [IMPORTED_SOURCE] * n, feature=Value("string")
                )
        return dataset
    with _quiet():
        return _pick(dataset, source)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """No ``datasets`` progress bar (adding a column to a ``select`` view flattens it, with one)."""
    import datasets

    shown = not datasets.are_progress_bars_disabled()
    datasets.disable_progress_bars()
    try:
        yield
    finally:
        if shown:
            datasets.enable_progress_bars()


def _pick(dataset: Dataset, source: str) -> Dataset:
    """``dataset`` with s1K-1.1's ``source`` trace in s1K's columns (see :func:`with_traces`)."""
    from datasets import Sequence, Value

    spec = _SOURCES[source]
    picked = [
        row_trace(row, source) for row in dataset.select_columns([spec.thinking, spec.attempt])
    ]
    columns: dict[str, tuple[list[Any], Any]] = {
        "thinking_trajectories": ([[p.thinking] for p in picked], Sequence(Value("string"))),
        "attempt": ([p.answer for p in picked], Value("string")),
        "trace_source": ([p.trace_source for p in picked], Value("string")),
        "teacher": ([p.teacher for p in picked], Value("string")),
        "teacher_model": ([p.model for p in picked], Value("string")),
        "thinking_kind": ([p.thinking_kind for p in picked], Value("string")),
    }
    names = dataset.column_names
    stale = [c for c in columns if c in names]
    if stale:
        dataset = dataset.remove_columns(stale)
    for name, (values, feature) in columns.items():
        dataset = dataset.add_column(name, values, feature=feature)
    return dataset
