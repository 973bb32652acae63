"""A resumable evaluation: the run folder of ``tr.evaluate(..., run_dir=...)``.

The folder (an artifact of kind ``"evaluation-run"``, :mod:`tinyreason.artifacts`) holds:

* ``settings.json``: the run's fingerprint, a hash of everything that changes its results (the
  benchmark's description and its problems, the scaler and its settings, the budgets, the backend
  or model, the grader, the answer kind, the seed, ``commit_every``), with the parts it hashes;
* ``results.jsonl``: one line per finished (budget, problem), appended as each call of the scaler
  returns, written with one ``write`` and an ``fsync`` per call, each line carrying a checksum;
* ``report/``: the finished run's report (kind ``"report"``, :meth:`Report.save`);
* ``tinyreason-manifest.json``: marked incomplete while the run is under way, sealed when it ends.

Problems are solved in fixed groups of ``commit_every`` (the same groups on every run, each with a
seed derived from the run's seed and its position), and a group is committed whole: its lines are
written together, and a group with a line missing or torn is not done. Rerun with the same
settings, the evaluation skips every committed group and generates only the rest, so its report
equals that of a run never interrupted. Torn lines at the end (a kill while writing) are dropped
and generated again; a damaged line before the end is an error naming the line.

This module keeps the folder; the fingerprint is :mod:`~tinyreason.evaluation.fingerprint`'s, the
results log :mod:`~tinyreason.evaluation.results_log`'s, the groups and their seeds
:mod:`~tinyreason.evaluation.solving`'s.

Example:
    >>> import tempfile, pathlib
    >>> from tinyreason import Generation, Problem, Solution
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> problems = [Problem("p0", "1+1?", "2"), Problem("p1", "2+2?", "4")]
    >>> run = RunFolder.open(folder, {"seed": 0}, problems, [None], commit_every=1)
    >>> run.todo(0)
    [(0, 0, 1), (1, 1, 2)]
    >>> g = Generation("2", "", "2", 1, 1)
    >>> run.commit(0, None, 0, [problems[0]], [Solution("p0", "2", (g,))])
    >>> run.close()
    >>> again = RunFolder.open(folder, {"seed": 0}, problems, [None], commit_every=1)
    >>> again.todo(0), sorted(again.done(0))
    ([(1, 1, 2)], [0])
    >>> again.close()
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import artifacts
from ..errors import ArtifactError, ConfigError, DataError
from ..records import Problem, Solution
from .fingerprint import VOLATILE as VOLATILE
from .fingerprint import fingerprint_of, problems_digest, stable
from .results_log import RESTART as _REBUILD
from .results_log import Group, ResultsLog
from .solution_json import solution_from_dict, solution_to_dict
from .solving import chunk_seed, groups

# The fingerprint (VOLATILE, fingerprint_of, stable), the groups' seeds (chunk_seed) and the
# solution JSON live in the modules that do those jobs, and stay importable from here.
__all__ = ["KIND", "VERSION", "RunFolder", "chunk_seed", "fingerprint_of", "stable"]

KIND = "evaluation-run"
VERSION = 1
SETTINGS = "settings.json"
RESULTS = "results.jsonl"
REPORT = "report"


class RunFolder:
    """The run folder of one evaluation: its settings, its committed results, its lock.

    Build it with :meth:`open`; :meth:`commit` each group of problems as the scaler returns it;
    :meth:`finish` with the report (saved in ``report/``, the folder sealed); :meth:`close`.
    Its results are a :class:`~tinyreason.evaluation.results_log.ResultsLog`, held (locked) from
    :meth:`open` to :meth:`close`.
    """

    def __init__(
        self,
        path: Path,
        problems: Sequence[Problem],
        budgets: Sequence[int | None],
        commit_every: int,
        log: ResultsLog,
        fingerprint: str,
    ) -> None:
        self.path = path
        self.problems = list(problems)
        self.budgets = list(budgets)
        self.commit_every = commit_every
        self.fingerprint = fingerprint
        self._log = log
        self._done: dict[int, dict[int, Solution]] = {i: {} for i in range(len(budgets))}
        #: Lines dropped from the end of results.jsonl on opening (torn by a kill).
        self.dropped = 0

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        settings: Mapping[str, Any],
        problems: Sequence[Problem],
        budgets: Sequence[int | None],
        *,
        commit_every: int,
        overwrite: bool = False,
    ) -> RunFolder:
        """Open (or create) the run folder for a run with ``settings``; writes no result.

        Raises:
            FolderNotOursError: a non-empty folder tinyreason did not write, or holds another
                kind of artifact (unless ``overwrite``).
            ConfigError: the folder holds a run with other settings (unless ``overwrite``, which
                starts it again), or another process is writing it.
            ArtifactError: the folder cannot be written, or its results are damaged.
        """
        full = {
            **stable(settings),
            "problems": {"count": len(problems), "sha256": problems_digest(problems)},
            "budgets": list(budgets),
            "commit_every": commit_every,
        }
        fingerprint = fingerprint_of(full)
        path = artifacts.check_output(folder, KIND, overwrite=overwrite)
        try:
            previous = _read_settings(path) if artifacts.is_ours(path) else None
        except ArtifactError:
            if not overwrite:
                raise
            previous = None  # unreadable settings, and the user said to start again
        fresh = previous is None or previous.get("fingerprint") != fingerprint
        if previous is not None and fresh and not overwrite:
            raise ConfigError(_mismatch(path, previous.get("settings"), full))
        # The report goes in report/ at the end: a folder there that is not ours is refused now.
        artifacts.check_output(path / REPORT, "report", overwrite=overwrite)
        artifacts.prepare(path, KIND, overwrite=overwrite)
        log = ResultsLog.open(path / RESULTS)
        try:
            run = cls(path, problems, budgets, commit_every, log, fingerprint)
            if not fresh:
                try:
                    run._load()
                except ArtifactError:
                    if not overwrite:
                        raise
                    fresh = True  # damaged results, and the user said to start again
                    run = cls(path, problems, budgets, commit_every, log, fingerprint)
            if fresh:
                run._reset(full)
        except BaseException:
            log.close()
            raise
        return run

    def _reset(self, settings: Mapping[str, Any]) -> None:
        """Start the run afresh: no results, no report, these settings."""
        # Results go first: killed before the settings are written, the folder holds no result
        # that the new settings' fingerprint would vouch for.
        self._log.clear()
        if artifacts.is_ours(self.path / REPORT):  # the old run's report: ours to remove
            shutil.rmtree(self.path / REPORT, ignore_errors=True)
        artifacts.write_json(
            self.path / SETTINGS,
            {"version": VERSION, "fingerprint": self.fingerprint, "settings": dict(settings)},
        )

    def _load(self) -> None:
        """Read the committed groups; the log drops a torn or unfinished group at its end."""
        self.dropped = self._log.read(self._group_key, self._accept)

    def _group_key(self, number: int, record: Mapping[str, Any]) -> tuple[int, int, int]:
        try:
            setting, chunk, size = int(record["setting"]), int(record["chunk"]), int(record["size"])
            index = int(record["index"])
        except (KeyError, TypeError, ValueError):
            raise self._log.damaged(number, "it lacks setting / chunk / size / index") from None
        if not 0 <= setting < len(self.budgets) or record.get("budget") != self.budgets[setting]:
            raise self._log.damaged(number, f"budget {record.get('budget')!r} is not this run's")
        start = chunk * self.commit_every
        expected = min(self.commit_every, len(self.problems) - start)
        if expected < 1 or size != expected or not start <= index < start + size:
            raise self._log.damaged(number, f"problem {index} is not in group {chunk}")
        if record.get("problem_id") != self.problems[index].id:
            raise self._log.damaged(
                number, f"it holds {record.get('problem_id')!r}, not problem {index}"
            )
        return setting, chunk, size

    def _accept(self, group: Group) -> None:
        for number, record in group:
            setting, index = int(record["setting"]), int(record["index"])
            if index in self._done[setting]:
                raise self._log.damaged(
                    number, f"problem {index} of budget {setting} is there twice"
                )
            try:
                self._done[setting][index] = solution_from_dict(record["solution"])
            except (KeyError, TypeError, ValueError, DataError) as exc:
                raise self._log.damaged(number, f"its solution cannot be read: {exc}") from None

    # -- running -----------------------------------------------------------------------------

    def chunks(self) -> list[tuple[int, int, int]]:
        """Every group of problems: (chunk, first index, end index)."""
        return groups(len(self.problems), self.commit_every)

    def todo(self, setting: int) -> list[tuple[int, int, int]]:
        """The groups of a budget not yet committed: (chunk, first index, end index)."""
        done = self._done[setting]
        return [c for c in self.chunks() if not all(i in done for i in range(c[1], c[2]))]

    def done(self, setting: int) -> dict[int, Solution]:
        """The committed solutions of a budget, by problem index."""
        return dict(self._done[setting])

    def commit(
        self,
        setting: int,
        budget: int | None,
        chunk: int,
        problems: Sequence[Problem],
        solutions: Sequence[Solution],
    ) -> None:
        """Append one group's solutions, one line each, in one write, then fsync."""
        start = chunk * self.commit_every
        self._log.append(
            {
                "setting": setting,
                "budget": budget,
                "chunk": chunk,
                "size": len(problems),
                "index": start + i,
                "problem_id": p.id,
                "solution": solution_to_dict(s),
            }
            for i, (p, s) in enumerate(zip(problems, solutions, strict=True))
        )
        for i, s in enumerate(solutions):
            self._done[setting][start + i] = s

    def finish(self, save: Callable[[Path], object], meta: Mapping[str, Any]) -> None:
        """Save the report in ``report/`` (``save(folder)``) and seal the run folder."""
        save(self.path / REPORT)
        artifacts.seal(
            self.path,
            KIND,
            VERSION,
            meta={"fingerprint": self.fingerprint, **meta},
            exclude=_not_ours,
        )

    def close(self) -> None:
        """Release the folder (its lock)."""
        self._log.close()


