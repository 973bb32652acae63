"""tinyreason: the s1 recipe as a library.

Distil a teacher's reasoning traces, select ~1,000 excellent ones, fine-tune a student on them, and
scale its thinking at test time (budget forcing, majority voting), measured on real benchmarks.

Example:
    >>> import tinyreason as tr
    >>> fmt = tr.student("qwen-s1")
    >>> fmt.think_end
    '<|im_start|>answer'

``import tinyreason`` is instant and pulls in no torch, transformers, TRL or provider SDK: each
stage imports what it needs when it is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .data import (
    as_problems,
    load_problems,
    problems_from_dataset,
    to_dataset,
    traces_from_dataset,
)
from .errors import ConfigError, DataError, PluginError, TinyReasonError, UnknownPluginError
from .hookspecs import hookimpl
from .interfaces import (
    Backend,
    Benchmark,
    Grader,
    Selector,
    StudentFormat,
    Teacher,
    TestTimeScaler,
    Trainer,
)
from .plugins import PluginWarning, available, plugins, register_plugin, unregister_plugin
from .plugins import build as _build
from .records import Generation, Problem, Solution, Trace, Usage
from .scaling.control import ThinkingControl

if TYPE_CHECKING:
    from .evaluation.evaluate import Report, evaluate
    from .selection.base import Selection, select
    from .training.base import TrainedStudent

__version__ = "0.1.0.dev0"

__all__ = [
    "Backend",
    "Benchmark",
    "ConfigError",
    "DataError",
    "Generation",
    "Grader",
    "PluginError",
    "PluginWarning",
    "Problem",
    "Report",
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
    "evaluate",
    "hookimpl",
    "load_problems",
    "plugins",
    "problems_from_dataset",
    "register_plugin",
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


def student(name: str, /, **options: Any) -> StudentFormat:
    """The student format registered as ``name`` (``"qwen-s1"``, ``"think-tags"``)."""
    return _build("student", name, **options)


def benchmark(name: str, /, **options: Any) -> Benchmark:
    """The benchmark registered as ``name``."""
    return _build("benchmark", name, **options)


def backend(name: str, /, **options: Any) -> Backend:
    """The generation backend registered as ``name`` (``"transformers"``...)."""
    return _build("backend", name, **options)


_SUBMODULES = {"demo", "evaluation", "scaling", "selection", "students", "testing", "training"}
_LAZY = {
    "evaluate": "tinyreason.evaluation.evaluate",
    "Report": "tinyreason.evaluation.evaluate",
    "select": "tinyreason.selection.base",
    "Selection": "tinyreason.selection.base",
    "TrainedStudent": "tinyreason.training.base",
}


def __getattr__(name: str) -> Any:
    # Stages load on first use, so `import tinyreason` stays fast and works without extras.
    if name in _SUBMODULES:
        return importlib.import_module(f"tinyreason.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'tinyreason' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES | set(_LAZY))
