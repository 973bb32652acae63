r"""What ``tr.compare`` returns: s1's Table 3 for every method, one plot, per-problem rows.

A :class:`Comparison` holds one :class:`MethodResult` per method: each setting's
:class:`~tinyreason.evaluation.report.SettingResult` (from ``tr.evaluate``'s own machinery), what
the setting asked for and what the samples used, in the method's unit (thinking tokens, or steps
for step-conditional control). From them:

* :meth:`Comparison.table` is s1's Table 3: per method, **Control** (the share of settings whose
  mean use lies within what was asked), **Scaling** (the mean pairwise slope of accuracy against
  mean thinking tokens, in points per thinking token) and **Performance** (the best accuracy, with
  its bootstrap 95% interval), plus rejection sampling's tries when a method reports them;
* :meth:`Comparison.settings_table`: every setting's accuracy, interval, thinking tokens and use;
* :meth:`Comparison.rows`: one row per (method, setting, problem);
* :meth:`Comparison.plot`: accuracy against mean thinking tokens, every method on one axis.

Example:
    >>> from tinyreason import Generation, Problem, Solution
    >>> from tinyreason.evaluation.report import SettingResult
    >>> def setting(budget, tokens, right):
    ...     g = (Generation("4", "", "4", tokens, 1),)
    ...     return SettingResult(f"{budget} tokens", budget, (0, budget),
    ...                          [Problem("p", "2+2?", "4")], [Solution("p", "4", g)], [right],
    ...                          [[right]])
    >>> bf = MethodResult("BF", (setting(8, 8, False), setting(16, 16, True)), (8, 16),
    ...                   (8.0, 16.0), ((0.0, 8.0), (0.0, 16.0)))
    >>> row = Comparison("toy", {"BF": bf}).table()[0]
    >>> row["method"], row["control"], row["scaling"], row["performance"]
    ('BF', 100.0, 12.5, 100.0)
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ..records import Generation
from .metrics import ScalingMetrics, bootstrap_interval, s1_metrics
from .report import Report, SettingResult

if TYPE_CHECKING:
    from datasets import Dataset
    from matplotlib.figure import Figure

__all__ = ["Comparison", "CountsTries", "MethodResult", "RequestsCompute"]


@runtime_checkable
class RequestsCompute(Protocol):
    """Optional on a TestTimeScaler: what a setting asked for, and what a sample used.

    s1's Control asks whether a method stays within the compute it was asked for; a method that
    asks in prompts (token- or step-conditional control) enforces nothing, so it says itself what
    it asked for. Both are in one unit (``compute_unit``: ``"tokens"`` or ``"steps"``).

    Example:
        >>> import tinyreason as tr
        >>> isinstance(tr.scaler("step-conditional", steps=8), RequestsCompute)
        True
    """

    compute_unit: str

    def compute_bounds(self) -> tuple[float, float | None]:
        """(min, max) asked for (max None: unbounded)."""
        ...

    def compute_used(self, generation: Generation) -> float:
        """What one sample used."""
        ...


@runtime_checkable
class CountsTries(Protocol):
    """Optional on a Solution: samples drawn to get it (rejection sampling's ``tries``).

    Example:
        >>> from tinyreason.scaling.rejection import RejectionSolution
        >>> g = Generation("4", "", "4", 1, 1)
        >>> isinstance(RejectionSolution("p", "4", (g,), tries=3), CountsTries)
        True
    """

    tries: int
    accepted: bool


def _pct(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.1f}"


def _num(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3g}"


@dataclass(frozen=True)
class MethodResult:
    """One method's settings, what each asked for and what its samples used.

    Attributes:
        name: The method's name.
        settings: Each setting's results, in the order run (labels say the setting).
        values: What each setting was (a budget, ``"short"``, None for the scaler as given).
        used: Mean compute used per sample, per setting, in ``unit``.
        bounds: (min, max) asked for per setting, in ``unit`` (max None: unbounded).
        unit: ``"tokens"`` (thinking tokens) or ``"steps"``.
        manifest: The first setting's run manifest (versions, backend, scaler).
        problem_used: Per setting, each problem's mean use per sample (for :attr:`rows`).
    """

    name: str
    settings: Sequence[SettingResult]
    values: Sequence[object]
    used: Sequence[float]
    bounds: Sequence[tuple[float, float | None]]
    unit: str = "tokens"
    manifest: Mapping[str, Any] = field(default_factory=dict)
    problem_used: Sequence[Sequence[float]] = ()

    @property
    def report(self) -> Report:
        """The method's settings as one :class:`~tinyreason.evaluation.report.Report`."""
        return Report(self.name, self.settings, dict(self.manifest))

    @property
    def metrics(self) -> ScalingMetrics:
        """s1's metrics: Control in the method's unit; Scaling over mean thinking tokens."""
        accuracy = [s.accuracy for s in self.settings]
        control = s1_metrics(list(self.used), accuracy, list(self.bounds)).control
        rest = s1_metrics([s.thinking_tokens for s in self.settings], accuracy)
        return ScalingMetrics(control, rest.scaling, rest.performance)

    def tries(self) -> dict[str, float] | None:
        """Rejection sampling's cost, or None when the method's solutions do not count tries.

        Keys: ``tries_per_kept`` (samples drawn per kept sample), ``max_tries`` (the most for one
        problem) and ``exhausted`` (problems that ran out of tries).
        """
        counted = [
            sol for s in self.settings for sol in s.solutions if isinstance(sol, CountsTries)
        ]
        if not counted:
            return None
        kept = sum(sol.accepted for sol in counted)
        total = sum(sol.tries for sol in counted)
        return {
            "tries_per_kept": total / kept if kept else math.inf,
            "max_tries": float(max(sol.tries for sol in counted)),
            "exhausted": float(len(counted) - kept),
        }


@dataclass(frozen=True)
class Comparison:
    """Several test-time scaling methods on one benchmark: what ``tr.compare`` returns.

    Attributes:
        benchmark: The benchmark's name.
        methods: Each method's results, by name, in the order given.
        seed: The seed every method drew with (and the bootstrap's).
    """

    benchmark: str
    methods: Mapping[str, MethodResult]
    seed: int = 0

    def table(self) -> list[dict[str, Any]]:
        """s1's Table 3: one row per method.

        Keys: ``method``, ``control`` (%), ``scaling`` (accuracy points per thinking token),
        ``performance`` (%), ``performance_ci95`` (the best setting's bootstrap interval),
        ``settings``, ``unit``, ``thinking_tokens`` (the settings' means, in order), and for a
        method that counts tries ``tries_per_kept``, ``max_tries``, ``exhausted``.
        """
        rows = []
        for name, method in self.methods.items():
            m = method.metrics
            best = max(method.settings, key=lambda s: s.accuracy)
            lo, hi = bootstrap_interval([float(c) for c in best.correct], seed=self.seed)
            row: dict[str, Any] = {
                "method": name,
                "control": round(100 * m.control, 2),
                "scaling": m.scaling,
                "performance": round(m.performance, 2),
                "performance_ci95": (round(lo, 2), round(hi, 2)),
                "settings": len(method.settings),
                "unit": method.unit,
                "thinking_tokens": [round(s.thinking_tokens, 2) for s in method.settings],
            }
            row |= method.tries() or {}
            rows.append(row)
        return rows

    def settings_table(self) -> list[dict[str, Any]]:
        """One row per (method, setting): accuracy, its 95% interval, thinking tokens, use.

        ``within`` says whether the setting's mean use lay within what it asked for.
        """
        rows = []
        for name, method in self.methods.items():
            for s, value, used, (low, high) in zip(
                method.settings, method.values, method.used, method.bounds, strict=True
            ):
                lo, hi = bootstrap_interval([float(c) for c in s.correct], seed=self.seed)
                rows.append(
                    {
                        "method": name,
                        "setting": s.label,
                        "value": value,
                        "accuracy": round(s.accuracy, 2),
                        "ci95": (round(lo, 2), round(hi, 2)),
                        "thinking_tokens": round(s.thinking_tokens, 2),
                        "used": round(used, 2),
                        "unit": method.unit,
                        "asked": (low, high),
                        "within": low <= used and (high is None or used <= high),
                        "problems": len(s.problems),
                    }
                )
        return rows

    @property
    def rows(self) -> Dataset:
        """One row per (method, setting, problem): answer, correctness, thinking, use, tries."""
        from datasets import Dataset

        records = []
        for name, method in self.methods.items():
            for i, s in enumerate(method.settings):
                used = (
                    method.problem_used[i] if method.problem_used else [math.nan] * len(s.problems)
                )
                for p, sol, ok, use in zip(s.problems, s.solutions, s.correct, used, strict=True):
                    tries = (sol.tries, sol.accepted) if isinstance(sol, CountsTries) else None
                    records.append(
                        {
                            "method": name,
                            "setting": s.label,
                            "problem_id": p.id,
                            "question": p.question,
                            "reference": p.answer,
                            "answer": sol.answer,
                            "correct": bool(ok),
                            "thinking_tokens": sol.thinking_tokens,
                            "used": use,
                            "unit": method.unit,
                            "tries": tries[0] if tries else None,
                            "accepted": tries[1] if tries else None,
                            "output": sol.generations[0].text,
                        }
                    )
        return Dataset.from_list(records)

    def to_dict(self) -> dict[str, Any]:
        """The tables as JSON-friendly data (no per-problem rows)."""
        return {
            "benchmark": self.benchmark,
            "seed": self.seed,
            "table": self.table(),
            "settings": self.settings_table(),
        }

    def plot(self, path: str | Path | None = None, ax: Any = None) -> Figure:
        """Accuracy (with 95% intervals) against mean thinking tokens, one line per method.

        The file's format follows its suffix (PNG without one); it is written whole.
        """
        import matplotlib.pyplot as plt

        fig = ax.figure if ax is not None else plt.figure(figsize=(7, 4.5))
        ax = ax or fig.add_subplot()
        for name, method in self.methods.items():
            method.report.plot(ax=ax, label=name)
        ax.set_title(f"Methods compared on {self.benchmark}")
        if path is not None:
            from .. import artifacts

            kind = Path(path).suffix.lstrip(".").lower() or "png"
            with artifacts.writing(path) as temp:
                fig.savefig(temp, format=kind, dpi=120, bbox_inches="tight")
        return fig

    def __repr__(self) -> str:
        lines = [
            f"Comparison: {self.benchmark} ({len(self.methods)} methods, seed {self.seed})",
            f"{'method':<16}{'Control':>9}{'Scaling':>12}{'Performance':>13}  {'95% CI':<15}"
            f"{'settings':>9}  thinking tokens",
        ]
        for row in self.table():
            lo, hi = row["performance_ci95"]
            tokens = ", ".join(f"{t:g}" for t in row["thinking_tokens"])
            extra = ""
            if "tries_per_kept" in row:
                extra = (
                    f"  [tries/kept {_num(row['tries_per_kept'])}, max {row['max_tries']:g}, "
                    f"ran out {row['exhausted']:g}]"
                )
            lines.append(
                f"{row['method']:<16}{_pct(row['control']):>8}%{_num(row['scaling']):>12}"
                f"{_pct(row['performance']):>12}%  [{lo:5.1f}, {hi:5.1f}]{row['settings']:>9}  "
                f"{tokens}{extra}"
            )
        lines.append(
            "Control: settings whose mean use lies within what they asked (steps for "
            "step-conditional); Scaling: accuracy points per thinking token."
        )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        head = (
            "<tr><th>method</th><th>Control</th><th>Scaling</th><th>Performance</th>"
            "<th>95% CI</th><th>settings</th><th>thinking tokens</th><th>tries / kept</th></tr>"
        )
        body = "".join(
            f"<tr><td>{html.escape(r['method'])}</td><td>{_pct(r['control'])}%</td>"
            f"<td>{_num(r['scaling'])}</td><td>{_pct(r['performance'])}%</td>"
            f"<td>[{r['performance_ci95'][0]:.1f}, {r['performance_ci95'][1]:.1f}]</td>"
            f"<td>{r['settings']}</td>"
            f"<td>{html.escape(', '.join(f'{t:g}' for t in r['thinking_tokens']))}</td>"
            f"<td>{_num(r['tries_per_kept']) if 'tries_per_kept' in r else ''}</td></tr>"
            for r in self.table()
        )
        return (
            f"<p><b>{html.escape(self.benchmark)}</b>: {len(self.methods)} methods, seed "
            f"{self.seed}</p><table><thead>{head}</thead><tbody>{body}</tbody></table>"
            "<p>Control: settings whose mean use lies within what they asked (steps for "
            "step-conditional); Scaling: accuracy points per thinking token; Performance: the "
            "best setting's accuracy.</p>"
        )
