"""Selection: cut a pool of traces down to a small, excellent, auditable training set."""

from .base import Chain, Selection, select
from .diversity import DiversitySelector
from .quality import S1_PATTERNS, QualitySelector

__all__ = ["S1_PATTERNS", "Chain", "DiversitySelector", "QualitySelector", "Selection", "select"]
