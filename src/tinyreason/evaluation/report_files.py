"""A Report on disk: :func:`save` writes its folder whole and sealed, :func:`load` reads it back.

The folder is an artifact of kind ``"report"`` (:mod:`tinyreason.artifacts`): ``report.json``
(the table, the metrics, the manifest and each setting), ``rows.jsonl`` (the per-problem rows),
``solutions.jsonl`` (every problem and solution, so :func:`load` gives the report back equal) and
``scaling.png``. ``Report.save`` and ``Report.load``
(:class:`~tinyreason.evaluation.report.Report`) call these; a finished run folder
(``tr.evaluate(..., run_dir=...)``) loads as the report inside it.

Example:
    >>> import tempfile
    >>> from tinyreason import Generation, Problem, Solution
    >>> from tinyreason.evaluation.report import Report, SettingResult
    >>> g = (Generation("4", "", "4", 3, 1),)
    >>> setting = SettingResult("budget=8", 8, (0, 8), [Problem("p", "2+2?", "4")],
    ...                         [Solution("p", "4", g)], [True], [[True]])
    >>> report = Report("toy", [setting], {"seed": 0})
    >>> folder = save(report, tempfile.mkdtemp(), overwrite=True)
    >>> load(Report, folder) == report
    True
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .. import artifacts
from ..errors import ArtifactError
from ..records import Problem
from .solution_json import solution_from_dict, solution_to_dict

if TYPE_CHECKING:
    from .report import Report

__all__ = ["REPORT_FILES", "REPORT_KIND", "REPORT_VERSION", "load", "save"]

#: The artifact kind and format version :func:`save` writes.
REPORT_KIND = "report"
REPORT_VERSION = 1
REPORT_FILES = ("report.json", "rows.jsonl", "solutions.jsonl", "scaling.png")
_REBUILD = "save the report again (report.save(folder)), or rerun tr.evaluate"
_REBUILD_RUN = "rerun tr.evaluate with the same run_dir to finish it"

R = TypeVar("R", bound="Report")


def save(report: Report, folder: str | Path, *, overwrite: bool = False) -> Path:
    """Write ``report`` into ``folder``, each file whole, and seal it (kind ``"report"``).

    Raises:
        FolderNotOursError: ``folder`` holds other files, or another kind of artifact.
        ArtifactError: ``folder`` cannot be written.
    """
    path = artifacts.prepare(folder, REPORT_KIND, overwrite=overwrite)
    summary = report.to_dict() | {
        "seed": report.seed,
        "settings": [
            {
                "label": s.label,
                "budget": s.budget,
                "bounds": list(s.bounds),
                "majority_correct": {str(k): list(v) for k, v in s.majority_correct.items()},
            }
            for s in report.settings
        ],
    }
    artifacts.write_json(path / "report.json", summary)
    artifacts.write_text(path / "solutions.jsonl", "".join(_solution_lines(report)))
    rows = (json.dumps(row, default=str) + "\n" for row in report._row_records())
    artifacts.write_text(path / "rows.jsonl", "".join(rows))
    import matplotlib.pyplot as plt

    plt.close(report.plot(path / "scaling.png"))
    artifacts.seal(
        path,
        REPORT_KIND,
        REPORT_VERSION,
        meta={"benchmark": report.benchmark, "settings": len(report.settings)},
        exclude=lambda rel: rel not in REPORT_FILES,
    )
    return path


def _solution_lines(report: Report) -> list[str]:
    lines = []
    for i, s in enumerate(report.settings):
        answers: Sequence[Sequence[str | None] | None] = s.sample_answers or [None] * len(
            s.problems
        )
        for p, sol, ok, per, said in zip(
            s.problems, s.solutions, s.correct, s.sample_correct, answers, strict=True
        ):
            record = {
                "setting": i,
                "problem": dataclasses.asdict(p),
                "solution": solution_to_dict(sol),
                "correct": bool(ok),
                "sample_correct": [bool(c) for c in per],
                "sample_answers": None if said is None else list(said),
            }
            lines.append(json.dumps(record, sort_keys=True, default=str) + "\n")
    return lines


def load(cls: type[R], folder: str | Path) -> R:
    """Read a report (as ``cls``) saved by :func:`save`, or a finished run folder's, verified whole.

    Raises:
        ArtifactError: the folder is not a complete report, or a file is missing or damaged
            (named, with what writes it again).
    """
    # Imported here: report imports this module, and the run folder's imports report's.
    from .report import SettingResult
    from .run_dir import KIND, REPORT, VERSION

    path = Path(folder)
    found = artifacts.read_manifest(path) if path.is_dir() else None
    if found is not None and found.kind == KIND:  # a run folder: its report inside
        artifacts.verify(path, KIND, VERSION, rebuild=_REBUILD_RUN)
        path = path / REPORT
    artifacts.verify(path, REPORT_KIND, REPORT_VERSION, rebuild=_REBUILD)
    try:
        summary = json.loads((path / "report.json").read_text(encoding="utf-8"))
        records = [
            json.loads(line)
            for line in (path / "solutions.jsonl").read_text(encoding="utf-8").splitlines()
        ]
        settings = []
        for i, meta in enumerate(summary["settings"]):
            mine = [r for r in records if r["setting"] == i]
            answers = [r["sample_answers"] for r in mine]
            settings.append(
                SettingResult(
                    label=meta["label"],
                    budget=meta["budget"],
                    bounds=(meta["bounds"][0], meta["bounds"][1]),
                    problems=[Problem(**r["problem"]) for r in mine],
                    solutions=[solution_from_dict(r["solution"]) for r in mine],
                    correct=[r["correct"] for r in mine],
                    sample_correct=[r["sample_correct"] for r in mine],
                    majority_correct={int(k): v for k, v in meta["majority_correct"].items()},
                    sample_answers=() if any(a is None for a in answers) else answers,
                )
            )
        return cls(summary["benchmark"], settings, summary["manifest"], seed=summary["seed"])
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise ArtifactError(
            path, f"its contents cannot be read ({type(exc).__name__}: {exc})", _REBUILD
        ) from None
