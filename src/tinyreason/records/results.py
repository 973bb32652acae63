"""What the selection and training stages hand on, as records.

The Protocols name these (``Selector.select`` returns a Selection, ``Trainer.train`` a
TrainedStudent), so a plugin builds them from here alone. The stages return subclasses with
conveniences on top (``selection.base.Selection``: summary, plot, save and load;
``training.base.TrainedStudent``: load and backend), which a stage never needs to import: a later
stage reads the record's fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, is_dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..artifacts import write_json

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["AUDIT_COLUMNS", "Selection", "Stage", "TrainedStudent"]

#: The columns of every audit table: each dropped row, the stage that dropped it and why.
AUDIT_COLUMNS = ("id", "question", "stage", "reason", "detail")


@dataclass(frozen=True)
class Stage:
    """One selection stage's counts, and what it wants remembered (JSON-friendly settings).

    Example:
        >>> Stage("quality", 100, 90).rows_out
        90
    """

    name: str
    rows_in: int
    rows_out: int
    info: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Selection:
    """The result of selection: the kept rows, every dropped row with its reason, the funnel.

    A selector builds one from its decisions: ``Selection(kept, (audit,), (Stage(...),))``, where
    ``audit`` is a Dataset with :data:`AUDIT_COLUMNS` (one row per dropped row) and the Stage
    counts the rows in and out; ``tr.select`` chains them with :meth:`then` and returns the
    selection stage's own subclass (summary, plot, save, load).

    Args:
        kept: The rows kept, with every column they came with (and any a stage added).
        drops: One audit Dataset per stage with columns ``id``, ``question``, ``stage``,
            ``reason``, ``detail``: every dropped row, nothing lost.
        stages: The funnel: rows in and out of each stage, in order.

    Example:
        >>> from datasets import Dataset
        >>> kept = Dataset.from_dict({"id": ["a"], "question": ["1+1?"]})
        >>> audit = Dataset.from_dict({"id": ["b"], "question": ["?"], "stage": ["mine"],
        ...                            "reason": ["empty"], "detail": [""]})
        >>> sel = Selection(kept, (audit,), (Stage("mine", 2, 1),))
        >>> len(sel.kept), len(sel.dropped), sel.stages[0].rows_out
        (1, 1, 1)
    """

    kept: Dataset
    drops: tuple[Dataset, ...] = ()
    stages: tuple[Stage, ...] = field(default_factory=tuple)

    @property
    def dropped(self) -> Dataset:
        """Every dropped row of every stage (id, question, stage, reason, detail)."""
        from datasets import Dataset, concatenate_datasets

        if not self.drops:
            return Dataset.from_dict({c: [] for c in AUDIT_COLUMNS})
        tables = [_audit_columns(d) for d in self.drops]
        return tables[0] if len(tables) == 1 else concatenate_datasets(tables)

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary: ``kept``, ``funnel`` (``[stage, in, out]``), ``stages``.

        The selection stage's Selection (what ``tr.select`` returns) adds the drop reasons, the
        domains, the trace sources and the length statistics.
        """
        return {
            "kept": len(self.kept),
            "funnel": [[s.name, s.rows_in, s.rows_out] for s in self.stages],
            "stages": [{"name": s.name, **dict(s.info)} for s in self.stages],
        }

    def then(self, other: Selection) -> Selection:
        """This selection followed by one made on its kept rows (of this selection's class)."""
        return type(self)(other.kept, self.drops + other.drops, self.stages + other.stages)


def _audit_columns(table: Dataset) -> Dataset:
    """An audit table with exactly :data:`AUDIT_COLUMNS` (older or third-party ones lack detail)."""
    from datasets import Dataset

    if list(table.column_names) == list(AUDIT_COLUMNS):
        return table
    columns = {}
    for name in AUDIT_COLUMNS:
        if name in table.column_names:
            columns[name] = [None if v is None else str(v) for v in table[name]]
        else:
            columns[name] = [""] * len(table)
    return Dataset.from_dict(columns)


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
        >>> s = TrainedStudent(Path("runs/s"), "think-tags", "base", {"final_loss": 0.05})
        >>> s.metrics["final_loss"], s.manifest()["format"]
        (0.05, {'name': 'think-tags'})
    """

    path: Path
    format: Any
    base: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    hyperparameters: Mapping[str, Any] = field(default_factory=dict)
    data: Mapping[str, Any] = field(default_factory=dict)

    def manifest(self) -> dict[str, Any]:
        """What ``tinyreason.json`` in the student's folder records."""
        fmt = (
            asdict(self.format)
            if is_dataclass(self.format) and not isinstance(self.format, type)
            else {"name": str(self.format)}
        )
        return {
            "format": fmt,
            "base": self.base,
            "metrics": dict(self.metrics),
            "hyperparameters": dict(self.hyperparameters),
            "data": dict(self.data),
        }

    def save_manifest(self) -> Path:
        """Write ``tinyreason.json`` next to the model, so the format can be found again."""
        return write_json(Path(self.path) / "tinyreason.json", self.manifest())
