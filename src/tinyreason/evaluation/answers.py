"""Deprecated: moved to :mod:`tinyreason.answers.extract` (the layer every stage shares).

Importing ``tinyreason.evaluation.answers`` still works for one release and warns.
"""

import warnings

from ..answers.extract import *  # noqa: F403
from ..answers.extract import __all__  # noqa: F401

warnings.warn(
    "tinyreason.evaluation.answers moved to tinyreason.answers.extract; import it from there.",
    DeprecationWarning,
    stacklevel=2,
)
