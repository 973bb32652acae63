"""s1's quality stage: drop failed calls, empty or truncated traces, badly formatted questions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .base import Composable, Selection, require_columns, selection_from_decisions

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["S1_PATTERNS", "QualitySelector"]

#: The formatting patterns s1 filtered out of questions (``data/filter.ipynb``): Asymptote
#: diagrams (kept for AIME), image links, ``p1.``-style problem numbering, bold-digit markup.
S1_PATTERNS: Mapping[str, str] = {
    "asymptote": r"\[asy\]",
    "image": r"!\[[^\]]*\]\(|<img\b",
    "numbering": r"(?<![\w.])p[1-9][0-9]{0,2}\.",
    "bold-digits": r"\*\*\s*\d",
}


@dataclass(frozen=True)
class QualitySelector(Composable):
    """Drops rows whose trace failed, is empty or truncated, or whose question is badly formatted.

    Args:
        drop_errors: Drop rows with an ``error`` (s1's first cut: API errors).
        drop_truncated: Drop rows whose ``finish_reason`` is ``"length"`` (the trace was cut).
        patterns: Name -> regex of question formats to drop (default: s1's).
        exempt: Pattern name -> source substrings exempt from it (s1 kept ``[asy]`` for AIME).
        require_correct: Also drop traces whose answer is not equivalent to the reference
            ``answer`` (s1 kept wrong traces; a verified set often trains better).

    Example:
        >>> import tinyreason as tr
        >>> sel = tr.selector("quality", patterns={"image": r"!\\["})
        >>> sel.patterns
        {'image': '!\\\\['}
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
            except re.error as exc:
                problems.append(f"quality pattern {key!r} is not a valid regex: {exc}")
        if problems:
            raise ConfigError(problems)
        object.__setattr__(self, "_compiled", compiled)

    def reason(self, row: Mapping[str, Any]) -> str | None:
        """Why this row is dropped, or None to keep it."""
        if self.drop_errors and row.get("error"):
            return "api_error"
        thinking = row.get("thinking_trajectories")
        thinking = "".join(thinking) if isinstance(thinking, list) else (thinking or "")
        if not thinking.strip():
            return "empty_thinking"
        if not (row.get("attempt") or "").strip():
            return "empty_answer"
        if self.drop_truncated and row.get("finish_reason") == "length":
            return "truncated"
        source = (row.get("source_type") or "").lower()
        for key, regex in self._compiled.items():  # type: ignore[attr-defined]
            if any(s in source for s in self.exempt.get(key, ())):
                continue
            if regex.search(row.get("question") or ""):
                return f"format:{key}"
        if self.require_correct:
            from ..evaluation.answers import extract_answer
            from ..evaluation.grading import equivalent

            reference = row.get("answer")
            if reference is None:
                return "no_reference_answer"
            if not equivalent(extract_answer(row["attempt"]), reference):
                return "incorrect"
        return None

    def select(self, dataset: Dataset) -> Selection:
        """Keep the rows that pass every check."""
        require_columns(
            dataset,
            self.name,
            ["question", "thinking_trajectories", "attempt"],
            "distil the problems with a teacher first (tr.teacher(...).distill).",
        )
        if self.require_correct:
            require_columns(dataset, self.name, ["answer"], "load problems with reference answers.")
        return selection_from_decisions(dataset, self.name, [self.reason(row) for row in dataset])
