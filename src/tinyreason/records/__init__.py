"""The records that flow through the recipe, and the whole data side of the plugin contract.

problems -> traces -> selection -> student -> generations -> solutions. All records are frozen
dataclasses that check their fields when built, so a bad value fails where it is made, not three
stages later. Together with :mod:`tinyreason.interfaces` (the Protocols) this package is everything
a plugin author needs to read: it imports nothing from tinyreason but the errors.

* :mod:`~tinyreason.records.traces`: :class:`Problem`, :class:`Usage`, :class:`Trace`.
* :mod:`~tinyreason.records.results`: :class:`Selection` (with :class:`Stage`) and
  :class:`TrainedStudent`, what the selection and training stages hand on.
* :mod:`~tinyreason.records.saved`: a saved Selection folder's layout, and
  :func:`read_selection`, which any stage uses to read one back, verified.
* :mod:`~tinyreason.records.generations`: :class:`ThinkingControl` (s1's budget forcing),
  :class:`Generation`, :class:`Solution`.

Every stage also reads and writes :class:`datasets.Dataset`; the conversion lives in
:mod:`tinyreason.data`.

Example:
    >>> from tinyreason.records import Problem, ThinkingControl
    >>> Problem("p1", "What is 6 * 7?", answer="42").answer, ThinkingControl().max_thinking
    ('42', 'auto')
"""

from __future__ import annotations

from .generations import AUTO_MARGIN, ROUND_BUDGETS, Generation, Solution, ThinkingControl
from .results import AUDIT_COLUMNS, Selection, Stage, TrainedStudent
from .traces import THINKING_KINDS, Problem, ThinkingKind, Trace, Usage

__all__ = [
    "AUDIT_COLUMNS",
    "AUTO_MARGIN",
    "ROUND_BUDGETS",
    "THINKING_KINDS",
    "Generation",
    "Problem",
    "Selection",
    "Solution",
    "Stage",
    "ThinkingControl",
    "ThinkingKind",
    "Trace",
    "TrainedStudent",
    "Usage",
]
