"""The Selection report: length statistics, the three-panel plot, and saving.

A saved selection is a folder (its layout: :mod:`tinyreason.records.saved`, which also reads it
back): ``kept/``, ``dropped.parquet``, ``selection.json`` (what a model card quotes),
``selection.png`` and the manifest. Every file is written whole and the manifest is sealed last.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import artifacts
from ..records.saved import (
    DROPPED_FILE,
    KEPT_DIR,
    PLOT_FILE,
    SELECTION_KIND,
    SELECTION_VERSION,
    SUMMARY_FILE,
)

if TYPE_CHECKING:
    import numpy as np

    from .base import Selection

__all__ = ["length_summary", "plot_selection", "save_selection"]


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


def save_selection(
    selection: Selection, folder: Path, *, plot: bool = True, overwrite: bool = False
) -> Path:
    """Write ``selection`` into ``folder`` whole, manifest last (see ``Selection.save``)."""
    folder = artifacts.prepare(folder, SELECTION_KIND, overwrite=overwrite)
    with artifacts.writing(folder / KEPT_DIR) as temp:
        selection.kept.save_to_disk(str(temp))
    with artifacts.writing(folder / DROPPED_FILE) as temp:
        selection.dropped.to_parquet(str(temp))
    summary = selection.summary()
    summary["format"] = "tinyreason.selection/1"
    artifacts.write_json(folder / SUMMARY_FILE, summary)
    if plot:
        with artifacts.writing(folder / PLOT_FILE) as temp:  # its name keeps the .png suffix
            plot_selection(selection, temp)
    elif (folder / PLOT_FILE).exists():
        (folder / PLOT_FILE).unlink()  # ours, from an earlier save: it would describe other rows
    artifacts.seal(folder, SELECTION_KIND, SELECTION_VERSION, meta={"kept": len(selection.kept)})
    return folder
