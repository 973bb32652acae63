"""An evaluation's results: per-problem rows, a table per budget, s1's metrics, a plot.

Every number comes from one pool of samples per problem and budget (``samples=k`` draws ``k``):

* ``accuracy``: the scaler's chosen answer right (majority vote, best of n, or the one sample), with
  a percentile-bootstrap 95% interval over problems;
* ``pass@k`` for k = 1, 2, 4, ..., n: the unbiased estimator of Chen et al. (2021) averaged over
  problems (:func:`~tinyreason.evaluation.metrics.pass_at_k`); pass@1 is the mean per-sample
  accuracy;
* ``maj@k``: the majority answer of each problem's first ``k`` samples right (equivalent answers
  vote together, a tie goes to the answer seen first, unanswered samples never win);
* ``thinking_tokens``: mean thinking tokens per sample;
* ``unparsed``: the share of samples whose answer could not be extracted (graded wrong).

The manifest's ``"evaluation"`` entry (:func:`evaluation_settings`) says how the run was graded:
the prompt template, the answer extraction rule, the grader and the generation budget; the text
and HTML views show it above the table.
"""

from __future__ import annotations

import json
import math
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..records import Problem, Solution
from .metrics import ScalingMetrics, bootstrap_interval, k_values, pass_at_k, s1_metrics

if TYPE_CHECKING:
    from datasets import Dataset
    from matplotlib.figure import Figure

__all__ = ["Report", "SettingResult", "evaluation_settings"]


@dataclass(frozen=True)
class SettingResult:
    """One compute setting's results (a budget, with one scaler), from one pool of samples.

    Attributes:
        label: How the setting is shown (``"budget=512"``).
        budget: The thinking budget (None: unbounded).
        bounds: The (min, max) thinking tokens the setting allowed, for s1's Control.
        problems: The problems, in order.
        solutions: The scaler's solution to each problem (all its samples in ``generations``).
        correct: Whether each solution's chosen answer is right.
        sample_correct: Per problem, whether each sample's own answer is right.
        majority_correct: Per ``k``, whether each problem's majority over its first ``k`` samples
            is right (filled by ``tr.evaluate``; empty when built by hand).
        sample_answers: Per problem, each sample's extracted answer (None: it gave none).

    Example:
        >>> from tinyreason import Generation, Problem, Solution
        >>> g = [Generation("4", "", "4", 3, 1), Generation("5", "", "5", 5, 1)]
        >>> result = SettingResult("budget=8", 8, (0, 8), [Problem("p", "2+2?", "4")],
        ...                        [Solution("p", "4", g)], [True], [[True, False]])
        >>> result.accuracy, result.pass_at_k, result.thinking_tokens
        (100.0, {1: 50.0, 2: 100.0}, 4.0)
    """

    label: str
    budget: int | None
    bounds: tuple[float, float | None]
    problems: Sequence[Problem]
    solutions: Sequence[Solution]
    correct: Sequence[bool]
    sample_correct: Sequence[Sequence[bool]]
    majority_correct: Mapping[int, Sequence[bool]] = field(default_factory=dict)
    sample_answers: Sequence[Sequence[str | None]] = ()

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

    @property
    def pass_at_k(self) -> dict[int, float]:
        """pass@k in percent for k = 1, 2, 4, ... up to the samples every problem has."""
        n_min = min(len(per) for per in self.sample_correct)
        return {
            k: 100
            * sum(pass_at_k(len(per), sum(per), k) for per in self.sample_correct)
            / len(self.sample_correct)
            for k in k_values(n_min)
        }

    @property
    def majority_at_k(self) -> dict[int, float]:
        """maj@k in percent: the majority of the first ``k`` samples right, per ``k``."""
        return {k: 100 * sum(per) / len(per) for k, per in sorted(self.majority_correct.items())}

    @property
    def unparsed(self) -> float | None:
        """Samples whose answer could not be extracted, in percent (None: answers not recorded).

        They are graded wrong: with s1's GPQA rule, an answer that is not a letter A-D counts
        here, where s1 asked gpt-4o-mini (and defaulted to "A" without it).
        """
        flat = [a for per in self.sample_answers for a in per]
        return 100 * sum(a is None for a in flat) / len(flat) if flat else None


