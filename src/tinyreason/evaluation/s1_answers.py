"""Deprecated: moved to :mod:`tinyreason.answers.s1` (the layer every stage shares).

Importing ``tinyreason.evaluation.s1_answers`` still works for one release and warns.
"""

import warnings

from ..answers.s1 import *  # noqa: F403
from ..answers.s1 import __all__  # noqa: F401

warnings.warn(
    "tinyreason.evaluation.s1_answers moved to tinyreason.answers.s1; import it from there.",
    DeprecationWarning,
    stacklevel=2,
)
