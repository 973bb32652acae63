"""s1's extrapolation ablation in one line: budget forcing with each string that extends thinking.

s1 extended thinking by suppressing the end of thinking twice and appending a string, and compared
the strings (paper Table 4, 2 extensions each; AIME24 / MATH500 / GPQA): no extension
50.0 / 93.0 / 57.6, "Alternatively" 50.0 / 92.2 / 59.6, "Hmm" 50.0 / 93.0 / 59.6, "Wait"
53.3 / 93.0 / 59.6. :func:`extrapolation_methods` builds those settings as named scalers, ready
for ``tr.compare``::

    report = tr.compare(student, "aime24", methods=extrapolation_methods(waits=2))

s1 also ran the suppression with no string at all (90.2 on MATH500): a
:class:`~tinyreason.scaling.ThinkingControl` needs a wait text to extend thinking, so that variant
is not offered.

Example:
    >>> methods = extrapolation_methods(waits=2)
    >>> list(methods), methods["Hmm"].wait_text, methods["Hmm"].waits, methods["none"].waits
    (['Wait', 'Hmm', 'Alternatively', 'none'], 'Hmm', 2, 0)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ..errors import ConfigError
from .budget_forcing import BudgetForcing

__all__ = ["EXTRAPOLATION_TEXTS", "extrapolation_methods"]

#: s1's strings (None: no extension, shown as ``"none"``).
EXTRAPOLATION_TEXTS: tuple[str | None, ...] = ("Wait", "Hmm", "Alternatively", None)


def extrapolation_methods(
    texts: Sequence[str | None] = EXTRAPOLATION_TEXTS,
    *,
    waits: int = 2,
    base: BudgetForcing | None = None,
) -> dict[str, BudgetForcing]:
    """One budget forcing per string, named by it (``"none"``: no extension), for ``tr.compare``.

    Args:
        texts: The strings to append after each suppressed end of thinking; None: no extension.
        waits: How many times the end of thinking is suppressed (s1's ablation: 2).
        base: The budget forcing to vary (default: s1's, ``max_thinking="auto"``, greedy).

    Raises:
        ConfigError: an empty or repeated string, or ``waits`` < 1.
    """
    if isinstance(waits, bool) or not isinstance(waits, int) or waits < 1:
        raise ConfigError(f"waits must be a whole number >= 1, got {waits!r}")
    base = base if base is not None else BudgetForcing()
    if not isinstance(base, BudgetForcing):
        raise ConfigError(f"base must be a BudgetForcing, got {type(base).__name__}")
    names = ["none" if t is None else t for t in texts]
    bad = [t for t in texts if t is not None and (not isinstance(t, str) or not t.strip())]
    if bad or len(set(names)) != len(names) or not names:
        raise ConfigError(
            f"texts must be distinct non-empty strings (or None for no extension), got {texts!r}"
        )
    return {
        name: dataclasses.replace(base, waits=0, wait_below=0)
        if text is None
        else dataclasses.replace(base, waits=waits, wait_text=text, min_thinking=0)
        for name, text in zip(names, texts, strict=True)
    }
