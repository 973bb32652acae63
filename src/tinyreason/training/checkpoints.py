"""Checkpoints: sealed with a manifest after the Trainer writes them, verified before a resume.

The HF Trainer writes ``output_dir/checkpoint-<step>`` file by file (weights, optimizer, scheduler,
RNG state, ``trainer_state.json``) and nothing marks the folder complete: a run killed half-way
through a save leaves a folder that looks resumable and is not. Here:

* :func:`make_sealer`'s ``TrainerCallback`` seals each checkpoint once the Trainer has
  written it. transformers 5 calls ``on_save`` right after ``Trainer._save_checkpoint`` returns
  (``Trainer._maybe_log_save_evaluate``), so every file is there; in a distributed run every rank
  passes a gather first, so every rank's files are there too. The seal writes
  ``tinyreason-progress.json`` (token counts, loss sum, run time so far: what the student's metrics
  need to equal an uninterrupted run's) and then the manifest (kind ``"checkpoint"``), last.
* :func:`plan_resume` picks the newest checkpoint that verifies complete, reports each newer
  damaged one (a :class:`ResumeWarning` naming it and what is wrong) and removes it (the resumed
  run writes those steps again), and says what a checkpoint without optimizer state will lose.
  Only a verified path is ever handed to the Trainer.

Example:
    >>> import tempfile
    >>> plan_resume(tempfile.mkdtemp(), "auto", overwrite=False).checkpoint is None
    True
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import artifacts
from ..errors import ArtifactError, ConfigError, TinyReasonError

__all__ = [
    "CHECKPOINT_KIND",
    "CHECKPOINT_VERSION",
    "PROGRESS_FILE",
    "ResumePlan",
    "ResumeWarning",
    "RunComplete",
    "checkpoint_folders",
    "combine_counts",
    "is_checkpoint_name",
    "make_sealer",
    "plan_resume",
    "seal_checkpoint",
    "verify_checkpoint",
]

#: The manifest kind and format version of a checkpoint folder.
CHECKPOINT_KIND = "checkpoint"
CHECKPOINT_VERSION = 1
#: What tinyreason adds to each checkpoint: counts and times so far, for the final metrics.
PROGRESS_FILE = "tinyreason-progress.json"

_NAME = re.compile(r"^checkpoint-(\d+)$")
_REBUILD = (
    "resume from an earlier checkpoint (resume_from_checkpoint='auto' finds it) or train again"
)


class RunComplete(Exception):
    """Raised from inside the Trainer when the checkpoint resumed from already ends the run."""

    def __init__(self, step: int) -> None:
        super().__init__(f"the run is complete at step {step}")
        self.step = step


class ResumeWarning(TinyReasonError, UserWarning):
    """A resume that goes ahead, but not as the user may expect.

    A damaged checkpoint was skipped, or the one resumed from lacks optimizer, schedule or random
    state, or was saved with another base or other data.

    Example:
        >>> issubclass(ResumeWarning, UserWarning)
        True
    """


def is_checkpoint_name(name: str) -> bool:
    """Whether ``name`` is a Trainer checkpoint folder's name (``checkpoint-<step>``).

    Example:
        >>> is_checkpoint_name("checkpoint-12"), is_checkpoint_name("checkpoint-best")
        (True, False)
    """
    return _NAME.match(name) is not None


def checkpoint_folders(output_dir: str | Path) -> list[tuple[int, Path]]:
    """The ``checkpoint-<step>`` folders in ``output_dir``, oldest step first.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp())
        >>> for step in (10, 2):
        ...     (out / f"checkpoint-{step}").mkdir()
        >>> [step for step, _ in checkpoint_folders(out)]
        [2, 10]
    """
    folder = Path(output_dir)
    if not folder.is_dir():
        return []
    found = []
    for child in folder.iterdir():
        match = _NAME.match(child.name)
        if match and child.is_dir():
            found.append((int(match.group(1)), child))
    return sorted(found)


def verify_checkpoint(path: str | Path) -> artifacts.Manifest:
    """The checkpoint's manifest, after checking that it is complete and whole.

    Raises:
        ArtifactError: no manifest (its save was interrupted, or an older tinyreason wrote it), an
            incomplete or damaged one (naming the file), or no ``trainer_state.json``.
    """
    manifest = artifacts.verify(path, CHECKPOINT_KIND, CHECKPOINT_VERSION, rebuild=_REBUILD)
    if "trainer_state.json" not in manifest.files:
        raise ArtifactError(
            path, "it has no trainer_state.json: not a Trainer checkpoint", _REBUILD
        )
    return manifest


def seal_checkpoint(path: str | Path, *, meta: Mapping[str, Any] | None = None) -> Path:
    """Seal a checkpoint folder as it stands, so that a resume trusts it.

    The trainers seal their checkpoints themselves; this is for a checkpoint saved without a
    manifest (by an older tinyreason, or by your own ``sft_trainer().train()``) that you have
    checked by hand: it then verifies, and ``resume_from_checkpoint`` accepts it.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp()) / "checkpoint-3"
        >>> _ = artifacts.write_json(folder / "trainer_state.json", {"global_step": 3})
        >>> verify_checkpoint(seal_checkpoint(folder)).meta["step"]
        3
    """
    folder = Path(path)
    match = _NAME.match(folder.name)
    step = int(match.group(1)) if match else None
    artifacts.seal(folder, CHECKPOINT_KIND, CHECKPOINT_VERSION, meta={"step": step, **(meta or {})})
    return folder


def _lost_state(folder: Path) -> list[str]:
    """What a resume from ``folder`` cannot restore, each with what that changes."""
    names = {p.name for p in folder.iterdir()}
    deepspeed = any(n.startswith("global_step") for n in names)  # holds both states itself
    missing = []
    if not (deepspeed or any(n.startswith("optimizer") for n in names)):
        missing.append("optimizer.pt")
    if not (deepspeed or "scheduler.pt" in names):
        missing.append("scheduler.pt")
    lost = []
    if missing:
        # The Trainer restores the optimizer and the schedule only together: both, or neither.
        lost.append(
            f"the optimizer and the learning-rate schedule ({' and '.join(missing)} missing: "
            "AdamW's moments start again from zero and the schedule from its first warm-up step)"
        )
    if not any(n.startswith("rng_state") for n in names):
        lost.append("the random state (rng_state.pth missing: dropout and sampling differ)")
    return lost


def _read_progress(folder: Path) -> dict[str, Any] | None:
    path = folder / PROGRESS_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:  # verified by hash, so only a foreign seal gets here
        raise ArtifactError(folder, f"{PROGRESS_FILE} is damaged ({exc})", _REBUILD) from None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class ResumePlan:
    """Where a run starts: the checkpoint (verified) or None, and what to tidy first.

    Attributes:
        checkpoint: The verified checkpoint to resume from, or None for a fresh start.
        step: Its optimiser step (0 for a fresh start).
        progress: Its ``tinyreason-progress.json`` (None when absent: metrics then cover only
            the steps this run computes).
        remove: Checkpoint folders to delete before training: damaged ones newer than the one
            resumed from, or an earlier run's on a fresh start with ``overwrite=True``.
        notes: What the user must hear (each becomes a :class:`ResumeWarning`).
        meta: The checkpoint's manifest ``meta`` (step, trainer, base, data fingerprint).

    Example:
        >>> ResumePlan().step
        0
    """

    checkpoint: Path | None = None
    step: int = 0
    progress: Mapping[str, Any] | None = None
    remove: tuple[Path, ...] = ()
    notes: tuple[str, ...] = ()
    meta: Mapping[str, Any] = field(default_factory=dict)

    def warn(self) -> None:
        """Issue each note as a :class:`ResumeWarning`."""
        for note in self.notes:
            warnings.warn(note, ResumeWarning, stacklevel=4)

    def tidy(self) -> None:
        """Delete :attr:`remove` (rank 0 only, before training: the Trainer writes there next)."""
        for folder in self.remove:
            shutil.rmtree(folder, ignore_errors=True)


def _names(found: Sequence[tuple[Path, str]]) -> str:
    return "; ".join(f"{folder.name}: {problem}" for folder, problem in found)


def plan_resume(
    output_dir: str | Path,
    resume: bool | str | Path | None,
    *,
    overwrite: bool,
    trainer: str | None = None,
    base: str | None = None,
    data: str | None = None,
) -> ResumePlan:
    """Decide where a run starts, writing nothing (:meth:`ResumePlan.tidy` deletes, later).

    Args:
        output_dir: The run's folder, where the Trainer writes ``checkpoint-<step>``.
        resume: None or False: a fresh start (refused while an earlier run's checkpoints are
            there, unless ``overwrite``). True: the newest complete checkpoint, an error if none.
            ``"auto"``: the newest complete checkpoint, or a fresh start if none. A path: that
            checkpoint, which must verify.
        overwrite: On a fresh start, delete an earlier run's checkpoints instead of refusing.
        trainer: The trainer's name: a checkpoint another trainer saved (``lora`` for ``full``)
            is refused.
        base: The base model: another one recorded in the checkpoint is reported (a note).
        data: The data's fingerprint: other data recorded in the checkpoint is reported.

    Raises:
        ConfigError: nothing to resume from (True, or a path that does not exist), an earlier
            run's checkpoints on a fresh start, a newer complete checkpoint that resuming from an
            older path would overwrite, or a checkpoint of another trainer.
        ArtifactError: the checkpoint named by path does not verify.
    """
    out = Path(output_dir)
    folders = checkpoint_folders(out)
    if resume is None or resume is False:
        if not folders:
            return ResumePlan()
        names = ", ".join(f.name for _, f in folders[-3:])
        if not overwrite:
            raise ConfigError(
                f"{out} holds checkpoints of an earlier run ({names}); pass "
                "resume_from_checkpoint='auto' (--resume) to continue it, or overwrite=True "
                "(--overwrite) to start again (its checkpoints are deleted)."
            )
        return ResumePlan(remove=tuple(f for _, f in folders))
    damaged: list[tuple[Path, str]] = []
    chosen: Path | None = None
    manifest: artifacts.Manifest | None = None
    if resume is True or resume == "auto":
        for _, folder in reversed(folders):
            try:
                manifest = verify_checkpoint(folder)
            except ArtifactError as exc:
                damaged.append((folder, exc.problem))
                continue
            chosen = folder
            break
        if chosen is None:
            if resume is True:
                if not folders:
                    raise ConfigError(
                        f"resume_from_checkpoint=True but {out} holds no checkpoint-* folder; "
                        "train with save_steps=N (or save_strategy='epoch') first, pass a path, "
                        "or resume_from_checkpoint='auto' to start afresh when there is none."
                    )
                unsealed = any(artifacts.MANIFEST in problem for _, problem in damaged)
                raise ConfigError(
                    f"resume_from_checkpoint=True but no checkpoint in {out} is complete "
                    f"({_names(damaged)}); pass resume_from_checkpoint='auto' to start afresh "
                    "(the damaged checkpoints are deleted)"
                    + (
                        ". A checkpoint saved by an older tinyreason has no manifest: if you "
                        "have checked it, seal it with tinyreason.training.seal_checkpoint(folder)"
                        if unsealed
                        else ""
                    )
                    + "."
                )
            fresh: tuple[str, ...] = ()
            if damaged:
                fresh = (
                    f"no checkpoint in {out} is complete ({_names(damaged)}): starting afresh; "
                    "the damaged checkpoints are deleted.",
                )
            return ResumePlan(remove=tuple(f for f, _ in damaged), notes=fresh)
    else:
        chosen = Path(str(resume))
        if not chosen.is_dir():
            raise ConfigError(
                f"resume_from_checkpoint: no such checkpoint folder {str(resume)!r}; pass True, "
                "'auto' or a checkpoint-<step> folder"
            )
        manifest = verify_checkpoint(chosen)
        step = _step(manifest, chosen)
        for later, folder in folders:
            if later <= step or folder.resolve() == chosen.resolve():
                continue
            try:
                verify_checkpoint(folder)
            except ArtifactError as exc:
                damaged.append((folder, exc.problem))
                continue
            raise ConfigError(
                f"{folder} is a complete checkpoint newer than {chosen.name}: resuming from "
                f"{chosen} would write over it. Resume from it (resume_from_checkpoint='auto'), "
                "or move it away first."
            )
    assert manifest is not None and chosen is not None
    meta = dict(manifest.meta)
    if trainer is not None and meta.get("trainer") not in (None, trainer):
        raise ConfigError(
            f"{chosen} was saved by the {meta['trainer']!r} trainer, not {trainer!r}: resume with "
            f"tr.trainer({meta['trainer']!r}, ...), or start afresh in another output_dir."
        )
    changed = [
        f"{key} {meta[key]!r} (now {wanted!r})"
        for key, wanted in (("base", base), ("data", data))
        if wanted is not None and meta.get(key) not in (None, wanted)
    ]
    notes = [
        f"{folder.name} is damaged ({problem}): resuming from {chosen.name} instead; "
        f"{folder.name} is deleted (the resumed run writes those steps again)."
        for folder, problem in damaged
    ]
    if changed:
        notes.append(
            f"{chosen} was saved by a run with another {' and another '.join(changed)}: the "
            "resumed run mixes the two. Resume with the same base and data, or start afresh."
        )
    lost = _lost_state(chosen)
    if lost:
        notes.append(
            f"{chosen} lacks {'; and '.join(lost)}. The run resumes from its weights, but will "
            "not equal an uninterrupted one."
        )
    return ResumePlan(
        chosen,
        _step(manifest, chosen),
        _read_progress(chosen),
        tuple(f for f, _ in damaged),
        tuple(notes),
        meta,
    )


def _step(manifest: artifacts.Manifest, folder: Path) -> int:
    """The optimiser step a checkpoint was saved at: its manifest's, else its Trainer state's."""
    step = manifest.meta.get("step")
    if isinstance(step, int) and not isinstance(step, bool):
        return step
    return _state_step(folder)


def _state_step(folder: Path) -> int:
    try:
        state = json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
        return int(state.get("global_step", 0))
    except (OSError, ValueError, TypeError, AttributeError):
        return 0


def combine_counts(
    before: Sequence[Mapping[str, int]] | None, now: Sequence[Mapping[str, int]]
) -> list[dict[str, int]]:
    """Per-rank counts of a whole run: a checkpoint's (``before``) plus this process group's.

    After a resume on another number of processes the ranks do not match: the earlier counts
    are added to the first rank, so the totals stay right.

    Example:
        >>> combine_counts([{"tokens": 5}], [{"tokens": 2}])
        [{'tokens': 7}]
        >>> combine_counts([{"tokens": 5}], [{"tokens": 2}, {"tokens": 3}])
        [{'tokens': 7}, {'tokens': 3}]
    """
    merged = [dict(c) for c in now]
    if not before:
        return merged
    if len(before) == len(merged):
        return [
            {k: v + int(b.get(k, 0)) for k, v in c.items()}
            for c, b in zip(merged, before, strict=True)
        ]
    for b in before:
        for key, value in b.items():
            merged[0][key] = merged[0].get(key, 0) + int(value)
    return merged


@functools.cache
def _sealer_class() -> type:
    from transformers import TrainerCallback

    from ._runtime import all_ranks

    class CheckpointSealer(TrainerCallback):  # type: ignore[misc]
        """Seals every ``checkpoint-<step>`` the Trainer saves (see :func:`make_sealer`)."""

        def __init__(
            self, meta: Mapping[str, Any], counter: Any, before: Mapping[str, Any] | None
        ) -> None:
            self.meta = dict(meta)
            self.counter = counter
            self.before = dict(before or {})
            self.trainer: Any = None
            self.started = time.perf_counter()

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            self.started = time.perf_counter()

        def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            # Resumed from a checkpoint at (or past) the last step, transformers 5 still runs one
            # more step before it checks: stop before it computes anything.
            if state.max_steps > 0 and state.global_step >= state.max_steps:
                raise RunComplete(state.global_step)

        def progress(self, counts: list[dict[str, int]], step: int) -> dict[str, Any]:
            """The run so far, the checkpoint this run resumed from included."""
            loss_sum = None
            # The Trainer's running sum (logged windows) plus the loss since the last log: what
            # its own train_loss divides by the step count at the end.
            total = getattr(self.trainer, "_total_loss_scalar", None)
            pending = getattr(self.trainer, "_tr_loss", None)
            if isinstance(total, float) and pending is not None:
                loss_sum = total + float(pending.item())
                if self.before:
                    earlier = self.before.get("loss_sum")
                    loss_sum = None if earlier is None else loss_sum + float(earlier)
            runtime = float(self.before.get("runtime_s", 0.0))
            return {
                "step": step,
                "counts": combine_counts(self.before.get("counts"), counts),
                "loss_sum": loss_sum,
                "runtime_s": runtime + time.perf_counter() - self.started,
            }

        def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            # A collective: once it returns, every rank is past its own part of the save.
            counts = all_ranks(self.counter.counts() if self.counter is not None else {})
            if not state.is_world_process_zero or not folder.is_dir():
                return
            artifacts.write_json(folder / PROGRESS_FILE, self.progress(counts, state.global_step))
            seal_checkpoint(folder, meta=self.meta)

    return CheckpointSealer


def make_sealer(
    meta: Mapping[str, Any], counter: Any, before: Mapping[str, Any] | None = None
) -> Any:
    """A ``TrainerCallback`` that seals every checkpoint the Trainer saves; set its ``trainer``.

    Args:
        meta: What each checkpoint's manifest records besides its step (``trainer``, ``base``,
            the data fingerprint).
        counter: The run's :class:`~tinyreason.training._runtime.TokenCounter` (or None).
        before: The progress of the checkpoint this run resumed from (None on a fresh start).

    Example:
        >>> sealer = make_sealer({"trainer": "full"}, counter=None)
        >>> sealer.meta["trainer"], type(sealer).__name__
        ('full', 'CheckpointSealer')
    """
    return _sealer_class()(meta, counter, before)
