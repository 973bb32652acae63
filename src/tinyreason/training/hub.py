"""A trained student on the Hugging Face Hub: the files its manifest lists, its card, one commit.

What is published is the student as sealed: every file its manifest (``tinyreason-manifest.json``)
lists (the model or adapter, the tokenizer, ``tinyreason.json``, the tracker logs under ``runs/``)
and the manifest itself, so a copy downloaded from the Hub verifies and loads with
``tr.TrainedStudent.load`` as the folder does. Checkpoints (``checkpoint-<step>/``: optimiser
state, many times the model's size) and files of yours that the manifest does not list stay out.

The card (``README.md``) is built again for the repo with huggingface_hub's ``ModelCard``
(:func:`~tinyreason.training.card.student_card`): the repo's name as title, the Hub metadata
(``base_model``, ``datasets``, ``license``, ``tags``) and, from ``tr.evaluate`` reports, each
budget's accuracy as eval results. The published manifest lists that card, so the repo is
self-consistent; the folder on disk is not changed.
"""

from __future__ import annotations

import glob
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import artifacts
from .._secrets import scrub
from ..errors import ArtifactError, ConfigError
from ..hub import folder_operations, text_operation
from .output import STUDENT_KIND, STUDENT_REBUILD, STUDENT_VERSION

if TYPE_CHECKING:
    from huggingface_hub import CommitOperationAdd, ModelCard

    from ..records import TrainedStudent

__all__ = ["CARD", "publish_card", "student_operations"]

#: The card's name in the folder and in the repo.
CARD = "README.md"


def _check_reports(reports: Sequence[Any]) -> list[Any]:
    if not isinstance(reports, (list, tuple)):
        raise ConfigError(f"reports must be a list of tr.evaluate Reports, got {type(reports)!r}")
    for report in reports:
        if not (hasattr(report, "benchmark") and callable(getattr(report, "table", None))):
            raise ConfigError(
                f"reports must hold tr.evaluate Reports (or Report.load(folder)), got "
                f"{type(report).__name__}"
            )
    return list(reports)


def publish_card(
    student: TrainedStudent,
    name: str,
    *,
    reports: Sequence[Any] = (),
    datasets: Sequence[str] = (),
    license: str | None = None,
    tags: Sequence[str] = (),
) -> ModelCard:
    """The card a push publishes: the training card of ``student``, titled ``name``, with results.

    Example:
        >>> from pathlib import Path
        >>> from tinyreason.training import TrainedStudent
        >>> s = TrainedStudent(Path("runs/s"), "qwen-s1", "Qwen/Qwen2.5-0.5B-Instruct",
        ...                    {"steps": 5.0}, {"trainer": "full", "format": "qwen-s1"})
        >>> card = publish_card(s, "my-s1", datasets=["simplescaling/s1K-1.1"], license="mit")
        >>> card.data.base_model, card.data.datasets, card.data.license
        ('Qwen/Qwen2.5-0.5B-Instruct', ['simplescaling/s1K-1.1'], 'mit')
    """
    from .card import student_card

    hyper = dict(student.hyperparameters)
    fmt = hyper.get("format") or getattr(student.format, "name", None) or str(student.format)
    return student_card(
        name,
        base=student.base,
        trainer_name=str(hyper.get("trainer", "sft")),
        format_name=str(fmt),
        data=student.data,
        hyperparameters=hyper,
        metrics=student.metrics,
        adapter=(Path(student.path) / "adapter_config.json").is_file(),
        datasets=datasets,
        license=license,
        tags=tags,
        reports=_check_reports(reports),
    )


def _excluded(folder: Path, listed: set[str]) -> list[str]:
    """Globs for everything under ``folder`` the manifest does not list (checkpoints, yours)."""
    tops = {rel.split("/")[0] for rel in listed}
    patterns = [glob.escape(CARD), glob.escape(artifacts.MANIFEST)]
    for entry in folder.iterdir():
        name = glob.escape(entry.name)
        if entry.name not in tops:  # a checkpoint, a temporary, a file or folder of yours
            patterns += [name, f"{name}/*"]
        elif entry.is_dir():  # a folder of ours (runs/, adapter/): only the files it lists
            for path in entry.rglob("*"):
                rel = path.relative_to(folder).as_posix()
                if path.is_file() and rel not in listed:
                    patterns.append(glob.escape(rel))
    return patterns


def student_operations(
    student: TrainedStudent,
    name: str,
    *,
    reports: Sequence[Any] = (),
    datasets: Sequence[str] = (),
    license: str | None = None,
    tags: Sequence[str] = (),
) -> list[CommitOperationAdd]:
    """Everything ``push_to_hub`` commits, after verifying the folder: files, card, manifest.

    Raises:
        ArtifactError: the folder is not a complete student (no manifest, its save did not
            finish, a file is missing or damaged).
        ConfigError: ``reports`` holds something other than Reports.
    """
    folder = Path(student.path)
    if not artifacts.is_ours(folder):
        raise ArtifactError(
            folder,
            "it has no tinyreason manifest, so what makes up the student is unknown",
            f"{STUDENT_REBUILD}; or upload it yourself with huggingface_hub's upload_folder",
        )
    manifest = artifacts.verify(folder, STUDENT_KIND, STUDENT_VERSION, rebuild=STUDENT_REBUILD)
    card = publish_card(
        student, name, reports=reports, datasets=datasets, license=license, tags=tags
    )
    card_text = scrub(str(card))
    listed = set(manifest.files)
    operations = folder_operations(folder, exclude=_excluded(folder, listed))
    found = {op.path_in_repo for op in operations}
    missing = sorted(listed - {CARD} - found)
    if missing:  # verify() passed, so only a file removed since could be missing
        raise ArtifactError(folder, f"{missing[0]} is missing", STUDENT_REBUILD)
    # The published manifest lists the published card, so a downloaded copy verifies.
    data = card_text.encode("utf-8")
    files = dict(manifest.files)
    files[CARD] = artifacts.FileEntry(len(data), hashlib.sha256(data).hexdigest())
    published = artifacts.Manifest(
        manifest.kind,
        manifest.version,
        True,
        dict(sorted(files.items())),
        manifest.writer,
        manifest.created,
        dict(manifest.meta),
    )
    return [
        *operations,
        text_operation(card_text, CARD),
        text_operation(json.dumps(published.to_dict(), indent=2) + "\n", artifacts.MANIFEST),
    ]
