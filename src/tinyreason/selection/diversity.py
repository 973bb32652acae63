"""s1's diversity stage: sample across domains uniformly, favouring long traces within each.

Repeat until ``k`` rows are chosen: pick a domain uniformly among those with rows left; within it,
rank rows by trace length, longest first, and draw rank ``r`` with weight ``2**-r``; drop a domain
once it is empty (``reference/s1.md`` section 1). Unlike s1's notebook the RNG is seeded: the same
seed gives the same rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .base import Composable, Selection, require_columns, selection_from_decisions

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["DiversitySelector", "trace_length"]


def trace_length(row: Mapping[str, Any], column: str | None = None) -> int:
    """A row's trace length: ``column`` if given, else the teacher's thinking tokens, else chars."""
    if column is not None:
        return int(row[column] or 0)
    usage = row.get("usage") or {}
    if usage.get("thinking_tokens"):
        return int(usage["thinking_tokens"])
    thinking = row.get("thinking_trajectories") or []
    return sum(len(t) for t in thinking) if isinstance(thinking, list) else len(thinking)


@dataclass(frozen=True)
class DiversitySelector(Composable):
    """s1's domain-uniform, length-weighted sampling down to ``k`` rows.

    Args:
        k: Rows to keep (s1: 1,000).
        seed: Seed of the sampling.
        domain_column: The column holding each row's domain label.
        length_column: A column of trace lengths (e.g. tokens in the student's tokenizer); by
            default the teacher's thinking tokens, or the thinking's characters.
        allow_fewer: Keep every row when the pool has fewer than ``k`` instead of raising.

    Example:
        >>> import tinyreason as tr
        >>> tr.selector("diversity", k=1000, seed=0).k
        1000
    """

    k: int = 1000
    seed: int = 0
    domain_column: str = "cot_type"
    length_column: str | None = None
    allow_fewer: bool = False
    name: str = "diversity"

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ConfigError(f"diversity k must be a whole number >= 1, got {self.k!r}")

    def order(self, dataset: Dataset) -> list[int]:
        """The indices of the ``k`` sampled rows, in the order they were drawn."""
        import numpy as np

        rng = np.random.default_rng(self.seed)
        by_domain: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for i, row in enumerate(dataset):
            by_domain[str(row[self.domain_column] or "")].append(
                (trace_length(row, self.length_column), i)
            )
        pools = []
        for domain in sorted(by_domain):
            members = by_domain[domain]
            rng.shuffle(members)  # equal lengths: a seeded, not an input-order, tie-break
            members.sort(key=lambda m: -m[0])  # stable: keeps the shuffle among ties
            pools.append([i for _, i in members])
        chosen: list[int] = []
        while len(chosen) < self.k and pools:
            d = int(rng.integers(len(pools)))
            pool = pools[d]
            while True:  # rank r with probability proportional to 2**-r, truncated to the pool
                rank = int(rng.geometric(0.5)) - 1
                if rank < len(pool):
                    break
            chosen.append(pool.pop(rank))
            if not pool:
                pools.pop(d)
        return chosen

    def select(self, dataset: Dataset) -> Selection:
        """Sample ``k`` rows; the rest are dropped as ``not_sampled``."""
        require_columns(
            dataset,
            self.name,
            [self.domain_column] + ([self.length_column] if self.length_column else []),
            "set domain_column= to a column of domain labels (s1 used MSC subject codes).",
        )
        if len(dataset) < self.k and not self.allow_fewer:
            raise ConfigError(
                f"diversity k={self.k} but only {len(dataset)} rows reach this stage; lower k or "
                "pass allow_fewer=True to keep them all."
            )
        chosen = self.order(dataset)
        keep = set(chosen)
        decisions = [None if i in keep else "not_sampled" for i in range(len(dataset))]
        return selection_from_decisions(dataset, self.name, decisions, kept_order=chosen)
