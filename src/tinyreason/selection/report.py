"""The Selection report: length statistics, the three-panel plot, saving and loading.

A saved selection is a folder::

    kept/              the kept Dataset (datasets.load_from_disk reads it)
    dropped.parquet    the audit table: id, question, stage, reason, detail of every dropped row
    selection.json     Selection.summary(): funnel, reasons, stage settings, domains, trace
                       sources, lengths (and which count they are)
    selection.png      funnel + kept domains + kept trace lengths

``selection.json`` is what a model card quotes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError

if TYPE_CHECKING:
    import numpy as np

    from .base import Selection

__all__ = ["length_summary", "load_selection", "plot_selection", "save_selection"]

SUMMARY_FILE = "selection.json"
KEPT_DIR = "kept"
DROPPED_FILE = "dropped.parquet"
PLOT_FILE = "selection.png"


def length_summary(lengths: np.ndarray, bins: int = 20) -> dict[str, Any]:
    """Statistics and a histogram of trace lengths, JSON-friendly.

    Example:
        >>> import numpy as np
        >>> s = length_summary(np.array([100, 200, 300, 400]), bins=2)
        >>> s["median"], s["histogram"]["counts"]
        (250.0, [2, 2])
    """
    import numpy as np

    if len(lengths) == 0:
        return {"count": 0}
    values = np.asarray(lengths, dtype=np.float64)
    counts, edges = np.histogram(values, bins=bins)
    return {
        "count": len(values),
        "min": float(values.min()),
        "p25": float(np.percentile(values, 25)),
        "median": float(np.median(values)),
        "mean": round(float(values.mean()), 1),
        "p75": float(np.percentile(values, 75)),
        "max": float(values.max()),
        "histogram": {"edges": [round(float(e), 1) for e in edges], "counts": counts.tolist()},
    }


def plot_selection(selection: Selection, path: str | Path | None, *, top_domains: int = 30) -> Any:
    """Funnel, domain bar chart and length histogram in one figure (see ``Selection.plot``)."""
    # The object-oriented API, not pyplot: no GUI backend, no global figure state.
    from matplotlib.figure import Figure

    fig = Figure(figsize=(16, 5), layout="constrained")
    funnel, domains, lengths = fig.subplots(1, 3, width_ratios=[1, 1.4, 1])

    names = ["input"] + [s.name for s in selection.stages]
    counts = ([selection.stages[0].rows_in] if selection.stages else [len(selection.kept)]) + [
        s.rows_out for s in selection.stages
    ]
    bars = funnel.barh(range(len(names)), counts, color="#4C72B0")
    funnel.set_yticks(range(len(names)), names)
    funnel.invert_yaxis()
    funnel.bar_label(bars, labels=[f"{c:,}" for c in counts], padding=3, fontsize=8)
    funnel.set_xlabel("rows")
    funnel.set_title("Funnel")
    funnel.margins(x=0.25)

    counter = selection.domains()
    common = counter.most_common(top_domains)
    rest = sum(counter.values()) - sum(n for _, n in common)
    if rest:
        common.append((f"other ({len(counter) - len(common)})", rest))
    labels = [label[:40] or "(none)" for label, _ in common]
    domains.barh(range(len(common)), [n for _, n in common], color="#55A868")
    domains.set_yticks(range(len(common)), labels, fontsize=7)
    domains.invert_yaxis()
    domains.set_xlabel("kept rows")
    domains.set_title(f"Domains ({selection.domain_column() or 'none'}): {len(counter)}")

    values = selection.lengths()
    if len(values):
        lengths.hist(values, bins=30, color="#C44E52")
        median = float(sorted(values)[len(values) // 2])
        lengths.axvline(median, color="black", linestyle="--", linewidth=1)
        lengths.set_title(f"Trace lengths (median {median:,.0f})")
    else:
        lengths.set_title("Trace lengths (none)")
    lengths.set_xlabel(selection.length_source() or "length")
    lengths.set_ylabel("kept rows")
    traces = selection.trace_sources()
    named = ", ".join(f"{k} ({n:,})" for k, n in traces.most_common(3))
    fig.suptitle(
        f"Selection: kept {len(selection.kept):,} rows" + (f"; traces: {named}" if named else "")
    )
    if path is None:
        return fig
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def save_selection(selection: Selection, folder: Path, *, plot: bool = True) -> Path:
    """Write ``selection`` into ``folder`` (see ``Selection.save``)."""
    folder.mkdir(parents=True, exist_ok=True)
    selection.kept.save_to_disk(str(folder / KEPT_DIR))
    selection.dropped.to_parquet(str(folder / DROPPED_FILE))
    summary = selection.summary()
    summary["format"] = "tinyreason.selection/1"
    (folder / SUMMARY_FILE).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if plot:
        plot_selection(selection, folder / PLOT_FILE)
    return folder


def load_selection(folder: Path) -> Selection:
    """Read a folder written by :func:`save_selection` back into a Selection."""
    from datasets import Dataset, load_from_disk

    from .base import Selection, Stage

    summary_path = folder / SUMMARY_FILE
    if not summary_path.is_file() or not (folder / KEPT_DIR).is_dir():
        raise DataError(
            f"{folder} holds no saved Selection (no {SUMMARY_FILE} and {KEPT_DIR}/); write one "
            "with selection.save(folder)."
        )
    summary = json.loads(summary_path.read_text())
    kept = load_from_disk(str(folder / KEPT_DIR))
    dropped_path = folder / DROPPED_FILE
    dropped = None
    if dropped_path.is_file():
        import pyarrow.parquet as pq
        from datasets.table import InMemoryTable

        # Not Dataset.from_parquet: it refuses a file with no rows ("corresponds to no data"),
        # which is what a selection that dropped nothing writes.
        table = pq.read_table(str(dropped_path))
        dropped = Dataset(InMemoryTable(table)) if table.num_rows else None
    infos = [{k: v for k, v in s.items() if k != "name"} for s in summary.get("stages", [])]
    infos += [{}] * (len(summary["funnel"]) - len(infos))
    stages = tuple(
        Stage(name, rows_in, rows_out, info)
        for (name, rows_in, rows_out), info in zip(summary["funnel"], infos, strict=False)
    )
    drops = (dropped,) if dropped is not None and len(dropped) else ()
    return Selection(kept, drops, stages)  # type: ignore[arg-type]
