"""s1's diversity stage: sample across domains uniformly, favouring long traces within each.

Repeat until ``k`` rows are chosen: pick a domain uniformly among those with rows left; within it,
rank rows by trace length, longest first, and draw rank ``r`` with weight ``2**-r``; drop a domain
once it is empty (``reference/s1.md`` section 1). Unlike s1's notebook the RNG is seeded: the same
seed gives the same rows. Length is s1's: the thinking's tokens in the student's tokenizer
(``tokenizer=``); without one, a stored ``trace_tokens``, else characters (``length=``).

Also as in s1, and optional:

* **include-first rules**: rows matching any rule are kept before sampling and count toward
  ``k`` (s1: AIME and GPQA questions the teacher solved, and MATH questions it solved with traces
  over 5,600 tokens; :func:`~tinyreason.selection.rules.s1_include_first` builds those rules).
* **the benchmark-domain switch** (``switch_after=700``): after that many rows, domains are no
  longer drawn uniformly but from the domain distribution of the pool's AIME and GPQA questions,
  GPQA weighted half as much as AIME. s1's code does this; its paper does not mention it.

Domain labels come from a column (default ``cot_type``), or from a classifier that writes them
into ``domain_column`` (default ``domain``): ``"msc-llm"`` (a teacher, s1's way) or
``"msc-embedding"`` (offline). Labels already in that column are reused, never asked again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError
from ._columns import TRACE_TOKENS, add_columns, check_length, column_list, take_rows, trace_lengths
from .base import Composable, Selection, require_columns, selection_from_decisions
from .rules import (  # matching_rule and s1_include_first lived here: kept importable
    Rule,
    matching_rows,
    matching_rule,  # noqa: F401
    s1_include_first,  # noqa: F401
)

if TYPE_CHECKING:
    import numpy as np
    from datasets import Dataset

__all__ = ["DiversitySelector", "trace_length"]


def trace_length(
    row: Mapping[str, Any],
    column: str | None = None,
    *,
    length: str = "tokenizer",
    tokenizer: Any = None,
) -> int:
    """One row's trace length, by the rule the selector ranks with (:func:`trace_lengths`).

    ``column`` if given; else with ``length="tokenizer"`` the thinking's tokens in ``tokenizer``,
    else a stored ``trace_tokens``, else the thinking's characters; with ``length="billed"`` the
    teacher's ``usage.thinking_tokens``.

    Example:
        >>> row = {"usage": {"thinking_tokens": 120}, "thinking_trajectories": ["one two three"]}
        >>> trace_length(row), trace_length(row, tokenizer=lambda text: len(text.split()))
        (13, 3)
        >>> trace_length(row, length="billed")
        120
    """
    from datasets import Dataset

    from ..trace_columns import row_trace, thinking_text

    if column is not None:
        return int(row[column] or 0)
    kept = {k: row[k] for k in ("trace_tokens", "usage") if row.get(k) is not None}
    if length == "billed" and "usage" in kept:
        usage = kept["usage"]
        kept["usage"] = {"thinking_tokens": int(usage.get("thinking_tokens") or 0)}
    else:
        kept.pop("usage", None)
    if "thinking_trajectories" in row:
        kept["thinking_trajectories"] = [thinking_text(row["thinking_trajectories"])]
    else:  # s1K-1.1's layout; with no trace at all only a stored length can answer
        with contextlib.suppress(DataError):
            kept["thinking_trajectories"] = [row_trace(row).thinking]
    lengths, _ = trace_lengths(Dataset.from_list([kept]), length=length, tokenizer=tokenizer)
    return int(lengths[0])


@dataclass(frozen=True)
class DiversitySelector(Composable):
    """s1's domain-uniform, length-weighted sampling down to ``k`` rows.

    Args:
        k: Rows to keep (s1: 1,000).
        seed: Seed of the sampling.
        domain_column: The column of domain labels: read with ``classifier="column"`` (default
            ``cot_type``), written by a classifier (default ``domain``).
        classifier: ``"column"`` (labels already in ``domain_column``), ``"msc-llm"`` (a teacher
            classifies into MSC codes, s1's way), ``"msc-embedding"`` (offline, nearest label by
            embedding), or any object with ``classify(questions) -> labels``.
        classifier_options: Options of a named classifier: ``teacher`` (msc-llm), ``scheme``
            (``"msc"`` or ``{label: description}``), ``model``, ``cache``, ``max_cost_usd``.
        reclassify: Classify every row again, even those with a label in ``domain_column``.
        length: What "longest" means. ``"tokenizer"`` (default, s1's ``gemini_length``): the
            thinking's tokens in ``tokenizer`` (written to the kept rows' ``trace_tokens``);
            without one, a stored ``trace_tokens`` (the difficulty stage's), else the thinking's
            characters (no tokenizer is guessed). ``"billed"``: the teacher's
            ``usage.thinking_tokens`` (the earlier default). The stage's ``info["length"]`` (and
            the report) says which count ranked the rows.
        tokenizer: The student's tokenizer (an object, a name or folder, or a function from a
            text to its token count), for ``length="tokenizer"``.
        length_column: A numeric column of trace lengths to rank by instead.
        include_first: Rules whose rows are kept before sampling (they count toward ``k``); see
            :mod:`tinyreason.selection.rules`.
        switch_after: After this many rows, draw domains from the benchmark-domain distribution
            instead of uniformly (s1's code: 700). None (default): uniform throughout.
        switch_sources: Source substrings -> weight defining that distribution: each source's
            domain distribution in the pool, mixed with these weights (s1: AIME 1, GPQA 0.5).
        source_column: The column ``switch_sources`` are matched in (lower-case substrings).
        allow_fewer: Keep every row when the pool has fewer than ``k`` instead of raising.

    Example:
        >>> import tinyreason as tr
        >>> ds = tr.teacher("arithmetic", seed=1).distill(
        ...     tr.demo.task.make_problems(200, seed=0), cache=False, progress=False)
        >>> sel = tr.select(ds, tr.selector("diversity", k=20, seed=0))
        >>> len(sel.kept), len(set(sel.kept["cot_type"])), sel.stages[-1].info["length"]
        (20, 9, 'characters')
        >>> words = lambda text: len(text.split())  # or the student's tokenizer, or its name
        >>> sel = tr.select(ds, tr.selector("diversity", k=20, seed=0, tokenizer=words))
        >>> sel.stages[-1].info["length"], sel.kept[0]["trace_tokens"] > 0
        ('tokenizer:<lambda>', True)
    """

    k: int = 1000
    seed: int = 0
    domain_column: str | None = None
    classifier: Any = "column"
    classifier_options: Mapping[str, Any] = field(default_factory=dict)
    reclassify: bool = False
    length: str = "tokenizer"
    tokenizer: Any = None
    length_column: str | None = None
    include_first: Sequence[Rule] = ()
    switch_after: int | None = None
    switch_sources: Mapping[str, float] = field(default_factory=lambda: {"aime": 1.0, "gpqa": 0.5})
    source_column: str = "source_type"
    allow_fewer: bool = False
    name: str = "diversity"

    def __post_init__(self) -> None:
        from .domains import DomainClassifier, domain_classifier

        problems = []
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            problems.append(f"diversity k must be a whole number >= 1, got {self.k!r}")
        if self.switch_after is not None and (
            isinstance(self.switch_after, bool)
            or not isinstance(self.switch_after, int)
            or self.switch_after < 0
        ):
            problems.append(
                f"switch_after must be a whole number >= 0 or None, got {self.switch_after!r}"
            )
        if not all(isinstance(w, (int, float)) and w >= 0 for w in self.switch_sources.values()):
            problems.append(
                f"switch_sources weights must be numbers >= 0: {dict(self.switch_sources)}"
            )
        problems.extend(check_length(self.length, self.tokenizer, self.length_column))
        for rule in self.include_first:
            if not (isinstance(rule, Mapping) or callable(rule)):
                problems.append(
                    "an include-first rule must be a predicate on a row or a {column: condition} "
                    f"mapping, got {type(rule).__name__}"
                )
        classifier: Any = None
        if isinstance(self.classifier, str):
            if self.classifier != "column":
                try:
                    classifier = domain_classifier(self.classifier, **dict(self.classifier_options))
                except ConfigError as err:
                    problems.extend(err.problems)
            elif self.classifier_options:
                problems.append(
                    "classifier_options only apply to a named classifier ('msc-llm', "
                    "'msc-embedding'); classifier='column' reads domain_column as it is."
                )
        elif isinstance(self.classifier, DomainClassifier):
            classifier = self.classifier
        else:
            problems.append(
                "classifier must be 'column', 'msc-llm', 'msc-embedding' or an object with "
                f"name and classify(questions), got {type(self.classifier).__name__}"
            )
        if problems:
            raise ConfigError(problems)
        object.__setattr__(self, "_classifier", classifier)
        column = self.domain_column or ("cot_type" if classifier is None else "domain")
        object.__setattr__(self, "_domain_column", column)

    @property
    def column(self) -> str:
        """The column domains are read from (or written to by the classifier)."""
        return self._domain_column  # type: ignore[attr-defined,no-any-return]

    # -- labels ----------------------------------------------------------------------------------

    def label(self, dataset: Dataset) -> Dataset:
        """``dataset`` with every row's domain in :attr:`column` (classifying rows without one)."""
        classifier = self._classifier  # type: ignore[attr-defined]
        if classifier is None:
            require_columns(
                dataset,
                self.name,
                [self.column],
                "set domain_column= to a column of domain labels (s1 used MSC subject codes), "
                "or classifier='msc-llm' / 'msc-embedding' to add one.",
            )
            return dataset
        require_columns(dataset, self.name, ["question"], "the classifier reads the questions.")
        labels: list[Any] = (
            column_list(dataset, self.column)
            if self.column in dataset.column_names and not self.reclassify
            else [None] * len(dataset)
        )
        todo = [i for i, label in enumerate(labels) if label is None or label == ""]
        if not todo:
            return dataset
        questions = column_list(take_rows(dataset, todo, "classify"), "question")
        found = classifier.classify([q or "" for q in questions])
        if len(found) != len(todo):
            raise DataError(
                f"the domain classifier {getattr(classifier, 'name', classifier)!r} returned "
                f"{len(found)} labels for {len(todo)} questions."
            )
        for i, label in zip(todo, found, strict=True):
            labels[i] = str(label)
        return add_columns(dataset, {self.column: labels})

    # -- sampling --------------------------------------------------------------------------------

    def _switch_weights(self, dataset: Dataset, domains: Sequence[str]) -> dict[str, float]:
        """s1's late-phase domain weights: each source's domain distribution, mixed."""
        require_columns(
            dataset,
            self.name,
            [self.source_column],
            "switch_after needs the source of each question (source_type) to find AIME / GPQA.",
        )
        sources = [str(s or "").lower() for s in column_list(dataset, self.source_column)]
        weights: dict[str, float] = {}
        for needle, weight in self.switch_sources.items():
            hits = [d for d, s in zip(domains, sources, strict=True) if needle.lower() in s]
            for d in hits:
                weights[d] = weights.get(d, 0.0) + weight / len(hits)
        return weights

    def lengths(self, dataset: Dataset) -> tuple[np.ndarray, str]:
        """Each row's trace length as this selector ranks by, and which count it is."""
        return trace_lengths(
            dataset, self.length_column, length=self.length, tokenizer=self.tokenizer
        )

    def order(
        self, dataset: Dataset, included: Sequence[int] = (), lengths: np.ndarray | None = None
    ) -> list[int]:
        """The indices of the sampled rows (after ``included``), in the order they were drawn.

        ``lengths`` (one per row) default to :meth:`lengths`.

        Raises:
            DataError: the domain column is missing (classify first with :meth:`label`).
        """
        import numpy as np

        require_columns(dataset, self.name, [self.column], "label the rows first (label()).")
        rng = np.random.default_rng(self.seed)
        domains = [str(d) if d is not None else "" for d in column_list(dataset, self.column)]
        if lengths is None:
            lengths = self.lengths(dataset)[0]
        names, inverse = np.unique(np.array(domains, dtype=object), return_inverse=True)
        taken = np.zeros(len(dataset), dtype=bool)
        taken[list(included)] = True
        grouped = np.argsort(inverse, kind="stable")
        bounds = np.cumsum(np.bincount(inverse, minlength=len(names)))[:-1]
        pools: list[list[int]] = []
        pool_names: list[str] = []
        for name, members in zip(names.tolist(), np.split(grouped, bounds), strict=True):
            members = members[~taken[members]]
            if not len(members):
                continue
            # A seeded shuffle, then a stable sort by length: ties break by the seed, not by the
            # input order.
            members = members[rng.permutation(len(members))]
            members = members[np.argsort(-lengths[members], kind="stable")]
            pools.append(members.tolist())
            pool_names.append(name)
        switch = self._switch_weights(dataset, domains) if self.switch_after is not None else {}
        chosen: list[int] = []
        goal = self.k - len(included)
        while len(chosen) < goal and pools:
            late = (
                self.switch_after is not None and len(included) + len(chosen) >= self.switch_after
            )
            weights = np.array([switch.get(n, 0.0) for n in pool_names]) if late else None
            if weights is not None and weights.sum() > 0:
                d = int(rng.choice(len(pools), p=weights / weights.sum()))
            else:  # uniform (or every benchmark domain is used up)
                d = int(rng.integers(len(pools)))
            pool = pools[d]
            while True:  # rank r with probability proportional to 2**-r, truncated to the pool
                rank = int(rng.geometric(0.5)) - 1
                if rank < len(pool):
                    break
            chosen.append(pool.pop(rank))
            if not pool:
                pools.pop(d)
                pool_names.pop(d)
        return chosen

    def select(self, dataset: Dataset) -> Selection:
        """Label, include, then sample ``k`` rows; the rest are dropped as ``not_sampled``."""
        import numpy as np

        if self.length_column:
            require_columns(
                dataset, self.name, [self.length_column], "or leave length_column=None."
            )
        if len(dataset) < self.k and not self.allow_fewer:
            raise ConfigError(
                f"diversity k={self.k} but only {len(dataset)} rows reach this stage; lower k or "
                "pass allow_fewer=True to keep them all."
            )
        dataset = self.label(dataset)
        lengths, counted = self.lengths(dataset)
        if self.tokenizer is not None:  # s1's count, kept with the rows (include-first reads it)
            dataset = add_columns(dataset, {TRACE_TOKENS: lengths})
        included: list[int] = []
        if self.include_first:
            included = np.flatnonzero(
                matching_rows(dataset, self.include_first, self.name)
            ).tolist()
            if len(included) > self.k:
                raise ConfigError(
                    f"the include-first rules match {len(included)} rows, more than k={self.k}; "
                    "raise k or narrow the rules."
                )
        chosen = included + self.order(dataset, included, lengths)
        keep = np.zeros(len(dataset), dtype=bool)
        keep[chosen] = True
        decisions = [None if kept else "not_sampled" for kept in keep.tolist()]
        classifier = self._classifier  # type: ignore[attr-defined]
        info = {
            "k": self.k,
            "seed": self.seed,
            "domain_column": self.column,
            "classifier": "column" if classifier is None else getattr(classifier, "name", "custom"),
            "length": counted,
            "included_first": len(included),
            "switch_after": self.switch_after,
        }
        if self.tokenizer is not None:
            info[TRACE_TOKENS] = counted
        return selection_from_decisions(dataset, self.name, decisions, kept_order=chosen, info=info)
