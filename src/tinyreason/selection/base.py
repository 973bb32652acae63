"""Auditable selection: every selector keeps rows and says why it dropped each of the others.

Selectors compose: ``tr.select(ds, quality, difficulty, diversity)`` or
``(quality >> difficulty >> diversity).select(ds)``; the :class:`Selection` they return holds the
kept Dataset, an audit table of every dropped row (id, stage, reason) and the funnel of counts per
stage, like s1's 59,029 -> 51,581 -> 24,496 -> 1,000.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import DataError

if TYPE_CHECKING:
    from datasets import Dataset

    from ..interfaces import Selector

__all__ = ["Chain", "Composable", "Selection", "select"]


@dataclass(frozen=True)
class Stage:
    """One stage's counts."""

    name: str
    rows_in: int
    rows_out: int


@dataclass(frozen=True)
class Selection:
    """The result of selection.

    Args:
        kept: The rows kept, with every column they came with (and any a stage added).
        drops: One audit Dataset per stage with columns ``id``, ``question``, ``stage``,
            ``reason``: every dropped row, nothing lost.
        stages: The funnel: rows in and out of each stage, in order.

    Example:
        >>> import tinyreason as tr
        >>> ds = tr.teacher("arithmetic", error_rate=0.5, seed=1).distill(
        ...     tr.demo.task.make_problems(20, seed=0))
        >>> sel = tr.select(ds, tr.selector("quality", require_correct=True))
        >>> len(sel.kept) + len(sel.dropped) == 20
        True
    """

    kept: Dataset
    drops: tuple[Dataset, ...] = ()
    stages: tuple[Stage, ...] = field(default_factory=tuple)

    @property
    def dropped(self) -> Dataset:
        """Every dropped row of every stage: ``id``, ``question``, ``stage``, ``reason``."""
        from datasets import Dataset, concatenate_datasets

        if not self.drops:
            return Dataset.from_dict({"id": [], "question": [], "stage": [], "reason": []})
        return concatenate_datasets(list(self.drops))

    def reasons(self) -> Counter[tuple[str, str]]:
        """How many rows each (stage, reason) dropped."""
        return Counter(
            (stage, reason)
            for d in self.drops
            for stage, reason in zip(d["stage"], d["reason"], strict=True)
        )

    def then(self, other: Selection) -> Selection:
        """This selection followed by one made on its kept rows."""
        return Selection(other.kept, self.drops + other.drops, self.stages + other.stages)

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary for model cards and run reports."""
        return {
            "kept": len(self.kept),
            "funnel": [[s.name, s.rows_in, s.rows_out] for s in self.stages],
            "dropped": {f"{s}/{r}": n for (s, r), n in sorted(self.reasons().items())},
        }

    def __repr__(self) -> str:
        lines = [f"Selection: kept {len(self.kept)} rows"]
        reasons = self.reasons()
        for s in self.stages:
            lines.append(f"  {s.name:<20} {s.rows_in:>8} -> {s.rows_out:<8}")
            for (stage, reason), n in sorted(reasons.items(), key=lambda x: -x[1]):
                if stage == s.name:
                    lines.append(f"    dropped {n:>7}  {reason}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        rows = "".join(
            f"<tr><td>{html.escape(s.name)}</td><td>{s.rows_in}</td><td>{s.rows_out}</td></tr>"
            for s in self.stages
        )
        return (
            f"<p>Selection: kept <b>{len(self.kept)}</b> rows</p><table><thead><tr><th>stage</th>"
            f"<th>in</th><th>out</th></tr></thead><tbody>{rows}</tbody></table>"
        )


def drop_table(
    dataset: Dataset, indices: Sequence[int], stage: str, reasons: Sequence[str]
) -> Dataset:
    """The audit rows for ``indices`` of ``dataset`` dropped by ``stage``."""
    from datasets import Dataset

    rows = dataset.select(indices)
    return Dataset.from_dict(
        {
            "id": rows["id"] if "id" in rows.column_names else [str(i) for i in indices],
            "question": rows["question"]
            if "question" in rows.column_names
            else [""] * len(indices),
            "stage": [stage] * len(indices),
            "reason": list(reasons),
        }
    )


def selection_from_decisions(
    dataset: Dataset,
    stage: str,
    decisions: Sequence[str | None],
    kept_order: Sequence[int] | None = None,
) -> Selection:
    """Build a Selection from one reason-or-None per row (None keeps the row).

    Args:
        dataset: The stage's input.
        stage: The stage's name.
        decisions: Per row, the reason it is dropped, or None to keep it.
        kept_order: The kept rows in the order to keep them (default: input order).
    """
    kept = (
        list(kept_order)
        if kept_order is not None
        else [i for i, d in enumerate(decisions) if d is None]
    )
    dropped = [i for i, d in enumerate(decisions) if d is not None]
    drops = (
        (drop_table(dataset, dropped, stage, [decisions[i] for i in dropped]),) if dropped else ()
    )
    return Selection(dataset.select(kept), drops, (Stage(stage, len(dataset), len(kept)),))


def require_columns(dataset: Dataset, stage: str, columns: Sequence[str], added_by: str) -> None:
    """Raise a DataError naming the missing columns and which stage adds them."""
    missing = [c for c in columns if c not in dataset.column_names]
    if missing:
        raise DataError(
            f"selector {stage!r} needs the column(s) {missing}, which this Dataset lacks; "
            f"{added_by}"
        )


class Composable:
    """Mixin giving selectors ``a >> b`` composition."""

    def __rshift__(self, other: Selector) -> Chain:
        return Chain((*_flatten(self), *_flatten(other)))


def _flatten(selector: Any) -> tuple[Any, ...]:
    return selector.selectors if isinstance(selector, Chain) else (selector,)


@dataclass(frozen=True)
class Chain(Composable):
    """Selectors applied one after another, each to the rows the previous kept.

    Example:
        >>> import tinyreason as tr
        >>> chain = tr.selector("quality") >> tr.selector("diversity", k=10)
        >>> len(chain.selectors)
        2
    """

    selectors: tuple[Any, ...]

    def select(self, dataset: Dataset) -> Selection:
        """Run every selector in turn."""
        return select(dataset, *self.selectors)


def select(dataset: Dataset, *selectors: Selector) -> Selection:
    """Run selectors one after another and return the combined, auditable Selection.

    Args:
        dataset: A traces Dataset.
        *selectors: Selector objects (``tr.selector(...)``) or anything with ``select(ds)``.

    Raises:
        DataError: no selectors, or the Dataset is empty.
    """
    if not selectors:
        raise DataError("tr.select needs at least one selector, e.g. tr.selector('quality').")
    if len(dataset) == 0:
        raise DataError("the Dataset to select from is empty.")
    result = Selection(dataset, (), ())
    for selector in selectors:
        result = result.then(selector.select(result.kept))
    return result
