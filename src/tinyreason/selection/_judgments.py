"""The difficulty stage's stored judgments, read column-wise (one entry per row and solver)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


@dataclass
class _Plan:
    """One solver's stored verdicts.

    Per row: the verdict (1 solved, 0 failed, -1 unknown) and the position of its record in the
    flattened judgments (-1: none); and the rows still to judge.
    """

    verdict: np.ndarray
    record: np.ndarray
    pending: np.ndarray


@dataclass
class _Stored:
    """The ``difficulty_judgments`` column, flattened (one entry per row and solver)."""

    rows: int
    parents: np.ndarray
    solver: Any
    judge: Any
    correct: Any
    answer: Any
    extracted: Any

    @classmethod
    def empty(cls, rows: int) -> _Stored:
        import numpy as np
        import pyarrow as pa

        none = pa.nulls(0, pa.string())
        nothing = np.zeros(0, dtype=np.int64)
        return cls(rows, nothing, none, none, pa.nulls(0, pa.bool_()), none, none)

    def lookup(self, label: str, judge: str) -> _Plan:
        """Where ``label``'s records are, and which rows still need a verdict from ``judge``."""
        import numpy as np
        import pyarrow.compute as pc

        verdict = np.full(self.rows, -1, dtype=np.int8)
        record = np.full(self.rows, -1, dtype=np.int64)
        same = np.zeros(self.rows, dtype=bool)
        if len(self.parents):
            mine = pc.fill_null(pc.equal(self.solver, label), False).to_numpy(zero_copy_only=False)
            at = np.flatnonzero(mine)
            rows = self.parents[at]
            record[rows] = at
            judged = pc.fill_null(pc.equal(self.judge.take(at), judge), False)
            judged = judged.to_numpy(zero_copy_only=False)
            correct = self.correct.take(at)
            known = correct.is_valid().to_numpy(zero_copy_only=False)
            values = pc.fill_null(correct.cast("bool"), False).to_numpy(zero_copy_only=False)
            verdict[rows[judged & known]] = values[judged & known].astype(np.int8)
            same[rows[judged]] = True
        return _Plan(verdict, record, np.flatnonzero(~same))

    def text(self, field: str, j: int) -> str:
        """A stored record's field as text ("" when empty)."""
        value = getattr(self, field)[j].as_py() if j >= 0 else None
        return "" if value is None else str(value)

    def extracted_at(self, j: int) -> str | None:
        """A stored record's extracted answer."""
        value = self.extracted[j].as_py() if j >= 0 else None
        return None if value is None else str(value)

    def records_for(
        self, rows: Sequence[int], new: Mapping[str, Mapping[int, Mapping[str, Any]]]
    ) -> list[list[dict[str, Any]]]:
        """Every row's judgments, stored and new (a new one replaces a solver's stored one)."""
        import numpy as np

        by_row: list[dict[str, dict[str, Any]]] = [{} for _ in rows]
        if len(self.parents) and len(rows):
            position = {r: k for k, r in enumerate(rows)}
            wanted = np.flatnonzero(np.isin(self.parents, np.asarray(rows, dtype=np.int64)))
            columns = {
                name: getattr(self, name).take(wanted).to_pylist()
                for name in ("solver", "judge", "answer", "extracted", "correct")
            }
            for k, j in enumerate(wanted.tolist()):
                record = {name: values[k] for name, values in columns.items()}
                by_row[position[int(self.parents[j])]][str(record["solver"])] = record
        for label, found in new.items():
            for k, r in enumerate(rows):
                if r in found:
                    by_row[k][label] = dict(found[r])
        return [sorted(row.values(), key=lambda r: str(r["solver"])) for row in by_row]
