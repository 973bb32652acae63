"""What a trainer returns: where the student is, how it was trained, how training went."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import Any

from ..errors import DataError

__all__ = ["TrainedStudent"]


@dataclass(frozen=True)
class TrainedStudent:
    """A fine-tuned student saved on disk.

    Args:
        path: Folder with the model and tokenizer (``AutoModelForCausalLM.from_pretrained(path)``).
        format: The student format it was trained with (the scalers must use the same one).
        base: The model it started from.
        metrics: Training metrics: ``final_loss`` (the last logged loss), ``train_loss``,
            ``steps``, ``runtime_s``, ``examples``, ``loss_curve`` (``[step, loss]`` pairs)...
        hyperparameters: The effective values used (after presets and overrides).
        data: The data manifest: fingerprint, rows, teachers, thinking kinds, selection summary.

    Example:
        >>> import tinyreason as tr
        >>> fmt = tr.student("think-tags")
        >>> s = TrainedStudent(Path("runs/s"), fmt, "base", {"final_loss": 0.05})
        >>> s.metrics["final_loss"]
        0.05
    """

    path: Path
    format: Any
    base: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)

    def backend(self, name: str = "transformers", **options: Any) -> Any:
        """A generation backend over this student, with its format (for ``tr.evaluate``)."""
        from ..plugins import build

        options.setdefault("format", self.format)
        return build("backend", name, model=str(self.path), **options)

    def manifest(self) -> dict[str, Any]:
        """What ``tinyreason.json`` in the student's folder records."""
        fmt = asdict(self.format) if is_dataclass(self.format) else {"name": str(self.format)}
        return {
            "format": fmt,
            "base": self.base,
            "metrics": dict(self.metrics),
            "hyperparameters": dict(self.hyperparameters),
            "data": dict(self.data),
        }

    def save_manifest(self) -> Path:
        """Write ``tinyreason.json`` next to the model, so :meth:`load` can find the format."""
        path = Path(self.path) / "tinyreason.json"
        path.write_text(json.dumps(self.manifest(), indent=2, default=str))
        return path

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
