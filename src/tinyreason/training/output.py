"""The student's folder: checked before any compute, written whole.

Before a model loads (:func:`check_output_folder`): an existing non-empty folder that tinyreason
did not write is refused (a :class:`~tinyreason.errors.FolderNotOursError`) unless
``overwrite=True``; so are a folder that cannot be written and a disk with too little free space
for the student and its checkpoints (:func:`estimate_output_bytes`, from the base's size; skipped
when that size is unknown).

While writing (:class:`StudentFolder`): the folder is marked ours and incomplete first, the model,
tokenizer, ``tinyreason.json`` and card are written, and the manifest is sealed last. Files the
user had there and tinyreason did not write are left alone and kept out of the manifest; files of
an earlier student of ours that this one does not write again are removed.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (folder / "notes.txt").write_text("mine")
    >>> check_output_folder(folder)
    Traceback (most recent call last):
    ...
    tinyreason.errors.FolderNotOursError: ...holds 1 file tinyreason did not write (notes.txt)...
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import artifacts

# A student's manifest kind and version live in the records, so any stage can verify one.
from ..records.saved import STUDENT_KIND, STUDENT_REBUILD, STUDENT_VERSION
from .basemodel import model_size
from .checkpoints import is_checkpoint_name

__all__ = [
    "OVERWRITE_OPTION",
    "STUDENT_KIND",
    "STUDENT_REBUILD",
    "STUDENT_VERSION",
    "StudentFolder",
    "check_output_folder",
    "estimate_output_bytes",
]

#: How a user allows writing into a folder that holds other files, for the messages.
OVERWRITE_OPTION = "overwrite=True (--overwrite on the command line)"

#: Where transformers' tensorboard callback writes inside the output folder by default
#: (``runs/<date>_<host>``): the run's logs, part of the student.
LOGS = "runs"

_TORCH_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def _saves(trainer: Any, steps: int, after: int) -> int:
    """How many checkpoints the run writes after step ``after``."""
    if trainer.save_strategy == "steps" and trainer.save_steps:
        return max(0, steps // trainer.save_steps - after // trainer.save_steps)
    if trainer.save_strategy == "epoch":
        return max(1, math.ceil(trainer.epochs)) if trainer.max_steps is None else 1
    return 0


def estimate_output_bytes(
    trainer: Any, steps: int, *, resume_step: int = 0, kept: int = 0
) -> int | None:
    """Disk space a run needs in its output folder: the student and the checkpoints it adds.

    Full fine-tuning: the student holds the weights in their training dtype (float32 unless
    ``model_dtype``), and each checkpoint the weights and AdamW's two moments (3x). LoRA: the
    adapter and its checkpoints are small and not counted; ``merge=True`` counts the merged model
    (the base's size). ``save_total_limit`` caps the checkpoints kept at once (plus the one being
    written). Tokenizers and logs are not counted; 5% is added.

    Args:
        trainer: The trainer (its base, dtype and checkpoint options).
        steps: Optimiser steps of the whole run.
        resume_step: The step the run resumes from (checkpoints before it exist already).
        kept: Checkpoints already in the folder.

    Returns:
        Bytes, or None when the base's size is unknown.
    """
    size = model_size(trainer.base)
    if size is None:
        return None
    parameters, stored = size
    if getattr(trainer, "is_lora", False):
        student, checkpoint = (stored if getattr(trainer, "merge", False) else 0), 0
    else:
        weights = parameters * _TORCH_BYTES.get(trainer.model_dtype or "float32", 4)
        student, checkpoint = weights, 3 * weights
    new = _saves(trainer, steps, resume_step)
    if trainer.save_total_limit is not None:
        new = max(0, min(kept + new, trainer.save_total_limit + 1) - kept)
    return int((student + new * checkpoint) * 1.05)


def check_output_folder(
    folder: str | Path, *, overwrite: bool = False, need_bytes: int = 0
) -> Path:
    """Check that a student may be written to ``folder``, writing nothing.

    Raises:
        FolderNotOursError: a non-empty folder tinyreason did not write (without ``overwrite``).
        ArtifactError: not a folder, not writable, or too little free disk space.
    """
    return artifacts.check_output(
        folder, STUDENT_KIND, overwrite=overwrite, need_bytes=need_bytes, option=OVERWRITE_OPTION
    )


def _stat(path: Path) -> tuple[int, int, int]:
    info = path.stat()
    return info.st_ino, info.st_size, info.st_mtime_ns


def _files(folder: Path) -> dict[str, tuple[int, int, int]]:
    """Every file of the folder but the manifest, temporaries and checkpoints, with its stat."""
    found = {}
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        first = rel.split("/")[0]
        if rel == artifacts.MANIFEST or first.startswith(artifacts.TEMP_PREFIX):
            continue
        if is_checkpoint_name(first) or not path.is_file():
            continue
        found[rel] = _stat(path)
    return found


class StudentFolder:
    """A student's output folder while a trainer writes it (rank 0 only).

    Args:
        path: The folder.
        overwrite: Allow a folder holding files tinyreason did not write.

    Example:
        >>> import tempfile, pathlib
        >>> out = StudentFolder(pathlib.Path(tempfile.mkdtemp()) / "student")
        >>> out.open()
        >>> _ = artifacts.write_text(out.path / "config.json", "{}")
        >>> sorted(out.seal({"trainer": "full"}).files)
        ['config.json']
    """

    def __init__(self, path: str | Path, *, overwrite: bool = False) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        self._before: dict[str, tuple[int, int, int]] = {}
        self._ours: set[str] = set()
        self._logs: set[str] = set()  # earlier sessions' tracker logs of a resumed run

    def open(self, *, resuming: bool = False) -> None:
        """Mark the folder ours and incomplete, remembering what was there before.

        Args:
            resuming: The run goes on from a checkpoint: the tracker logs its earlier sessions
                wrote under ``runs/`` are part of it (a fresh start leaves an earlier run's
                logs out of the student, and removes them if they were part of one).
        """
        previous = artifacts.read_manifest(self.path) if artifacts.is_ours(self.path) else None
        if previous is not None and previous.kind == STUDENT_KIND:
            self._ours = set(previous.files)
        artifacts.prepare(
            self.path, STUDENT_KIND, overwrite=self.overwrite, option=OVERWRITE_OPTION
        )
        self._before = _files(self.path)
        if resuming:
            self._logs = {rel for rel in self._before if rel.split("/")[0] == LOGS}

    def _exclude(self) -> Callable[[str], bool]:
        now = _files(self.path)
        untouched = {rel for rel, stat in now.items() if self._before.get(rel) == stat} - self._logs
        # An earlier student's file that this one did not write again would be mistaken for
        # part of it (an old model.safetensors beside a new adapter): it goes.
        for rel in sorted(untouched & self._ours):
            target = self.path / rel
            target.unlink(missing_ok=True)
            for parent in target.parents:
                if parent == self.path:
                    break
                try:
                    parent.rmdir()  # only when empty
                except OSError:
                    break
        foreign = untouched - self._ours  # the user's own files: left alone, not in the manifest

        def exclude(rel: str) -> bool:
            return is_checkpoint_name(rel.split("/")[0]) or rel in foreign

        return exclude

    def seal(self, meta: dict[str, Any]) -> artifacts.Manifest:
        """Seal the student: every file written since :meth:`open`, the manifest last."""
        return artifacts.seal(
            self.path, STUDENT_KIND, STUDENT_VERSION, meta=meta, exclude=self._exclude()
        )
