"""Selection: cut a pool of traces down to a small, excellent, auditable training set.

s1's pipeline, each stage a selector (``tr.selector(name, ...)``) that composes with ``>>``:
``decontaminate`` and ``dedup`` (collection), ``quality``, ``difficulty``, ``diversity`` (s1's
domain sampling) or ``embedding-diversity`` (k-center greedy). ``tr.select(ds, *selectors)``
returns a :class:`Selection`: the kept rows, every dropped row with its stage and reason, the
funnel, domain and length distributions, a plot, ``save()``.

Heavy modules load on first use: ``import tinyreason.selection`` imports no numpy, datasets or
sentence-transformers.
"""

from __future__ import annotations

from .._lazy import lazy_exports

__all__ = [
    "MORE_PATTERNS",
    "S1_PATTERNS",
    "Chain",
    "DecontaminateSelector",
    "DedupSelector",
    "DifficultySelector",
    "DiversitySelector",
    "EmbeddingDiversitySelector",
    "EmbeddingDomainClassifier",
    "LLMDomainClassifier",
    "LLMJudge",
    "MathVerifyJudge",
    "QualitySelector",
    "Selection",
    "embed",
    "k_center_greedy",
    "load_msc",
    "s1_include_first",
    "select",
]

_LAZY = {
    "Chain": "base",
    "Selection": "base",
    "select": "base",
    "MORE_PATTERNS": "quality",
    "S1_PATTERNS": "quality",
    "QualitySelector": "quality",
    "DiversitySelector": "diversity",
    "s1_include_first": "rules",
    "DifficultySelector": "difficulty",
    "LLMJudge": "judges",
    "MathVerifyJudge": "judges",
    "EmbeddingDiversitySelector": "embedding",
    "embed": "embedding",
    "k_center_greedy": "embedding",
    "EmbeddingDomainClassifier": "domains",
    "LLMDomainClassifier": "domains",
    "load_msc": "domains",
    "DecontaminateSelector": "decontaminate",
    "DedupSelector": "dedup",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