def _not_ours(rel: str) -> bool:
    """Files in the folder this run did not write (kept, never listed: overwrite=True)."""
    return rel not in (SETTINGS, RESULTS) and not rel.startswith(f"{REPORT}/")


def _read_settings(path: Path) -> dict[str, Any] | None:
    file = path / SETTINGS
    if not file.is_file():
        return None
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ArtifactError(file, f"it cannot be read ({exc})", _REBUILD) from None
    if not isinstance(data, dict):
        raise ArtifactError(file, "it is not a JSON object", _REBUILD)
    version = data.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ArtifactError(
            file,
            f"it was written by a newer tinyreason (run folder format {version!r}; this one "
            f"reads up to {VERSION})",
            "upgrade tinyreason (pip install -U tinyreason), or choose another run_dir",
        )
    return data


def _mismatch(path: Path, before: Any, now: Mapping[str, Any]) -> str:
    """Say which settings differ between the run in ``path`` and this one."""
    before = before if isinstance(before, Mapping) else {}
    keys = sorted(set(before) | set(now))
    differ = [k for k in keys if before.get(k) != now.get(k)]

    def short(value: Any) -> str:
        text = json.dumps(value, sort_keys=True, default=str)
        return text if len(text) <= 120 else text[:117] + "..."

    lines = [f"{k} was {short(before.get(k))}, now {short(now.get(k))}" for k in differ]
    return (
        f"run_dir {path} holds an evaluation with other settings: "
        + ("; ".join(lines) or "its fingerprint differs")
        + ". Rerun with the same settings to resume it, choose another run_dir, or pass "
        "overwrite=True to discard its results and start again."
    )
