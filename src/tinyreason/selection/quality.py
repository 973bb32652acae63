"""s1's quality stage: drop failed calls, empty or truncated traces, badly formatted questions.

s1 (``data/filter.ipynb``) first dropped rows whose API call or featurisation failed (59,029 ->
54,116), then questions with formatting it judged harmful (-> 51,607 in the notebook, 51,581 in
the paper): Asymptote diagrams (``[asy]``, kept for AIME, whose figures are in the code), image
links (``![Image]``), ``p1.``-style problem numbering and bold markup next to digits.
:data:`S1_PATTERNS` are those rules verbatim, so the counts reproduce; :data:`MORE_PATTERNS`
catches what they miss (any markdown image, HTML images).

Columns are checked with Arrow kernels and regexes over one column at a time, not row by row: 59K
rows take well under a second.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ._columns import arrow_column, has_text
from .base import Composable, Selection, require_columns, selection_from_decisions

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["MORE_PATTERNS", "S1_PATTERNS", "QualitySelector"]

#: s1's formatting filters, exactly as ``data/filter.ipynb`` applies them: ``"[asy]" in q``,
#: ``"![Image]" in q``, ``any(f"p{i}." in q for i in range(1, 1000))`` (a plain substring test:
#: ``"step1."`` matches too) and ``re.search(r"\*\*(?=.*\d)[^\s\]]*\*\*", q)`` (a bold span
#: without spaces, on a line with a digit after its start).
S1_PATTERNS: Mapping[str, str] = {
    "asymptote": r"\[asy\]",
    "image": r"!\[Image\]",
    "numbering": r"p[1-9][0-9]{0,2}\.",
    "bold-digits": r"\*\*(?=.*\d)[^\s\]]*\*\*",
}

#: Patterns s1 did not use that catch the same problems in other data: any markdown image and
#: HTML ``<img>`` tags. Use ``patterns={**S1_PATTERNS, **MORE_PATTERNS}``.
MORE_PATTERNS: Mapping[str, str] = {
    "markdown-image": r"!\[[^\]]*\]\(",
    "html-image": r"<img\b",
}


@dataclass(frozen=True)
class QualitySelector(Composable):
    """Drops rows whose trace failed, is empty or truncated, or whose question is badly formatted.

    Checks run in this order and a row gets the first reason that applies: ``api_error``,
    ``empty_thinking``, ``empty_answer``, ``truncated``, ``format:<pattern>``, then (with
    ``require_correct``) ``no_reference_answer`` / ``incorrect``.

    Args:
        drop_errors: Drop rows with an ``error`` (s1's first cut: API errors).
        drop_truncated: Drop rows whose ``finish_reason`` is ``"length"`` (the trace was cut).
        patterns: Name -> regex of question formats to drop (default: s1's, verbatim).
        exempt: Pattern name -> ``source_type`` substrings exempt from it, compared lower-case
            (s1 kept ``[asy]`` for AIME).
        require_correct: Also drop traces whose answer is not equivalent to the reference
            ``answer`` (s1 kept wrong traces; a verified set often trains better).

    Example:
        >>> import tinyreason as tr
        >>> sel = tr.selector("quality", patterns={"image": r"!\\["})
        >>> sel.patterns
        {'image': '!\\\\['}
        >>> sel.reason({"question": "See ![fig](a.png)", "thinking_trajectories": ["..."],
        ...             "attempt": "4"})
        'format:image'
    """

    drop_errors: bool = True
    drop_truncated: bool = True
    patterns: Mapping[str, str] = field(default_factory=lambda: dict(S1_PATTERNS))
    exempt: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: {"asymptote": ("aime",)})
    require_correct: bool = False
    name: str = "quality"

    def __post_init__(self) -> None:
        problems = []
        compiled = {}
        for key, pattern in self.patterns.items():
            try:
                compiled[key] = re.compile(pattern)
            except (re.error, TypeError) as exc:
                problems.append(f"quality pattern {key!r} is not a valid regex: {exc}")
        if problems:
            raise ConfigError(problems)
        object.__setattr__(self, "_compiled", compiled)
        exempt = {k: tuple(s.lower() for s in v) for k, v in self.exempt.items()}
        object.__setattr__(self, "_exempt", exempt)

    # -- one row ---------------------------------------------------------------------------------

    def reason(self, row: Mapping[str, Any]) -> str | None:
        """Why this row is dropped, or None to keep it (the same rules as :meth:`select`)."""
        if self.drop_errors and row.get("error"):
            return "api_error"
        thinking = row.get("thinking_trajectories")
        thinking = "".join(t or "" for t in thinking) if isinstance(thinking, list) else thinking
        if not (thinking or "").strip():
            return "empty_thinking"
        if not (row.get("attempt") or "").strip():
            return "empty_answer"
        if self.drop_truncated and row.get("finish_reason") == "length":
            return "truncated"
        hit = self._format(row.get("question") or "", (row.get("source_type") or "").lower())
        if hit is not None:
            return f"format:{hit[0]}"
        if self.require_correct:
            return self._correctness(row.get("attempt") or "", row.get("answer"))[0]
        return None

    def _format(self, question: str, source: str) -> tuple[str, str] | None:
        for key, regex in self._compiled.items():  # type: ignore[attr-defined]
            if any(s in source for s in self._exempt.get(key, ())):  # type: ignore[attr-defined]
                continue
            found = regex.search(question)
            if found:
                return key, found.group(0)[:60]
        return None

    @staticmethod
    def _correctness(attempt: str, reference: str | None) -> tuple[str | None, str]:
        from ..answers import equivalent, extract_answer

        if reference is None or not str(reference).strip():
            return "no_reference_answer", ""
        extracted = extract_answer(attempt)
        if not equivalent(extracted, str(reference)):
            return "incorrect", f"answered {extracted!r}, reference {reference!r}"
        return None, ""

    # -- the whole Dataset -----------------------------------------------------------------------

    def select(self, dataset: Dataset) -> Selection:
        """Keep the rows that pass every check (column-wise: fast on 59K rows)."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        require_columns(
            dataset,
            self.name,
            ["question", "thinking_trajectories", "attempt"],
            "distil the problems with a teacher first (tr.teacher(...).distill).",
        )
        if self.require_correct:
            require_columns(dataset, self.name, ["answer"], "load problems with reference answers.")
        names = set(dataset.column_names)
        n = len(dataset)
        decisions: list[str | None] = [None] * n
        details: list[str] = [""] * n
        open_rows = np.ones(n, dtype=bool)

        def drop(mask: np.ndarray, reason: str) -> None:
            for i in np.flatnonzero(mask & open_rows):
                decisions[i] = reason
            open_rows[mask] = False

        if self.drop_errors and "error" in names:
            errors = arrow_column(dataset, "error")
            if not pa.types.is_null(errors.type):
                errors = errors.cast(pa.string())
                failed = pc.fill_null(pc.greater(pc.utf8_length(errors), 0), False)
                failed = failed.to_numpy(zero_copy_only=False)
                texts = errors.to_pylist()
                for i in np.flatnonzero(failed & open_rows):
                    details[i] = str(texts[i])[:200]
                drop(failed, "api_error")
        drop(~has_text(arrow_column(dataset, "thinking_trajectories")), "empty_thinking")
        drop(~has_text(arrow_column(dataset, "attempt")), "empty_answer")
        if self.drop_truncated and "finish_reason" in names:
            finish = arrow_column(dataset, "finish_reason")
            if not pa.types.is_null(finish.type):
                cut = pc.fill_null(pc.equal(finish.cast(pa.string()), "length"), False)
                drop(cut.to_numpy(zero_copy_only=False), "truncated")

        rows = np.flatnonzero(open_rows)
        if self._compiled and len(rows):  # type: ignore[attr-defined]
            take = pa.array(rows, type=pa.int64())
            questions = [q or "" for q in arrow_column(dataset, "question").take(take).to_pylist()]
            sources = (
                arrow_column(dataset, "source_type").take(take).cast(pa.string()).to_pylist()
                if "source_type" in names
                else [None] * len(rows)
            )
            undecided = list(range(len(rows)))
            # One pattern at a time over the rows still undecided: a row gets the first pattern
            # (in order) that matches it and does not exempt its source, as reason() decides.
            for key, regex in self._compiled.items():  # type: ignore[attr-defined]
                exempt = self._exempt.get(key, ())  # type: ignore[attr-defined]
                still = []
                for k in undecided:
                    found = regex.search(questions[k])
                    source = (sources[k] or "").lower() if found and exempt else ""
                    if found and not any(e in source for e in exempt):
                        i = rows[k]
                        decisions[i], details[i] = f"format:{key}", found.group(0)[:60]
                        open_rows[i] = False
                    else:
                        still.append(k)
                undecided = still

        if self.require_correct:
            rows = np.flatnonzero(open_rows)
            take = pa.array(rows, type=pa.int64())
            attempts = arrow_column(dataset, "attempt").take(take).to_pylist()
            references = arrow_column(dataset, "answer").take(take).to_pylist()
            for i, attempt, reference in zip(rows, attempts, references, strict=True):
                decisions[i], details[i] = self._correctness(attempt or "", reference)

        info = {"patterns": sorted(self.patterns), "require_correct": self.require_correct}
        return selection_from_decisions(dataset, self.name, decisions, details=details, info=info)
