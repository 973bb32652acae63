"""What a trainer returns: where the student is, how it was trained, how training went."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import DataError
from ..records import TrainedStudent as StudentRecord

__all__ = ["TrainedStudent"]


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

    @classmethod
    def load(cls, path: str | Path) -> TrainedStudent:
        """A student saved by a tinyreason trainer, with its format, from its folder.

        Raises:
            DataError: the folder has no ``tinyreason.json`` (not trained by tinyreason).
        """
        from ..students.formats import saved_format

        fmt = saved_format(path)
        if fmt is None:
            raise DataError(
                f"{path} has no tinyreason.json; for a model trained elsewhere use "
                "tr.backend('transformers', model=path, format=...)."
            )
        data = json.loads((Path(path) / "tinyreason.json").read_text())
        return cls(
            Path(path),
            fmt,
            data.get("base", ""),
            data.get("metrics", {}),
            data.get("hyperparameters", {}),
            data.get("data", {}),
        )
