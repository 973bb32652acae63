"""A run's fingerprint: one hash of everything that changes an evaluation's results.

A run folder (:mod:`~tinyreason.evaluation.run_dir`) is resumed only by a run with the same
fingerprint. The settings are first made :func:`stable` (the same JSON in every process: no memory
addresses, floats never rounded), then hashed as canonical JSON by :func:`fingerprint_of`; the
problems go in by :func:`problems_digest`.

Example:
    >>> from tinyreason.scaling import BudgetForcing
    >>> a = fingerprint_of(stable({"scaler": BudgetForcing(max_thinking=8), "seed": 0}))
    >>> a == fingerprint_of(stable({"seed": 0, "scaler": BudgetForcing(max_thinking=8)}))
    True
    >>> a == fingerprint_of(stable({"scaler": BudgetForcing(max_thinking=9), "seed": 0}))
    False
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from ..interfaces import Describes
from ..records import Problem

__all__ = ["VOLATILE", "fingerprint_of", "problems_digest", "stable"]

#: Keys of a backend's ``describe()`` that do not change its results (where it runs, how fast).
VOLATILE = frozenset({"device", "max_concurrency", "timeout", "server"})


def _qualname(obj: Any) -> str:
    kind = obj if isinstance(obj, type) else type(obj)
    return f"{kind.__module__}.{kind.__qualname__}"


def stable(obj: Any, depth: int = 0) -> Any:
    """A JSON-friendly description of ``obj`` that is the same in every process.

    Dataclasses (the built-in scalers and graders) by their type and fields, objects with a
    ``describe()`` (:class:`~tinyreason.interfaces.Describes`) by it, functions by their qualified
    name and a hash of their code, anything else by its type and its ``repr`` (without memory
    addresses).

    Example:
        >>> from tinyreason.scaling import BudgetForcing
        >>> stable(BudgetForcing(max_thinking=8))["max_thinking"]
        8
        >>> stable(lambda x: x)["function"].endswith("<lambda>")
        True
    """
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return repr(obj)  # nan and inf as well, and never rounded
    if depth > 8:
        return _qualname(obj)
    if isinstance(obj, Mapping):
        return {
            str(k): stable(v, depth + 1) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))
        }
    if isinstance(obj, (list, tuple, set, frozenset)):
        items = sorted(obj, key=repr) if isinstance(obj, (set, frozenset)) else obj
        return [stable(v, depth + 1) for v in items]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        fields = {f.name: stable(getattr(obj, f.name), depth + 1) for f in dataclasses.fields(obj)}
        return {"type": _qualname(obj), **fields}
    if inspect.isroutine(obj):
        # A function's own attributes (Python's, not a plugin's): its code says what it does.
        code = getattr(obj, "__code__", None)
        digest = hashlib.sha256(code.co_code).hexdigest()[:16] if code is not None else ""
        name = f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', obj)}"
        return {"function": name, "code": digest}
    if not isinstance(obj, type) and isinstance(obj, Describes) and callable(obj.describe):
        with contextlib.suppress(Exception):
            return {"type": _qualname(obj), "describe": stable(obj.describe(), depth + 1)}
    text = repr(obj)
    return {"type": _qualname(obj), "repr": text if " at 0x" not in text else ""}


def fingerprint_of(settings: Mapping[str, Any]) -> str:
    """The sha256 of ``settings`` as canonical JSON: equal settings, equal fingerprints.

    Example:
        >>> fingerprint_of({"a": 1, "b": [2]}) == fingerprint_of({"b": [2], "a": 1})
        True
    """
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def problems_digest(problems: Sequence[Problem]) -> str:
    """The sha256 of the problems' ids, questions and reference answers, in order.

    Example:
        >>> problems_digest([Problem("a", "1+1?", "2")]) == problems_digest([Problem("a", "1+1?")])
        False
    """
    rows = [[p.id, p.question, p.answer] for p in problems]
    return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()