@dataclass(frozen=True)
class Report:
    """What ``tr.evaluate`` returns.

    Attributes:
        benchmark: The benchmark's name.
        settings: One result per budget, in the order run.
        manifest: Versions, seed, budgets, samples, scaler, backend (with its device and dtype)
            and the benchmark's source: what is needed to reproduce it.

    Example:
        >>> report = tr.evaluate(student, "aime24", budgets=[512], samples=8)  # doctest: +SKIP
        >>> report.table()[0]  # doctest: +SKIP
        {'setting': 'budget=512', 'budget': 512, 'accuracy': 20.0, 'ci95': (6.67, 36.67),
         'sample_accuracy': 14.58, 'pass@1': 14.58, 'pass@2': 24.05, ..., 'maj@8': 20.0, ...}
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
        """One row per setting, in percent: accuracy and its 95% bootstrap interval, pass@k, maj@k.

        Keys: ``setting``, ``budget``, ``accuracy``, ``ci95``, ``sample_accuracy``, ``pass@1``,
        ``pass@2``... and ``maj@1``, ``maj@2``... (k = 1, 2, 4, ... and the samples drawn),
        ``thinking_tokens`` (mean per sample), ``samples`` (per problem), ``problems``, and
        ``unparsed`` (samples without an extracted answer) when the answers were recorded.
        """
        rows = []
        for s in self.settings:
            lo, hi = bootstrap_interval([float(c) for c in s.correct], seed=self.seed)
            row: dict[str, Any] = {
                "setting": s.label,
                "budget": s.budget,
                "accuracy": round(s.accuracy, 2),
                "ci95": (round(lo, 2), round(hi, 2)),
                "sample_accuracy": round(s.sample_accuracy, 2),
            }
            row |= {f"pass@{k}": round(v, 2) for k, v in s.pass_at_k.items()}
            row |= {f"maj@{k}": round(v, 2) for k, v in s.majority_at_k.items()}
            row |= {
                "thinking_tokens": round(s.thinking_tokens, 2),
                "samples": s.samples,
                "problems": len(s.problems),
            }
            if s.unparsed is not None:
                row["unparsed"] = round(s.unparsed, 2)
            rows.append(row)
        return rows

    @property
    def rows(self) -> Dataset:
        """Per (setting, problem) rows: answer, reference, correctness, thinking tokens, text."""
        from datasets import Dataset

        records = []
        for s in self.settings:
            every_answers = s.sample_answers or [[] for _ in s.problems]
            for p, sol, ok, per, answers in zip(
                s.problems, s.solutions, s.correct, s.sample_correct, every_answers, strict=True
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
                        "sample_answers": json.dumps(list(answers)),
                        "output": sol.generations[0].text,
                    }
                )
        return Dataset.from_list(records)

    @property
    def evaluation(self) -> dict[str, Any]:
        """How the run was graded: prompt, extraction rule, grader, generation budget.

        The manifest's ``"evaluation"`` entry (:func:`evaluation_settings`); empty for a report
        built by hand without one.

        Example:
            >>> Report("b", [], {"evaluation": {"grader": "math-verify"}}).evaluation["grader"]
            'math-verify'
        """
        settings = self.manifest.get("evaluation")
        return dict(settings) if isinstance(settings, Mapping) else {}

    # -- display -----------------------------------------------------------------------------

    def _evaluation_lines(self) -> list[tuple[str, str]]:
        """(label, text) pairs saying how the run was graded, for the text and HTML views."""
        settings = self.evaluation
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
            lines.append(
                ("max_new_tokens", "sized by the scaler" if budget is None else str(budget))
            )
        return lines

    def _pool_columns(self) -> list[str]:
        """The pass@k / maj@k columns worth a glance: pass@1, then pass@n and maj@n if n > 1."""
        n = min(s.samples for s in self.settings) if self.settings else 1
        extra = [f"pass@{n}", f"maj@{n}"] if n > 1 else []
        return ["pass@1", *extra]

    def __repr__(self) -> str:
        columns = self._pool_columns()
        table = self.table()
        unparsed = bool(table) and all("unparsed" in row for row in table)
        header = f"{'setting':<16}{'accuracy':>9}  {'95% CI':<15}" + "".join(
            f"{c:>9}" for c in columns
        )
        header += f"{'unparsed':>9}" if unparsed else ""
        lines = [f"Report: {self.benchmark}"]
        for label, text in self._evaluation_lines():
            lines.append(
                textwrap.fill(text, 100, initial_indent=f"{label}: ", subsequent_indent="    ")
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
        m = self.metrics
        lines.append(
            f"s1 metrics: Control {100 * m.control:.0f}%  Scaling {_fmt(m.scaling)} "
            f"points/token  Performance {_fmt(m.performance)}%"
        )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        columns = self._pool_columns()
        if self.table() and all("unparsed" in row for row in self.table()):
            columns = [*columns, "unparsed"]
        cells = "".join(
            "<tr>"
            f"<td>{html.escape(r['setting'])}</td><td>{r['accuracy']:.1f}%</td>"
            f"<td>[{r['ci95'][0]:.1f}, {r['ci95'][1]:.1f}]</td>"
            + "".join(f"<td>{r.get(c, math.nan):.1f}%</td>" for c in columns)
            + f"<td>{r['thinking_tokens']:.1f}</td><td>{r['problems']}</td></tr>"
            for r in self.table()
        )
        heads = "".join(f"<th>{c}</th>" for c in columns)
        m = self.metrics
        settings = "".join(
            f"<br><i>{html.escape(label)}</i>: {html.escape(text)}"
            for label, text in self._evaluation_lines()
        )
        return (
            f"<p><b>{html.escape(self.benchmark)}</b>{settings}</p><table><thead><tr><th>setting</th>"
            f"<th>accuracy</th><th>95% CI</th>{heads}<th>thinking tokens</th><th>n</th>"
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


def evaluation_settings(
    benchmark: Any,
    answer_kind: str,
    grader: Any,
    *,
    think_end: str | None = None,
    system_prompt: str | None = None,
) -> dict[str, Any]:
    """Say how a run is graded: the prompt, the extraction rule, the grader, the token budget.

    ``tr.evaluate`` stores the result as the manifest's ``"evaluation"`` entry.

    Args:
        benchmark: The benchmark object (None for a plain list of problems); its ``describe()``
            (or ``prompt`` / ``prompt_template`` / ``max_new_tokens`` attributes) name the prompt
            and the budget. Without them, the question is sent as it is (``"{question}"``) and
            the scaler sizes the budget (None).
        answer_kind: The answer kind the answers were extracted with.
        grader: The grader used (its ``describe()`` names it).
        think_end: The student format's end-of-thinking delimiter.
        system_prompt: The student format's system prompt (None: the chat template's default).

    Returns:
        ``prompt``, ``prompt_template``, ``chat_template``, ``answer_kind``, ``extraction``,
        ``grader`` and ``max_new_tokens``.

    Example:
        >>> from tinyreason.evaluation.benchmarks import AIME24
        >>> from tinyreason.answers import MathGrader
        >>> s = evaluation_settings(AIME24(), "s1-integer", MathGrader(),
        ...                         think_end="<|im_start|>answer")
        >>> s["prompt_template"], s["max_new_tokens"], s["grader"][:23]
        ('{question}', 32768, 'math-verify equivalence')
        >>> s["extraction"][:12]
        's1 (integer)'
    """
    from ..answers import describe_extraction, describe_grader
    from ..interfaces import Describes

    # What a benchmark says about itself is its describe() (tinyreason.interfaces.Describes).
    described = benchmark.describe() if isinstance(benchmark, Describes) else {}
    described = described if isinstance(described, Mapping) else {}

    def setting(key: str, default: Any) -> Any:
        return described.get(key, default)

    # A benchmark that says nothing sends each question as it is.
    prompt, template = setting("prompt", "plain"), setting("prompt_template", "{question}")
    system = "the template's default" if system_prompt is None else json.dumps(system_prompt)
    return {
        "prompt": prompt,
        "prompt_template": template,
        "chat_template": f"in the student's chat template, system prompt: {system}",
        "answer_kind": answer_kind,
        "extraction": describe_extraction(answer_kind, think_end),
        "grader": describe_grader(grader),
        "max_new_tokens": setting("max_new_tokens", None),
    }
