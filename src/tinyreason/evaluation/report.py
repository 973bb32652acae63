"""An evaluation's results: per-problem rows, a table per budget, s1's metrics, a plot."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..records import Problem, Solution
from .metrics import ScalingMetrics, bootstrap_interval, s1_metrics

if TYPE_CHECKING:
    from datasets import Dataset
    from matplotlib.figure import Figure

__all__ = ["Report", "SettingResult"]


@dataclass(frozen=True)
class SettingResult:
    """One compute setting's results (a budget, with one scaler)."""

    label: str
    budget: int | None
    bounds: tuple[float, float | None]
    problems: Sequence[Problem]
    solutions: Sequence[Solution]
    correct: Sequence[bool]
    sample_correct: Sequence[Sequence[bool]]

    @property
    def accuracy(self) -> float:
        """Share of problems whose chosen answer is right, in percent."""
        return 100 * sum(self.correct) / len(self.correct)

    @property
    def sample_accuracy(self) -> float:
        """Accuracy of a single sample (mean over all samples), in percent."""
        flat = [c for per in self.sample_correct for c in per]
        return 100 * sum(flat) / len(flat)

    @property
    def thinking_tokens(self) -> float:
        """Mean thinking tokens per sample."""
        return sum(s.thinking_tokens for s in self.solutions) / len(self.solutions)

    @property
    def samples(self) -> int:
        """Samples per problem."""
        return max(len(s.generations) for s in self.solutions)


@dataclass(frozen=True)
class Report:
    """What ``tr.evaluate`` returns.

    Attributes:
        benchmark: The benchmark's name.
        settings: One result per budget, in the order run.
        manifest: Versions, seed, budgets, scaler and backend: what is needed to reproduce it.

    Example:
        >>> report.table()  # doctest: +SKIP
        [{'setting': 'budget=16', 'accuracy': 23.5, ...}, ...]
    """

    benchmark: str
    settings: Sequence[SettingResult]
    manifest: dict[str, Any] = field(default_factory=dict)
    seed: int = 0

    # -- numbers -----------------------------------------------------------------------------

    @property
    def metrics(self) -> ScalingMetrics:
        """s1's Control, Scaling and Performance over the settings."""
        return s1_metrics(
            [s.thinking_tokens for s in self.settings],
            [s.accuracy for s in self.settings],
            [s.bounds for s in self.settings],
        )

    def table(self) -> list[dict[str, Any]]:
        """One row per setting: accuracy with its 95% bootstrap interval, thinking tokens..."""
        rows = []
        for s in self.settings:
            lo, hi = bootstrap_interval([float(c) for c in s.correct], seed=self.seed)
            rows.append(
                {
                    "setting": s.label,
                    "budget": s.budget,
                    "accuracy": round(s.accuracy, 2),
                    "ci95": (round(lo, 2), round(hi, 2)),
                    "sample_accuracy": round(s.sample_accuracy, 2),
                    "thinking_tokens": round(s.thinking_tokens, 2),
                    "samples": s.samples,
                    "problems": len(s.problems),
                }
            )
        return rows

    @property
    def rows(self) -> Dataset:
        """Per (setting, problem) rows: answer, reference, correctness, thinking tokens, text."""
        from datasets import Dataset

        records = []
        for s in self.settings:
            for p, sol, ok, per in zip(
                s.problems, s.solutions, s.correct, s.sample_correct, strict=True
            ):
                records.append(
                    {
                        "setting": s.label,
                        "budget": s.budget,
                        "problem_id": p.id,
                        "question": p.question,
                        "reference": p.answer,
                        "answer": sol.answer,
                        "correct": bool(ok),
                        "samples_correct": sum(per),
                        "samples": len(per),
                        "thinking_tokens": sol.thinking_tokens,
                        "votes": json.dumps(dict(sol.votes)),
                        "output": sol.generations[0].text,
                    }
                )
        return Dataset.from_list(records)

    # -- display -----------------------------------------------------------------------------

    def __repr__(self) -> str:
        header = (
            f"{'setting':<16}{'accuracy':>9}  {'95% CI':<15}{'1-sample':>9}{'thinking':>10}{'n':>6}"
        )
        lines = [f"Report: {self.benchmark}", header]
        for row in self.table():
            lo, hi = row["ci95"]
            lines.append(
                f"{row['setting']:<16}{row['accuracy']:>8.1f}%  [{lo:5.1f}, {hi:5.1f}]   "
                f"{row['sample_accuracy']:>8.1f}%{row['thinking_tokens']:>10.1f}{row['problems']:>6}"
            )
        m = self.metrics
        lines.append(
            f"s1 metrics: Control {100 * m.control:.0f}%  Scaling {_fmt(m.scaling)} "
            f"points/token  Performance {_fmt(m.performance)}%"
        )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        cells = "".join(
            "<tr>"
            f"<td>{html.escape(r['setting'])}</td><td>{r['accuracy']:.1f}%</td>"
            f"<td>[{r['ci95'][0]:.1f}, {r['ci95'][1]:.1f}]</td><td>{r['sample_accuracy']:.1f}%</td>"
            f"<td>{r['thinking_tokens']:.1f}</td><td>{r['problems']}</td></tr>"
            for r in self.table()
        )
        m = self.metrics
        return (
            f"<p><b>{html.escape(self.benchmark)}</b></p><table><thead><tr><th>setting</th>"
            "<th>accuracy</th><th>95% CI</th><th>1-sample</th><th>thinking tokens</th><th>n</th>"
            f"</tr></thead><tbody>{cells}</tbody></table><p>Control {100 * m.control:.0f}% · "
            f"Scaling {_fmt(m.scaling)} · Performance {_fmt(m.performance)}%</p>"
        )

    def plot(
        self, path: str | Path | None = None, ax: Any = None, label: str | None = None
    ) -> Figure:
        """Accuracy (with 95% intervals) against mean thinking tokens; saved as PNG if ``path``.

        Pass ``ax`` to draw several reports on one figure.
        """
        import matplotlib.pyplot as plt  # headless machines fall back to Agg on their own

        fig = ax.figure if ax is not None else plt.figure(figsize=(6, 4))
        ax = ax or fig.add_subplot()
        table = self.table()
        xs = [r["thinking_tokens"] for r in table]
        ys = [r["accuracy"] for r in table]
        err = [
            [y - r["ci95"][0] for y, r in zip(ys, table, strict=True)],
            [r["ci95"][1] - y for y, r in zip(ys, table, strict=True)],
        ]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=label or self.benchmark)
        ax.set_xlabel("average thinking tokens")
        ax.set_ylabel("accuracy (%)")
        ax.set_title(f"Test-time scaling on {self.benchmark}")
        ax.grid(alpha=0.3)
        if label:
            ax.legend()
        if path is not None:
            fig.savefig(path, dpi=120, bbox_inches="tight")
        return fig

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-friendly data (no per-problem rows)."""
        m = self.metrics
        return {
            "benchmark": self.benchmark,
            "table": self.table(),
            "metrics": {"control": m.control, "scaling": m.scaling, "performance": m.performance},
            "manifest": self.manifest,
        }

    def save(self, folder: str | Path) -> Path:
        """Write ``report.json``, ``rows.jsonl`` and ``scaling.png`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "report.json").write_text(json.dumps(self.to_dict(), indent=2, default=str))
        self.rows.to_json(str(folder / "rows.jsonl"))
        import matplotlib.pyplot as plt

        plt.close(self.plot(folder / "scaling.png"))
        return folder


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3g}"
