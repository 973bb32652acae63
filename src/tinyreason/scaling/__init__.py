"""Test-time scaling: budget forcing, majority voting, best-of-n, and the backends that run them.

Importing this package is light: the ``transformers`` backend (and with it torch) loads on first
use of :class:`TransformersBackend`.

Example:
    >>> import tinyreason as tr
    >>> from tinyreason.scaling import BudgetForcing, MajorityVote
    >>> vote = MajorityVote(n=8, inner=BudgetForcing(max_thinking=2000))
    >>> backend = tr.backend("transformers", model="out/s1", format="qwen-s1")  # doctest: +SKIP
    >>> solutions = vote.solve(backend, problems, seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports
from ..records import ThinkingControl
from .budget_forcing import BudgetForcing
from .voting import BestOfN, MajorityVote

if TYPE_CHECKING:
    from .openai_backend import OpenAIServerBackend
    from .transformers_backend import TransformersBackend
    from .vllm_backend import VLLMBackend

__all__ = [
    "BestOfN",
    "BudgetForcing",
    "MajorityVote",
    "OpenAIServerBackend",
    "ThinkingControl",
    "TransformersBackend",
    "VLLMBackend",
]

# name -> submodule that imports torch; loaded on first access.
_LAZY = {
    "TransformersBackend": "transformers_backend",
    # Budget forcing by stop-and-continue; these import neither torch nor their engine.
    "OpenAIServerBackend": "openai_backend",
    "VLLMBackend": "vllm_backend",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
