"""How a Report is shown: its text table, its HTML table (notebooks) and its scaling plot.

Each view starts with how the run was graded (the manifest's ``"evaluation"`` entry), then one
row per budget: accuracy with its 95% interval, pass@1 (and pass@n, maj@n when ``n > 1`` samples
were drawn), the unparsed share when answers were recorded, mean thinking tokens, problems; then
s1's Control / Scaling / Performance. The plot draws accuracy (with its intervals) against mean
thinking tokens. :class:`~tinyreason.evaluation.report.Report`'s ``repr``, ``_repr_html_`` and
``plot`` call these.

Example:
    >>> from tinyreason import Generation, Problem, Solution
    >>> from tinyreason.evaluation.report import Report, SettingResult
    >>> g = (Generation("4", "", "4", 3, 1),)
    >>> setting = SettingResult("budget=8", 8, (0, 8), [Problem("p", "2+2?", "4")],
    ...                         [Solution("p", "4", g)], [True], [[True]])
    >>> print(text(Report("toy", [setting], {"evaluation": {"grader": "math-verify"}})))
    Report: toy
    grader: math-verify
    setting          accuracy  95% CI            pass@1  thinking     n
    budget=8           100.0%  [100.0, 100.0]     100.0%       3.0     1
    s1 metrics: Control 100%  Scaling n/a points/token  Performance 100%
"""

from __future__ import annotations

import html
import json
import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from .report import Report

__all__ = ["html_table", "plot", "text"]


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3g}"


def _evaluation_lines(report: Report) -> list[tuple[str, str]]:
    """(label, text) pairs saying how the run was graded, for the text and HTML views."""
    settings = report.evaluation
    lines = []
    if settings.get("prompt_template") is not None:
        template = json.dumps(settings["prompt_template"])
        lines.append(("prompt", f"{settings.get('prompt', '')} {template}".strip()))
        if settings.get("chat_template"):
            lines[-1] = ("prompt", f"{lines[-1][1]}, {settings['chat_template']}")
    for key in ("extraction", "grader"):
        if settings.get(key):
            lines.append((key, str(settings[key])))
    if "max_new_tokens" in settings:
        budget = settings["max_new_tokens"]
        lines.append(("max_new_tokens", "sized by the scaler" if budget is None else str(budget)))
    return lines


def _pool_columns(report: Report) -> list[str]:
    """The pass@k / maj@k columns worth a glance: pass@1, then pass@n and maj@n if n > 1."""
    n = min(s.samples for s in report.settings) if report.settings else 1
    extra = [f"pass@{n}", f"maj@{n}"] if n > 1 else []
    return ["pass@1", *extra]


def text(report: Report) -> str:
    """The report as a plain-text table (its ``repr``)."""
    columns = _pool_columns(report)
    table = report.table()
    unparsed = bool(table) and all("unparsed" in row for row in table)
    header = f"{'setting':<16}{'accuracy':>9}  {'95% CI':<15}" + "".join(f"{c:>9}" for c in columns)
    header += f"{'unparsed':>9}" if unparsed else ""
    lines = [f"Report: {report.benchmark}"]
    for label, said in _evaluation_lines(report):
        lines.append(
            textwrap.fill(said, 100, initial_indent=f"{label}: ", subsequent_indent="    ")
        )
    lines.append(header + f"{'thinking':>10}{'n':>6}")
    for row in table:
        lo, hi = row["ci95"]
        pool = "".join(f"{row.get(c, math.nan):>8.1f}%" for c in columns)
        pool += f"{row['unparsed']:>8.1f}%" if unparsed else ""
        lines.append(
            f"{row['setting']:<16}{row['accuracy']:>8.1f}%  [{lo:5.1f}, {hi:5.1f}]  {pool}"
            f"{row['thinking_tokens']:>10.1f}{row['problems']:>6}"
        )
    m = report.metrics
    lines.append(
        f"s1 metrics: Control {100 * m.control:.0f}%  Scaling {_fmt(m.scaling)} "
        f"points/token  Performance {_fmt(m.performance)}%"
    )
    return "\n".join(lines)


def html_table(report: Report) -> str:
    """The report as an HTML table (what a notebook shows)."""
    columns = _pool_columns(report)
    if report.table() and all("unparsed" in row for row in report.table()):
        columns = [*columns, "unparsed"]
    cells = "".join(
        "<tr>"
        f"<td>{html.escape(r['setting'])}</td><td>{r['accuracy']:.1f}%</td>"
        f"<td>[{r['ci95'][0]:.1f}, {r['ci95'][1]:.1f}]</td>"
        + "".join(f"<td>{r.get(c, math.nan):.1f}%</td>" for c in columns)
        + f"<td>{r['thinking_tokens']:.1f}</td><td>{r['problems']}</td></tr>"
        for r in report.table()
    )
    heads = "".join(f"<th>{c}</th>" for c in columns)
    m = report.metrics
    settings = "".join(
        f"<br><i>{html.escape(label)}</i>: {html.escape(said)}"
        for label, said in _evaluation_lines(report)
    )
    return (
        f"<p><b>{html.escape(report.benchmark)}</b>{settings}</p><table><thead><tr><th>setting</th>"
        f"<th>accuracy</th><th>95% CI</th>{heads}<th>thinking tokens</th><th>n</th>"
        f"</tr></thead><tbody>{cells}</tbody></table><p>Control {100 * m.control:.0f}% · "
        f"Scaling {_fmt(m.scaling)} · Performance {_fmt(m.performance)}%</p>"
    )


def plot(
    report: Report, path: str | Path | None = None, ax: Any = None, label: str | None = None
) -> Figure:
    """Accuracy (with 95% intervals) against mean thinking tokens; saved whole if ``path``."""
    import matplotlib.pyplot as plt  # headless machines fall back to Agg on their own

    fig = ax.figure if ax is not None else plt.figure(figsize=(6, 4))
    ax = ax or fig.add_subplot()
    table = report.table()
    xs = [r["thinking_tokens"] for r in table]
    ys = [r["accuracy"] for r in table]
    err = [
        [y - r["ci95"][0] for y, r in zip(ys, table, strict=True)],
        [r["ci95"][1] - y for y, r in zip(ys, table, strict=True)],
    ]
    ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=label or report.benchmark)
    ax.set_xlabel("average thinking tokens")
    ax.set_ylabel("accuracy (%)")
    ax.set_title(f"Test-time scaling on {report.benchmark}")
    ax.grid(alpha=0.3)
    if label:
        ax.legend()
    if path is not None:
        from .. import artifacts

        kind = Path(path).suffix.lstrip(".").lower() or "png"
        with artifacts.writing(path) as temp:  # whole or not at all
            fig.savefig(temp, format=kind, dpi=120, bbox_inches="tight")
    return fig
