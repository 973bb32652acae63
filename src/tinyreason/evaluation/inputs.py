"""Every input of ``tr.evaluate``, checked before any model loads: one table, one mechanism.

Each argument is first checked against ``evaluate``'s own type annotation by
:func:`tinyreason.options.check_options` (the check every getter and entry point shares: a string
where a number is wanted, a scalar where a list is wanted, a plain function where a plugin object
is wanted); an argument of the right type then meets its rule in :data:`RULES` (ranges, names, a
class passed where an instance is wanted, a model folder that does not exist). Every problem
found is reported at once, in one :class:`~tinyreason.errors.ConfigError`.

Example:
    >>> def run(samples: int | None = None, budgets: list[int | None] | None = None) -> None: ...
    >>> check_inputs(run, {"samples": 0, "budgets": 512})
    Traceback (most recent call last):
    ...
    tinyreason.errors.ConfigError: 2 problems:
      - samples must be a whole number >= 1 (samples drawn per problem), got 0
      - budgets must be a list of int | None or None, got int 512 (write [512])
"""

from __future__ import annotations

import inspect
import math
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..interfaces import Benchmark
from ..options import check_options
from ..records import Problem, TrainedStudent

__all__ = [
    "DEFAULT_COMMIT_EVERY",
    "GRADERS",
    "INSTANCES",
    "RULES",
    "check_inputs",
    "samples_problem",
    "temperature_problem",
]

#: Problems per scaler call (and per commit) when ``run_dir`` is given and ``commit_every`` not.
DEFAULT_COMMIT_EVERY = 16
#: Graders ``tr.evaluate(grader=...)`` accepts by name.
GRADERS = ("math", "choice")


def samples_problem(samples: Any) -> str | None:
    """What is wrong with ``samples=``, if anything.

    Example:
        >>> samples_problem(4) is None, samples_problem(0)
        (True, 'samples must be a whole number >= 1 (samples drawn per problem), got 0')
    """
    if samples is not None and (
        isinstance(samples, bool) or not isinstance(samples, int) or samples < 1
    ):
        return f"samples must be a whole number >= 1 (samples drawn per problem), got {samples!r}"
    return None


def temperature_problem(temperature: Any) -> str | None:
    """What is wrong with ``temperature=``, if anything.

    Example:
        >>> temperature_problem(float("inf"))
        'temperature must be a finite number >= 0, got inf'
    """
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not math.isfinite(temperature)
        or temperature < 0
    ):
        return f"temperature must be a finite number >= 0, got {temperature!r}"
    return None


def _a_class(name: str, value: type, example: str) -> str:
    return (
        f"{name} is the class {value.__name__}, not an object: pass an instance, e.g. "
        f"{name}={example}"
    )


def _looks_local(value: str | os.PathLike[str]) -> bool:
    """A path the user meant as a folder on this machine (not a hub id like ``org/model``)."""
    if not isinstance(value, str):
        return True
    return value.startswith(("/", "./", "../", "~", ".\\")) or os.path.isabs(value)


def _model(value: Any) -> str | None:
    if isinstance(value, str) and not value.strip():
        return "model is an empty string; pass a model folder with format=, or a Backend"
    path: Path | None = None
    if isinstance(value, TrainedStudent):
        path = Path(value.path)
    elif isinstance(value, (str, os.PathLike)) and _looks_local(value):
        path = Path(value).expanduser()
    if path is not None and not path.exists():
        return (
            f"model: no such folder {path}; pass the trained student's folder (train's output "
            "folder), a TrainedStudent, or a Backend (tr.backend(...))"
        )
    return None


def _benchmark(value: Any) -> str | None:
    if isinstance(value, str) and not value.strip():
        return "benchmark is an empty string; pass a name such as 'aime24', or a file path"
    if isinstance(value, (str, os.PathLike, Benchmark, Problem)):
        return None
    if inspect.isroutine(value):
        return (
            f"benchmark is the function {getattr(value, '__name__', value)!r}, not a benchmark: "
            "pass its name, a Benchmark object (name and problems()), or call it and pass the "
            "problems it returns"
        )
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        return None
    return (
        f"benchmark must be a benchmark name ('aime24'), a file path, a Benchmark object, a "
        f"Dataset or a list of Problems, got {type(value).__name__} {value!r:.60}"
    )


def _scaler(value: Any) -> str | None:
    if isinstance(value, str) and not value.strip():
        return "scaler is an empty string; pass a name such as 'budget-forcing', or tr.scaler(...)"
    return None


def _grader(value: Any) -> str | None:
    if isinstance(value, str) and value not in GRADERS:
        return (
            f"grader must be one of {', '.join(map(repr, GRADERS))} or a Grader object "
            f"(grade(predicted, reference) -> bool), got {value!r}"
        )
    return None


def _budgets(value: Any) -> str | None:
    if value is None:
        return None
    if not value:
        return (
            "budgets is empty; give at least one budget (e.g. budgets=[512]), or None for no sweep"
        )
    bad = [f"budgets[{i}] = {b!r}" for i, b in enumerate(value) if b is not None and b < 0]
    if bad:
        return (
            f"budgets are thinking tokens, each a whole number >= 0 or None (no cap): "
            f"{', '.join(bad[:3])}"
        )
    return None


def _answer_kind(value: Any) -> str | None:
    from ..answers import ANSWER_KINDS

    if value is not None and value not in ANSWER_KINDS:
        return f"answer_kind must be one of {', '.join(ANSWER_KINDS)}; got {value!r}"
    return None


def _run_dir(value: Any) -> str | None:
    if isinstance(value, str) and not value.strip():
        return "run_dir is an empty string; pass a folder, e.g. run_dir='runs/aime24'"
    return None


def _commit_every(value: Any) -> str | None:
    if value is not None and value < 1:
        return f"commit_every must be a whole number >= 1 (problems per commit), got {value!r}"
    return None


#: Arguments that take an object, with how to build one (``{name}``: the class passed).
INSTANCES = {
    "model": "{name}(...)",
    "benchmark": "{name}()",
    "scaler": "{name}() or tr.scaler('budget-forcing')",
    "grader": "{name}()",
    "format": "{name}() or tr.chat_format('qwen-s1')",
}

#: Per argument, the check that follows its type annotation's (None: nothing more to check).
RULES: dict[str, Callable[[Any], str | None]] = {
    "model": _model,
    "benchmark": _benchmark,
    "scaler": _scaler,
    "budgets": _budgets,
    "samples": samples_problem,
    "temperature": temperature_problem,
    "grader": _grader,
    "answer_kind": _answer_kind,
    "run_dir": _run_dir,
    "commit_every": _commit_every,
}


def check_inputs(func: Callable[..., object], values: Mapping[str, object]) -> None:
    """Check ``values`` (a call's arguments) against ``func``'s annotations, then :data:`RULES`.

    Raises:
        ConfigError: every problem found, each saying what was wrong and how to fix it.
    """
    problems: list[str] = []
    for key, value in values.items():
        example = INSTANCES.get(key)
        if example is not None and isinstance(value, type):  # a class where an object is wanted
            problems.append(_a_class(key, value, example.format(name=value.__name__)))
            continue
        typed = check_options(func, {key: value})
        if typed:
            problems += typed
            continue
        rule = RULES.get(key)
        problem = rule(value) if rule is not None else None
        if problem is not None:
            problems.append(problem)
    if problems:
        raise ConfigError(problems)
