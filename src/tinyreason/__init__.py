"""tinyreason: the s1 recipe as a library.

Distil a teacher's reasoning traces, select ~1,000 excellent ones, fine-tune a student on them, and
scale its thinking at test time (budget forcing, majority voting), measured on real benchmarks.

Example:
    >>> import tinyreason as tr
    >>> fmt = tr.chat_format("qwen-s1")
    >>> fmt.think_end
    '<|im_start|>answer'

``import tinyreason`` is instant and pulls in no torch, transformers, TRL or provider SDK: each
stage imports what it needs when it is used.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from typing import TYPE_CHECKING, Any

from . import registry as _registry
from ._lazy import lazy_exports
from .data import (
    as_problems,
    load_problems,
    problems_from_dataset,
    to_dataset,
    traces_from_dataset,
)
from .errors import (
    ArtifactError,
    ConfigError,
    DataError,
    FolderNotOursError,
    PluginError,
    TinyReasonError,
    UnknownPluginError,
)
from .hookspecs import hookimpl
from .interfaces import (
    Backend,
    Benchmark,
    Grader,
    RewardModel,
    Selector,
    StudentFormat,
    Teacher,
    TestTimeScaler,
    Trainer,
)
from .records import Generation, Problem, Solution, ThinkingControl, Trace, Usage
from .registry import PluginWarning, available, plugins, register_plugin, unregister_plugin
from .registry import build as _build

if TYPE_CHECKING:
    from .evaluation.compare import Comparison, compare
    from .evaluation.evaluate import Report, evaluate
    from .selection.base import Selection, select
    from .training.base import TrainedStudent

__version__ = "0.1.0.dev0"

__all__ = [
    "ArtifactError",
    "Backend",
    "Benchmark",
    "Comparison",
    "ConfigError",
    "DataError",
    "FolderNotOursError",
    "Generation",
    "Grader",
    "PluginError",
    "PluginWarning",
    "Problem",
    "Report",
    "RewardModel",
    "Selection",
    "Selector",
    "Solution",
    "StudentFormat",
    "Teacher",
    "TestTimeScaler",
    "ThinkingControl",
    "TinyReasonError",
    "Trace",
    "TrainedStudent",
    "Trainer",
    "UnknownPluginError",
    "Usage",
    "__version__",
    "as_problems",
    "available",
    "backend",
    "benchmark",
    "chat_format",
    "compare",
    "evaluate",
    "hookimpl",
    "load_problems",
    "plugins",
    "problems_from_dataset",
    "register_plugin",
    "reward_model",
    "scaler",
    "select",
    "selector",
    "student",
    "teacher",
    "to_dataset",
    "traces_from_dataset",
    "trainer",
    "unregister_plugin",
]


def teacher(name: str, /, **options: Any) -> Teacher:
    """The teacher registered as ``name``, built with ``options``.

    Example:
        >>> import tinyreason as tr
        >>> tr.teacher("arithmetic", error_rate=0.1).error_rate
        0.1
    """
    return _build("teacher", name, **options)


def selector(name: str, /, **options: Any) -> Selector:
    """The selector registered as ``name`` (``"quality"``, ``"diversity"``...)."""
    return _build("selector", name, **options)


def trainer(name: str, /, **options: Any) -> Trainer:
    """The trainer registered as ``name`` (``"full"``...)."""
    return _build("trainer", name, **options)


def scaler(name: str, /, **options: Any) -> TestTimeScaler:
    """The test-time scaler registered as ``name`` (``"budget-forcing"``, ``"majority-vote"``)."""
    return _build("scaler", name, **options)


def chat_format(name: str, /, **options: Any) -> StudentFormat:
    """The chat format registered as ``name`` (``"qwen-s1"``, ``"think-tags"``).

    A chat format (a :class:`tinyreason.students.ThinkFormat`) is how a student's turn is
    written: the think and answer delimiters, rendered into the model's chat template. Plugins
    register chat formats with the ``register_students`` hook; ``tr.available("student")`` lists
    them.

    Example:
        >>> import tinyreason as tr
        >>> tr.chat_format("think-tags").think_end
        '</think>'
    """
    return _build("student", name, **options)


def student(name: str, /, **options: Any) -> StudentFormat:
    """Deprecated alias of :func:`chat_format`, removed in the next release.

    It never returned a student (a trained model), but a chat format.
    """
    warnings.warn(
        "tr.student() is deprecated and will be removed in the next release: it returns a chat "
        "format, not a student. Use tr.chat_format(name, **options).",
        DeprecationWarning,
        stacklevel=2,
    )
    return _build("student", name, **options)


def benchmark(name: str, /, **options: Any) -> Benchmark:
    """The benchmark registered as ``name``."""
    return _build("benchmark", name, **options)


def backend(name: str, /, **options: Any) -> Backend:
    """The generation backend registered as ``name`` (``"transformers"``...)."""
    return _build("backend", name, **options)


def reward_model(name: str, /, **options: Any) -> RewardModel:
    """The process reward model registered as ``name`` (``"qwen-prm"``, ``"math-shepherd"``).

    The verifier-guided scalers take one: ``tr.scaler("beam-search", reward_model=...)``.

    Example:
        >>> import tinyreason as tr
        >>> sorted(tr.available("reward_model"))
        ['math-shepherd', 'qwen-prm']
        >>> prm = tr.reward_model("qwen-prm", trust_remote_code=True)  # doctest: +SKIP
    """
    return _build("reward_model", name, **options)


_SUBMODULES = {
    "demo",
    "evaluation",
    "scaling",
    "selection",
    "students",
    "teachers",
    "testing",
    "training",
}
_LAZY = {
    "evaluate": "tinyreason.evaluation.evaluate",
    "compare": "tinyreason.evaluation.compare",
    "Comparison": "tinyreason.evaluation.compare",
    "Report": "tinyreason.evaluation.evaluate",
    "select": "tinyreason.selection.base",
    "Selection": "tinyreason.selection.base",
    "TrainedStudent": "tinyreason.training.base",
}


_lazy_attribute, _ = lazy_exports(__name__, _LAZY)


def __getattr__(name: str) -> Any:
    # Stages load on first use, so `import tinyreason` stays fast and works without extras.
    if name in _SUBMODULES:
        return importlib.import_module(f"tinyreason.{name}")
    if name in _LAZY:
        return _lazy_attribute(name)
    message = f"module 'tinyreason' has no attribute {name!r}"
    kind = _PLURALS.get(name)
    if kind is not None:
        # A plural a user tries for "what is there?": say where the listing is. (No plural is a
        # listing function: tr.teachers and tr.students are subpackages, and a function named like
        # a subpackage is shadowed by it once the subpackage is imported.)
        noun, getter = _registry.noun(kind), _registry.GETTERS[kind]
        message += (
            f". List the {noun}s with tr.available({kind!r}) and build one with "
            f"tr.{getter}(name, **options); tr.plugins() shows every plugin and what it provides."
        )
    raise AttributeError(message, name=name, obj=sys.modules[__name__])


#: Plural names that are not subpackages -> the kind they name (tr.selectors -> "selector").
_PLURALS = {
    plural: kind
    for kind, getter in _registry.GETTERS.items()
    for plural in (f"{kind}s", f"{getter}s")
    if plural not in _SUBMODULES
}


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES | set(_LAZY))
