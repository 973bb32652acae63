"""What a trainer returns: where the student is, how it was trained, how training went."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ArtifactError, ConfigError, DataError, UnverifiedArtifactWarning
from ..records import TrainedStudent as StudentRecord
from ..records.saved import verify_student
from .output import STUDENT_REBUILD

__all__ = ["TrainedStudent", "UnverifiedStudentWarning"]


class UnverifiedStudentWarning(UnverifiedArtifactWarning):
    """A student folder saved by an older tinyreason, without a manifest: it loads unverified.

    Example:
        >>> issubclass(UnverifiedStudentWarning, UserWarning)
        True
    """


class TrainedStudent(StudentRecord):
    """A fine-tuned student saved on disk, with what a user does with one: load it, serve it.

    The record (:class:`tinyreason.records.TrainedStudent`: path, format, base, metrics,
    hyperparameters, data) is what the Trainer protocol returns; trainers return this class.

    Example:
        >>> import tinyreason as tr
        >>> fmt = tr.chat_format("think-tags")
        >>> s = TrainedStudent(Path("runs/s"), fmt, "base", {"final_loss": 0.05})
        >>> s.metrics["final_loss"]
        0.05
    """

    def backend(self, name: str = "transformers", **options: Any) -> Any:
        """A generation backend over this student, with its format (for ``tr.evaluate``)."""
        from ..registry import build

        options.setdefault("format", self.format)
        return build("backend", name, model=str(self.path), **options)

    def push_to_hub(
        self,
        repo_id: str,
        *,
        private: bool = True,
        token: str | None = None,
        reports: Sequence[Any] = (),
        datasets: Sequence[str] = (),
        license: str | None = None,
        tags: Sequence[str] = (),
        commit_message: str = "Upload a student with tinyreason",
        revision: str | None = None,
        endpoint: str | None = None,
    ) -> Any:
        """Publish the student to the Hub as a model repo, in one commit.

        The files its manifest lists (the model or adapter, tokenizer, ``tinyreason.json``, the
        tracker logs under ``runs/``) and the manifest go up, so the repo downloads and loads
        with :meth:`load` as the folder does; checkpoints and files of yours the manifest does not
        list stay out. The card is built with huggingface_hub's ``ModelCard``: the folder's card
        titled with the repo's name, with ``datasets``, ``license``, ``tags`` and each report's
        accuracy per budget as eval results (:mod:`tinyreason.training.hub`).

        Args:
            repo_id: ``owner/name`` of the model repo (created if missing).
            private: Create it private (default) or public.
            token: A Hub token; None uses huggingface_hub's login (``hf auth login`` or
                ``HF_TOKEN``). It is sent to the Hub only, never written to the card or a log.
            reports: ``tr.evaluate`` Reports (or ``Report.load(folder)``) for the eval results.
            datasets: Hub datasets it was trained on (e.g. the repo a Selection was pushed to).
            license: The model's license (mind the base model's and the teachers' terms).
            tags: Tags besides tinyreason's.
            commit_message: The commit's message.
            revision: The branch to commit to (default: main).
            endpoint: A Hub mirror or enterprise Hub (default: ``HF_ENDPOINT``'s).

        Returns:
            huggingface_hub's ``CommitInfo``.

        Raises:
            ArtifactError: the folder is not a complete, undamaged student.
            ConfigError: ``repo_id`` is not ``owner/name``; ``reports`` holds other things.
            HubError: the Hub refused or could not be reached.

        Example:
            >>> student = tr.TrainedStudent.load("runs/s1-full")  # doctest: +SKIP
            >>> student.push_to_hub("me/s1-mine", reports=[report])  # doctest: +SKIP
        """
        from ..hub import push
        from .hub import student_operations

        if not isinstance(repo_id, str) or repo_id.count("/") != 1 or not all(repo_id.split("/")):
            raise ConfigError(f"repo_id must be 'owner/name', got {repo_id!r}")
        operations = student_operations(
            self,
            repo_id.split("/")[1],
            reports=reports,
            datasets=datasets,
            license=license,
            tags=tags,
        )
        return push(
            repo_id,
            operations,
            repo_type="model",
            private=private,
            token=token,
            commit_message=commit_message,
            revision=revision,
            endpoint=endpoint,
        )

    @classmethod
    def load(cls, path: str | Path) -> TrainedStudent:
        """A student saved by a tinyreason trainer, with its format, after verifying its folder.

        The folder's manifest (``tinyreason-manifest.json``) must be complete and every file it
        lists present and whole (small files are hashed again; weights are checked by size). A
        folder saved by an older tinyreason, with ``tinyreason.json`` but no manifest, loads with
        an :class:`UnverifiedStudentWarning`.

        Raises:
            ArtifactError: the folder is missing, incomplete (its writing did not finish),
                damaged (naming the file) or written by a newer tinyreason.
            DataError: the folder has no ``tinyreason.json`` (not trained by tinyreason).

        Example:
            >>> TrainedStudent.load("no/such/student")
            Traceback (most recent call last):
            ...
            tinyreason.errors.ArtifactError: no/such/student: no such folder; train it again...
        """
        from ..students.formats import saved_format

        folder = Path(path)
        if not folder.is_dir():
            problem = "no such folder" if not folder.exists() else "not a folder"
            raise ArtifactError(folder, problem, STUDENT_REBUILD)
        verify_student(folder, warn=UnverifiedStudentWarning)  # the one check every stage runs
        manifest = folder / "tinyreason.json"
        if not manifest.is_file():
            raise DataError(
                f"{folder} has no tinyreason.json; for a model trained elsewhere use "
                "tr.backend('transformers', model=path, format=...)."
            )
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
            fmt = saved_format(folder)
            if not isinstance(data, dict) or fmt is None:
                raise ValueError("not a tinyreason.json object with a format")
        except (OSError, ValueError, KeyError, TypeError) as exc:
            # Only an unverified (older) folder gets here: a verified one matched its hashes.
            raise ArtifactError(
                folder, f"tinyreason.json is damaged ({type(exc).__name__}: {exc})", STUDENT_REBUILD
            ) from None
        return cls(
            folder,
            fmt,
            data.get("base", ""),
            data.get("metrics", {}),
            data.get("hyperparameters", {}),
            data.get("data", {}),
        )
