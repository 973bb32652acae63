"""How saved Selection and traces folders are laid out and read back, verified, by any stage.

A saved selection is a folder::

    kept/                     the kept Dataset (datasets.load_from_disk reads it)
    dropped.parquet           the audit table: id, question, stage, reason, detail of every drop
    selection.json            Selection.summary(): funnel, reasons, settings, domains, lengths
    selection.png             funnel + kept domains + kept trace lengths (optional)
    tinyreason-manifest.json  kind "selection": every file's size and sha256, complete last

The selection stage writes it (``Selection.save``); training reads it (``tinyreason train
FOLDER``) through :func:`read_selection` here, without importing the selection stage.

A saved traces Dataset (what ``tinyreason distil`` writes, :func:`save_traces`) is a folder::

    traces/                   the Dataset (datasets.load_from_disk reads it)
    summary.json              what the run reports (rows, failures, spend...)
    tinyreason-manifest.json  kind "traces"

Example:
    >>> import tempfile, pathlib
    >>> read_selection(pathlib.Path(tempfile.mkdtemp()))
    Traceback (most recent call last):
    ...
    tinyreason.errors.ArtifactError: ...holds no saved Selection...
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .. import artifacts
from ..errors import ArtifactError, UnverifiedArtifactWarning
from .results import Selection, Stage

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = [
    "DROPPED_FILE",
    "KEPT_DIR",
    "PLOT_FILE",
    "SELECTION_KIND",
    "SELECTION_VERSION",
    "STUDENT_KIND",
    "STUDENT_REBUILD",
    "STUDENT_VERSION",
    "SUMMARY_FILE",
    "TRACES_DIR",
    "TRACES_KIND",
    "is_saved_selection",
    "is_saved_traces",
    "read_selection",
    "read_traces",
    "save_traces",
    "verify_student",
]

SUMMARY_FILE = "selection.json"
KEPT_DIR = "kept"
DROPPED_FILE = "dropped.parquet"
PLOT_FILE = "selection.png"
#: The manifest kind and the newest format version written and read.
SELECTION_KIND = "selection"
SELECTION_VERSION = 1
#: The manifest kind and format version of a trained student's folder, and what writes one.
STUDENT_KIND = "trained-student"
STUDENT_VERSION = 1
STUDENT_REBUILD = "train it again: tr.trainer(...).train(...) / tinyreason train ..."
#: The trainer's record in a student's folder (format, base, metrics...).
STUDENT_RECORD = "tinyreason.json"
TRACES_DIR = "traces"
TRACES_SUMMARY = "summary.json"
TRACES_KIND = "traces"
TRACES_VERSION = 1

_REBUILD = "write it again with selection.save(folder) (or `tinyreason select ... --out FOLDER`)"


def is_saved_selection(folder: str | Path) -> bool:
    """True if ``folder`` looks like a saved Selection (ours, or an older unverified one).

    Example:
        >>> import tempfile
        >>> is_saved_selection(tempfile.mkdtemp())
        False
    """
    path = Path(folder)
    manifest = artifacts.read_manifest(path) if artifacts.is_ours(path) else None
    if manifest is not None:
        return manifest.kind == SELECTION_KIND
    return (path / SUMMARY_FILE).is_file()


def read_selection(folder: str | Path, cls: type[Selection] = Selection) -> Selection:
    """Read a folder written by ``Selection.save`` back, after verifying its manifest.

    A folder saved before manifests existed (``selection.json`` without
    ``tinyreason-manifest.json``) still loads, with a warning that nothing could be verified.

    Args:
        folder: The saved selection.
        cls: The Selection class to build (the selection stage passes its own subclass, and
            gets one back).

    Raises:
        ArtifactError: the folder is not a saved selection, is incomplete, damaged (naming the
            file), or was written by a newer tinyreason.
    """
    path = Path(folder)
    if artifacts.is_ours(path):
        artifacts.verify(path, SELECTION_KIND, SELECTION_VERSION, rebuild=_REBUILD)
    elif (path / SUMMARY_FILE).is_file() and (path / KEPT_DIR).is_dir():
        warnings.warn(
            f"{path} was saved by an older tinyreason without a manifest, so it cannot be "
            "verified; save it again to add one.",
            UnverifiedArtifactWarning,
            stacklevel=2,
        )
    else:
        raise ArtifactError(
            path, f"it holds no saved Selection (no {SUMMARY_FILE} and {KEPT_DIR}/)", _REBUILD
        )
    try:
        summary = json.loads((path / SUMMARY_FILE).read_text(encoding="utf-8"))
        funnel = summary["funnel"]
        kept = _load_kept(path / KEPT_DIR)
        dropped = _load_dropped(path / DROPPED_FILE)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # Only an unverified (old) folder gets here with damage: a verified one matched its hashes.
        raise ArtifactError(
            path, f"it is damaged ({type(exc).__name__}: {exc})", _REBUILD
        ) from None
    infos = [{k: v for k, v in s.items() if k != "name"} for s in summary.get("stages", [])]
    infos += [{}] * (len(funnel) - len(infos))
    stages = tuple(
        Stage(name, rows_in, rows_out, info)
        for (name, rows_in, rows_out), info in zip(funnel, infos, strict=False)
    )
    drops = (dropped,) if dropped is not None and len(dropped) else ()
    return cls(kept, drops, stages)


def _load_kept(folder: Path) -> Dataset:
    from datasets import load_from_disk

    try:
        return load_from_disk(str(folder))
    except FileNotFoundError as exc:
        raise OSError(str(exc)) from None


def _load_dropped(path: Path) -> Dataset | None:
    if not path.is_file():
        return None
    import pyarrow.parquet as pq
    from datasets import Dataset
    from datasets.table import InMemoryTable

    # Not Dataset.from_parquet: it refuses a file with no rows ("corresponds to no data"),
    # which is what a selection that dropped nothing writes.
    try:
        table = pq.read_table(str(path))
    except Exception as exc:  # pyarrow raises its own ArrowInvalid for a damaged file
        raise ValueError(f"{path.name}: {exc}") from None
    return Dataset(InMemoryTable(table)) if table.num_rows else None


_TRACES_REBUILD = "write it again with `tinyreason distil` (cached replies are not paid twice)"


def save_traces(
    dataset: Dataset,
    folder: str | Path,
    *,
    summary: Mapping[str, object] | None = None,
    overwrite: bool = False,
) -> Path:
    """Save a traces Dataset into ``folder`` whole, with a manifest sealed last.

    Args:
        dataset: The traces (``teacher.distill``'s output).
        folder: A new or empty folder, or one a previous save wrote.
        summary: What the run reports, saved as ``summary.json``.
        overwrite: Save into a non-empty folder tinyreason did not write (only our files are
            replaced).

    Example:
        >>> import tempfile, pathlib
        >>> from datasets import Dataset
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "traces"
        >>> _ = save_traces(Dataset.from_dict({"question": ["1+1?"]}), folder)
        >>> list(read_traces(folder)["question"])
        ['1+1?']
    """
    path = artifacts.prepare(folder, TRACES_KIND, overwrite=overwrite)
    with artifacts.writing(path / TRACES_DIR) as temp:
        dataset.save_to_disk(str(temp))
    artifacts.write_json(path / TRACES_SUMMARY, {"rows": len(dataset), **dict(summary or {})})
    artifacts.seal(path, TRACES_KIND, TRACES_VERSION, meta={"rows": len(dataset)})
    return path


def is_saved_traces(folder: str | Path) -> bool:
    """True if ``folder`` holds our manifest of kind "traces" (complete or not)."""
    path = Path(folder)
    manifest = artifacts.read_manifest(path) if artifacts.is_ours(path) else None
    return manifest is not None and manifest.kind == TRACES_KIND


def read_traces(folder: str | Path) -> Dataset:
    """Read a folder written by :func:`save_traces`, after verifying it.

    Raises:
        ArtifactError: incomplete, damaged (naming the file), or written by a newer tinyreason.
    """
    path = Path(folder)
    artifacts.verify(path, TRACES_KIND, TRACES_VERSION, rebuild=_TRACES_REBUILD)
    try:
        return _load_kept(path / TRACES_DIR)
    except (OSError, ValueError) as exc:
        raise ArtifactError(
            path, f"it is damaged ({type(exc).__name__}: {exc})", _TRACES_REBUILD
        ) from None


def verify_student(folder: str | Path, *, warn: type[Warning] = UnverifiedArtifactWarning) -> bool:
    """Verify a trained student's folder before any stage loads it; True if tinyreason saved it.

    A folder with our manifest must verify; one with ``tinyreason.json`` but no manifest (saved
    by an older tinyreason) loads with a ``warn`` warning; any other folder (a model trained
    elsewhere) gives False.

    Raises:
        ArtifactError: the student's save did not finish, or a file is missing or damaged.

    Example:
        >>> import tempfile
        >>> verify_student(tempfile.mkdtemp())
        False
    """
    path = Path(folder)
    if artifacts.is_ours(path):
        artifacts.verify(path, STUDENT_KIND, STUDENT_VERSION, rebuild=STUDENT_REBUILD)
        return True
    if (path / STUDENT_RECORD).is_file():
        warnings.warn(
            f"{path} was saved by an older tinyreason without a manifest, so its files cannot "
            "be verified; train it again (or load it anyway, as now).",
            warn,
            stacklevel=2,
        )
        return True
    return False
