"""Deprecated: moved to :mod:`tinyreason.answers.grading` (the layer every stage shares).

Importing ``tinyreason.evaluation.grading`` still works for one release and warns.
"""

import warnings

from ..answers.grading import *  # noqa: F403
from ..answers.grading import __all__  # noqa: F401

warnings.warn(
    "tinyreason.evaluation.grading moved to tinyreason.answers.grading; import it from there.",
    DeprecationWarning,
    stacklevel=2,
)
