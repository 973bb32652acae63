"""Auditable selection: every selector keeps rows and says why it dropped each of the others.

Selectors compose: ``tr.select(ds, quality, difficulty, diversity)`` or
``(quality >> difficulty >> diversity).select(ds)``; the :class:`Selection` they return holds the
kept Dataset, an audit table of every dropped row (id, question, stage, reason, detail) and the
funnel of counts per stage, like s1's 59,029 -> 51,581 -> 24,496 -> 1,000. It reports the kept
rows' domain and length distributions, plots them, and saves itself next to the kept Dataset.

Reason codes are short and few (``api_error``, ``format:asymptote``, ``solved:qwen-7b``,
``contaminated:aime24``, ``not_sampled``...), so they can be counted; the ``detail`` column says
more about the one row (the matched 8-gram, the duplicate's id, what a solver answered).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError
from ..records import AUDIT_COLUMNS, Stage
from ..records import Selection as SelectionRecord

if TYPE_CHECKING:
    import numpy as np
    from datasets import Dataset

    from ..interfaces import Selector

__all__ = [
    "AUDIT_COLUMNS",
    "Chain",
    "Composable",
    "Selection",
    "Stage",
    "drop_table",
    "require_columns",
    "select",
    "selection_from_decisions",
]


class Selection(SelectionRecord):
    """The result of selection, with its report: summary, distributions, plot, save and load.

    The record (:class:`tinyreason.records.Selection`: kept rows, audit tables, funnel) is what
    the Selector protocol returns; ``tr.select`` returns this class, whose methods read it.

    Example:
        >>> import tinyreason as tr
        >>> ds = tr.teacher("arithmetic", error_rate=0.5, seed=1).distill(
        ...     tr.demo.task.make_problems(20, seed=0), cache=False, progress=False)
        >>> sel = tr.select(ds, tr.selector("quality", require_correct=True))
        >>> len(sel.kept) + len(sel.dropped) == 20
        True
        >>> sel.summary()["funnel"]
        [['quality', 20, 9]]
    """

    def reasons(self) -> Counter[tuple[str, str]]:
        """How many rows each (stage, reason) dropped."""
        from ._columns import column_list

        counts: Counter[tuple[str, str]] = Counter()
        for d in self.drops:
            counts.update(zip(column_list(d, "stage"), column_list(d, "reason"), strict=True))
        return counts

    # -- distributions --------------------------------------------------------------------------

    def domain_column(self) -> str | None:
        """The column the kept rows' domains are read from: the last stage's, else a default."""
        for stage in reversed(self.stages):
            column = stage.info.get("domain_column")
            if column and column in self.kept.column_names:
                return str(column)
        return next((c for c in ("domain", "cot_type") if c in self.kept.column_names), None)

    def domains(self, column: str | None = None) -> Counter[str]:
        """How many kept rows each domain has (``column``, else :meth:`domain_column`)."""
        from ._columns import column_list

        column = column or self.domain_column()
        if column is None:
            return Counter()
        return Counter(str(v) if v is not None else "" for v in column_list(self.kept, column))

    def lengths(self, column: str | None = None) -> np.ndarray:
        """The kept rows' trace lengths: ``trace_tokens``, else the thinking's characters."""
        import numpy as np

        from ._columns import trace_lengths

        if len(self.kept) == 0:
            return np.zeros(0, dtype=np.int64)
        try:
            return trace_lengths(self.kept, column)[0]
        except DataError:
            return np.zeros(0, dtype=np.int64)

    def length_source(self) -> str | None:
        """Which count :meth:`lengths` holds; None without traces.

        ``"trace_tokens (tokenizer:<name>)"`` (s1's count), ``"trace_tokens
        (usage.thinking_tokens)"``, ``"characters"`` (no tokenizer given, none stored)...
        """
        from ._columns import TRACE_TOKENS, trace_lengths

        try:
            source = trace_lengths(self.kept)[1]
        except DataError:
            return None
        if source == TRACE_TOKENS:  # say what the stage that wrote it counted
            counted = next(
                (s.info[source] for s in reversed(self.stages) if source in s.info), None
            )
            if counted and counted != TRACE_TOKENS:
                source = f"{source} ({counted})"
        return source

    def trace_sources(self) -> Counter[str]:
        """How many kept rows carry each trace (which trace the rows train on).

        Read from the ``trace_source`` column (s1K-1.1's ``deepseek`` / ``gemini``,
        ``thinking_trajectories`` for s1K), else the ``teacher`` that wrote the trace.

        Example:
            >>> from datasets import Dataset
            >>> Selection(Dataset.from_dict({"trace_source": ["deepseek"] * 3})).trace_sources()
            Counter({'deepseek': 3})
        """
        from ._columns import column_list

        names = self.kept.column_names
        n = len(self.kept)
        sources = column_list(self.kept, "trace_source") if "trace_source" in names else [None] * n
        teachers = column_list(self.kept, "teacher") if "teacher" in names else [None] * n
        if "trace_source" not in names and "teacher" not in names:
            return Counter()
        return Counter(str(s or t or "unknown") for s, t in zip(sources, teachers, strict=True))

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary for model cards and run reports.

        Keys: ``kept``, ``funnel`` (``[stage, in, out]``), ``dropped`` (``"stage/reason": n``),
        ``stages`` (each stage's settings), ``domains`` (kept rows per domain, largest first),
        ``traces`` (kept rows per trace source, :meth:`trace_sources`) and ``lengths`` (the kept
        traces' length statistics, a 20-bin histogram, and ``source``: which count).
        """
        from .report import length_summary

        domains = self.domains()
        lengths = length_summary(self.lengths())
        lengths["source"] = self.length_source()
        return {
            "kept": len(self.kept),
            "funnel": [[s.name, s.rows_in, s.rows_out] for s in self.stages],
            "dropped": {f"{s}/{r}": n for (s, r), n in sorted(self.reasons().items())},
            "stages": [{"name": s.name, **dict(s.info)} for s in self.stages],
            "domain_column": self.domain_column(),
            "domains": dict(domains.most_common()),
            "traces": dict(self.trace_sources().most_common()),
            "lengths": lengths,
        }

    # -- output ---------------------------------------------------------------------------------

    def plot(self, path: str | Path | None = None, *, top_domains: int = 30) -> Any:
        """Plot the funnel, the kept domains and the kept trace lengths side by side.

        Args:
            path: Where to save a PNG; None returns the matplotlib Figure instead.
            top_domains: Domains shown (the rest are summed as "other").

        Returns:
            The path written, or the Figure.
        """
        from .report import plot_selection

        return plot_selection(self, path, top_domains=top_domains)

    def save(self, folder: str | Path, *, plot: bool = True, overwrite: bool = False) -> Path:
        """Save the kept Dataset, the audit table, the summary and the plot into ``folder``.

        Writes ``kept/`` (``datasets.load_from_disk`` reads it), ``dropped.parquet`` (the audit
        table), ``selection.json`` (:meth:`summary` plus the stages), ``selection.png`` and
        ``tinyreason-manifest.json`` (each file's size and hash, sealed last), each file whole.
        :meth:`load` reads them back and verifies them.

        Args:
            folder: Where to save; a new or empty folder, or one a previous save wrote.
            plot: Also draw ``selection.png``.
            overwrite: Save into a non-empty folder tinyreason did not write (only the files
                above are replaced; the folder's other files are left alone).

        Returns:
            The folder.

        Raises:
            FolderNotOursError: ``folder`` holds files tinyreason did not write (and not
                ``overwrite``); nothing is written.
        """
        from .report import save_selection

        return save_selection(self, Path(folder), plot=plot, overwrite=overwrite)

    def push_to_hub(self, repo_id: str, **options: Any) -> Any:
        """Publish the kept rows, the dropped rows with reasons and the report to the Hub.

        One commit through huggingface_hub: the kept rows as the default config, the audit table
        as the ``dropped`` config, the report as the card. Options (``private=True``, ``token``,
        ``license``, ``source_datasets``, ``commit_message``, ``endpoint``):
        :func:`tinyreason.selection.hub.push_selection`.

        Raises:
            HubError: the Hub refused or could not be reached.
        """
        from .hub import push_selection

        return push_selection(self, repo_id, **options)

    @classmethod
    def load(cls, folder: str | Path) -> Selection:
        """Read back a Selection written by :meth:`save`, after verifying every file.

        Raises:
            ArtifactError: the folder holds no saved Selection, its save did not finish, a file
                is missing or damaged (named), or a newer tinyreason wrote it.
        """
        from ..records.saved import read_selection

        return read_selection(Path(folder), cls)

    def __repr__(self) -> str:
        lines = [f"Selection: kept {len(self.kept)} rows"]
        traces = self.trace_sources()
        if traces:
            lines.append("  traces: " + ", ".join(f"{k} ({n})" for k, n in traces.most_common()))
        source = self.length_source() if len(self.kept) else None
        if source:
            lines.append(f"  lengths: {source}")
        reasons = self.reasons()
        for s in self.stages:
            lines.append(f"  {s.name:<20} {s.rows_in:>8} -> {s.rows_out:<8}")
            for (stage, reason), n in sorted(reasons.items(), key=lambda x: -x[1]):
                if stage == s.name:
                    lines.append(f"    dropped {n:>7}  {reason}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td>{html.escape(s.name)}</td><td>{s.rows_in}</td><td>{s.rows_out}</td></tr>"
            for s in self.stages
        )
        return (
            f"<p>Selection: kept <b>{len(self.kept)}</b> rows</p><table><thead><tr><th>stage</th>"
            f"<th>in</th><th>out</th></tr></thead><tbody>{rows}</tbody></table>"
        )


def drop_table(
    dataset: Dataset,
    indices: Sequence[int],
    stage: str,
    reasons: Sequence[str],
    details: Sequence[str] | None = None,
) -> Dataset:
    """The audit rows for ``indices`` of ``dataset`` dropped by ``stage``.

    Example:
        >>> from datasets import Dataset
        >>> ds = Dataset.from_dict({"id": ["a", "b"], "question": ["1+1?", "2+2?"]})
        >>> list(drop_table(ds, [1], "quality", ["api_error"])["reason"])
        ['api_error']
    """
    import pyarrow as pa
    from datasets import Dataset
    from datasets.table import InMemoryTable

    from ._columns import arrow_column

    take = pa.array(list(indices), type=pa.int64())

    def texts(name: str) -> pa.Array:
        if name not in dataset.column_names:
            return None
        return arrow_column(dataset, name).take(take).cast(pa.string())

    ids = texts("id")
    questions = texts("question")
    n = len(take)
    table = pa.table(
        {
            "id": ids if ids is not None else pa.array([str(i) for i in indices], pa.string()),
            "question": questions if questions is not None else pa.array([""] * n, pa.string()),
            "stage": pa.array([stage] * n, pa.string()),
            "reason": pa.array(list(reasons), pa.string()),
            "detail": pa.array(list(details) if details is not None else [""] * n, pa.string()),
        }
    )
    # A fingerprint of our own: datasets would otherwise hash the whole table to make one.
    fingerprint = _fingerprint(dataset, f"drops|{stage}|{n}")
    return Dataset(InMemoryTable(table), fingerprint=fingerprint)


def _fingerprint(dataset: Dataset, tag: str) -> str:
    import hashlib

    seed = f"{getattr(dataset, '_fingerprint', '')}|{tag}"
    return hashlib.sha256(seed.encode()).hexdigest()[:16]


def selection_from_decisions(
    dataset: Dataset,
    stage: str,
    decisions: Sequence[str | None],
    kept_order: Sequence[int] | None = None,
    details: Sequence[str] | None = None,
    info: Mapping[str, Any] | None = None,
) -> Selection:
    """Build a Selection from one reason-or-None per row (None keeps the row).

    Args:
        dataset: The stage's input.
        stage: The stage's name.
        decisions: Per row, the reason it is dropped, or None to keep it.
        kept_order: The kept rows in the order to keep them (default: input order).
        details: Per row, more about the decision (the audit's ``detail``); default empty.
        info: What the stage wants remembered in the report (JSON-friendly).

    Example:
        >>> from datasets import Dataset
        >>> ds = Dataset.from_dict({"id": ["a", "b", "c"], "question": ["x", "y", "z"]})
        >>> sel = selection_from_decisions(ds, "demo", [None, "too_easy", None])
        >>> list(sel.kept["id"]), list(sel.dropped["reason"])
        (['a', 'c'], ['too_easy'])
    """
    if len(decisions) != len(dataset):
        raise DataError(
            f"stage {stage!r} made {len(decisions)} decisions for {len(dataset)} rows; "
            "a selector must decide every row once."
        )
    kept = (
        list(kept_order)
        if kept_order is not None
        else [i for i, d in enumerate(decisions) if d is None]
    )
    dropped = [i for i, d in enumerate(decisions) if d is not None]
    drops = (
        (
            drop_table(
                dataset,
                dropped,
                stage,
                [decisions[i] for i in dropped],  # type: ignore[misc]
                [details[i] or "" for i in dropped] if details is not None else None,
            ),
        )
        if dropped
        else ()
    )
    from ._columns import take_rows

    return Selection(
        take_rows(dataset, kept, stage),
        drops,
        (Stage(stage, len(dataset), len(kept), dict(info or {})),),
    )


def require_columns(dataset: Dataset, stage: str, columns: Sequence[str], added_by: str) -> None:
    """Raise a DataError naming the missing columns and which stage adds them."""
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise DataError(
            f"selector {stage!r} needs the column(s) {missing}, which this Dataset lacks; "
            f"{added_by}"
        )


class Composable:
    """Mixin giving selectors ``a >> b`` composition.

    A plugin's selector need not inherit it: ``ours >> yours`` and ``yours >> ours`` both chain
    (the second through ``__rrshift__``); two plugin selectors chain with
    ``tr.select(ds, a, b)``.
    """

    def __rshift__(self, other: Selector) -> Chain:
        return Chain((*_flatten(self), *_flatten(other)))

    def __rrshift__(self, other: Selector) -> Chain:
        return Chain((*_flatten(other), *_flatten(self)))


def _flatten(selector: Any) -> tuple[Any, ...]:
    return selector.selectors if isinstance(selector, Chain) else (selector,)


@dataclass(frozen=True)
class Chain(Composable):
    """Selectors applied one after another, each to the rows the previous kept.

    Example:
        >>> import tinyreason as tr
        >>> chain = tr.selector("quality") >> tr.selector("diversity", k=10)
        >>> len(chain.selectors)
        2
    """

    selectors: tuple[Any, ...]

    def select(self, dataset: Dataset) -> Selection:
        """Run every selector in turn."""
        return select(dataset, *self.selectors)


def _check_select_inputs(
    dataset: object, selectors: Sequence[object], trace_source: object
) -> None:
    """What ``tr.select`` was given, checked before any selector runs."""
    from datasets import Dataset

    from ..interfaces import Selector as SelectorProtocol
    from ..options import check_value
    from ..trace_columns import check_trace_source

    if isinstance(dataset, (str, Path)):
        raise DataError(
            f"tr.select got the path or name {str(dataset)!r}, not a Dataset; load it first: "
            "tr.load_problems(path) for traces, tr.Selection.load(folder) for a saved selection."
        )
    if not isinstance(dataset, Dataset):
        raise DataError(
            f"tr.select selects from a datasets.Dataset of traces, got {type(dataset).__name__}; "
            "make one with teacher.distill(...) or tr.load_problems(...)."
        )
    if not selectors:
        raise DataError("tr.select needs at least one selector, e.g. tr.selector('quality').")
    problems = [
        problem
        for i, s in enumerate(selectors, start=1)
        if (problem := check_value(s, SelectorProtocol, f"selector {i}", where="tr.select"))
    ]
    if problems:
        raise ConfigError(problems)
    check_trace_source(trace_source)  # type: ignore[arg-type]  # says which values are valid


def select(dataset: Dataset, *selectors: Selector, trace_source: str | None = None) -> Selection:
    """Run selectors one after another and return the combined, auditable Selection.

    Args:
        dataset: A traces Dataset: ours, s1K's layout, or s1K-1.1's (read as it is).
        *selectors: Selector objects (``tr.selector(...)``), chains (``a >> b``), or anything
            with ``select(ds)``.
        trace_source: Which of an s1K-1.1 row's traces to select and train on: ``"deepseek"``
            or ``"gemini"``; None (default) keeps a trace already picked, else DeepSeek's. The
            kept rows' ``trace_source`` column says which (``summary()["traces"]``).

    Raises:
        ConfigError: ``trace_source`` is not a valid choice.
        DataError: no selectors, the Dataset is empty, or it lacks the named trace.

    Example:
        >>> import tinyreason as tr
        >>> ds = tr.teacher("arithmetic", seed=1).distill(
        ...     tr.demo.task.make_problems(30, seed=0), cache=False, progress=False)
        >>> sel = tr.select(ds, tr.selector("quality"), tr.selector("diversity", k=10))
        >>> [s.rows_out for s in sel.stages]
        [30, 10]
    """
    _check_select_inputs(dataset, selectors, trace_source)
    if len(dataset) == 0:
        raise DataError("the Dataset to select from is empty.")
    if hasattr(dataset, "column_names"):
        from ..trace_columns import with_traces

        dataset = with_traces(dataset, trace_source)  # s1K-1.1's picked trace, in s1K's columns
    result = Selection(dataset, (), ())
    for selector in selectors:
        result = result.then(selector.select(result.kept))
    return result
