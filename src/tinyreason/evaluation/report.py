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

This module is the record and its numbers; how it is shown (text, HTML, plot) is
:mod:`~tinyreason.evaluation.report_views`, how it is saved and loaded
:mod:`~tinyreason.evaluation.report_files`, and what its manifest holds
:mod:`~tinyreason.evaluation.manifest`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..records import Problem, Solution
from . import report_files, report_views
from .manifest import evaluation_settings
from .metrics import ScalingMetrics, bootstrap_interval, k_values, pass_at_k, s1_metrics
from .report_files import REPORT_FILES as REPORT_FILES
from .report_files import REPORT_KIND as REPORT_KIND
from .report_files import REPORT_VERSION as REPORT_VERSION

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

        return Dataset.from_list(self._row_records())

    def _row_records(self) -> list[dict[str, Any]]:
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
        return records

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

    # -- views (tinyreason.evaluation.report_views) ------------------------------------------

    def grader_agreement(self, grader: Any = None) -> dict[str, Any]:
        """Where a second grader on the whole response disagrees with this report's grades.

        ``grader`` defaults to :class:`~tinyreason.answers.FullTextGrader` (math-verify on the
        whole response, as open-r1 and lighteval grade). See
        :func:`~tinyreason.evaluation.agreement.grader_agreement` for what is returned.
        """
        from ..answers import FullTextGrader
        from .agreement import grader_agreement

        return grader_agreement(self, grader if grader is not None else FullTextGrader())

    def __repr__(self) -> str:
        return report_views.text(self)

    def _repr_html_(self) -> str:
        return report_views.html_table(self)

    def plot(
        self, path: str | Path | None = None, ax: Any = None, label: str | None = None
    ) -> Figure:
        """Accuracy (with 95% intervals) against mean thinking tokens; saved if ``path`` is given.

        The file's format follows its suffix (PNG without one); it is written whole.

        Pass ``ax`` to draw several reports on one figure.
        """
        return report_views.plot(self, path, ax, label)

    def to_dict(self) -> dict[str, Any]:
        """The summary as JSON-friendly data (no per-problem rows)."""
        m = self.metrics
        return {
            "benchmark": self.benchmark,
            "table": self.table(),
            "metrics": {"control": m.control, "scaling": m.scaling, "performance": m.performance},
            "manifest": self.manifest,
        }

    # -- files (tinyreason.evaluation.report_files) ------------------------------------------

    def save(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Write the report into ``folder``, each file whole, and seal it (kind ``"report"``).

        Files: ``report.json`` (the table, the metrics, the manifest and each setting),
        ``rows.jsonl`` (the per-problem rows), ``solutions.jsonl`` (every problem and solution,
        so :meth:`load` gives the report back equal) and ``scaling.png``. A folder that holds
        files tinyreason did not write is refused unless ``overwrite`` (and then only the report's
        files are written).

        Raises:
            FolderNotOursError: ``folder`` holds other files, or another kind of artifact.
            ArtifactError: ``folder`` cannot be written.

        Example:
            >>> folder = report.save("runs/aime24-report")  # doctest: +SKIP
            >>> Report.load(folder) == report  # doctest: +SKIP
            True
        """
        return report_files.save(self, folder, overwrite=overwrite)

    @classmethod
    def load(cls, folder: str | Path) -> Report:
        """Read a report saved by :meth:`save` (or a finished ``run_dir``'s), verified whole.

        Raises:
            ArtifactError: the folder is not a complete report, or a file is missing or damaged
                (named, with what writes it again).

        Example:
            >>> report = Report.load("runs/aime24/report")  # doctest: +SKIP
        """
        return report_files.load(cls, folder)
