"""Deprecated: moved to :mod:`tinyreason.answers.verify` (the layer every stage shares).

Importing ``tinyreason.evaluation.verify`` still works for one release and warns.
"""

import warnings

from ..answers.verify import *  # noqa: F403
from ..answers.verify import __all__  # noqa: F401

warnings.warn(
    "tinyreason.evaluation.verify moved to tinyreason.answers.verify; import it from there.",
    DeprecationWarning,
    stacklevel=2,
)
