"""One check for every option a user passes: the value against the parameter's type annotation.

Every plugin built by name (``tr.teacher("gemini", temperature="0.7")``) has its options checked
here against its factory's signature before it is built, and the stages' entry points check
theirs the same way, so a string where a number is wanted, a scalar where a list is wanted, a
name or a plain function where a plugin object is wanted are each a clear error that says what
was expected, before any model loads or any request is paid.

What an annotation accepts:

* ``int``: an int (not a bool); ``float``: an int or a float (not a bool); ``bool``: a bool.
* ``str``; ``Path`` / ``os.PathLike``: a str or a path.
* ``Literal[...]``: one of the values; ``X | Y`` / ``Optional``: any member.
* ``list[T]``, ``Sequence[T]``, ``tuple[T, ...]``: a list or tuple (never a str), each item a T;
  ``Iterable[T]``: any iterable but a str (items unchecked: it may be a generator).
* ``Mapping`` / ``dict``: a mapping; ``Callable``: anything callable.
* A runtime-checkable Protocol (``Teacher``, ``Backend``...) or a class: an instance of it.
* ``Any``, ``object`` and annotations that cannot be resolved accept everything.

Example:
    >>> def factory(temperature: float = 0.7, stops: list[str] | None = None) -> None: ...
    >>> for problem in check_options(factory, {"temperature": "0.7", "stops": "END"}):
    ...     print(problem)
    temperature must be a number, got str '0.7' (write 0.7, not '0.7')
    stops must be a list of str or None, got str 'END' (write ['END'])
"""

from __future__ import annotations

import collections.abc as cabc
import inspect
import os
import sys
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import PurePath

__all__ = ["check_options", "check_value", "describe"]

_MISSING = object()


def describe(annotation: object) -> str:
    """How an annotation reads in a message.

    Example:
        >>> describe(int | None), describe(list[str]), describe(typing.Literal["a", "b"])
        ('a whole number or None', 'a list of str', "one of 'a', 'b'")
    """
    if annotation is type(None) or annotation is None:
        return "None"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if annotation is bool:
        return "True or False"
    if annotation is int:
        return "a whole number"
    if annotation is float:
        return "a number"
    if annotation is str:
        return "a string"
    if annotation in (PurePath, os.PathLike) or (
        isinstance(annotation, type) and issubclass(annotation, PurePath)
    ):
        return "a path"
    if origin in (list, tuple, cabc.Sequence, cabc.Iterable, cabc.Collection):
        inner = f" of {_name(args[0])}" if args and args[0] is not Ellipsis else ""
        return f"a list{inner}"
    if origin in (dict, cabc.Mapping, cabc.MutableMapping) or annotation in (dict, Mapping):
        return "a mapping (dict)"
    if origin is cabc.Callable or annotation is Callable:
        return "a callable"
    if _is_protocol(annotation):
        return f"a {_name(annotation)} object"
    return f"a {_name(annotation)}"


def _name(annotation: object) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def _is_protocol(annotation: object) -> bool:
    return isinstance(annotation, type) and bool(getattr(annotation, "_is_protocol", False))


def _accepts(value: object, annotation: object) -> bool:
    if annotation in (typing.Any, object, inspect.Parameter.empty):
        return True
    if annotation is None or annotation is type(None):
        return value is None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(_accepts(value, a) for a in args)
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin is typing.Annotated:
        return _accepts(value, args[0])
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if annotation is os.PathLike or (
        isinstance(annotation, type) and issubclass(annotation, PurePath)
    ):
        return isinstance(value, (str, os.PathLike))
    if origin in (list, tuple, cabc.Sequence, cabc.MutableSequence):
        if not isinstance(value, (list, tuple)):
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(args) == len(value) and all(map(_accepts, value, args))
        return not args or all(_accepts(item, args[0]) for item in value)
    if origin in (cabc.Iterable, cabc.Collection, set, frozenset, cabc.Set):
        return isinstance(value, cabc.Iterable) and not isinstance(value, (str, bytes))
    if origin in (dict, cabc.Mapping, cabc.MutableMapping) or annotation in (dict, Mapping):
        return isinstance(value, cabc.Mapping)
    if origin is cabc.Callable or annotation is Callable:
        return callable(value)
    if origin is type:
        return isinstance(value, type)
    if isinstance(annotation, type):
        try:
            return isinstance(value, annotation)
        except TypeError:  # a Protocol that is not runtime-checkable: nothing to check
            return True
    return True  # a TypeVar, a string that could not be resolved, a typing special form


def _hint(value: object, annotation: object) -> str:
    """A fix for the common slips: a number as a string, a scalar for a list, a function."""
    wanted = [annotation, *typing.get_args(annotation)]
    if isinstance(value, type) and any(
        isinstance(a, type) and a is not type and (_is_protocol(a) or issubclass(value, a))
        for a in wanted
    ):
        return f" (a class, not an instance: pass {value.__name__}(...))"
    if isinstance(value, str):
        for number in (int, float):
            if number in wanted:
                try:
                    number(value)
                except ValueError:
                    continue
                return f" (write {value}, not {value!r})"
    listish = any(
        typing.get_origin(a) in (list, tuple, cabc.Sequence, cabc.Iterable) for a in wanted
    )
    if listish and not isinstance(value, (list, tuple)):
        return f" (write [{value!r}])"
    if inspect.isfunction(value) and any(_is_protocol(a) for a in wanted):
        return " (a plain function is not a plugin object: wrap it in a class with the methods"
        " the Protocol names, or register it and pass its name)"
    if isinstance(value, str) and any(_is_protocol(a) for a in wanted):
        return " (a name is not an object here: build it first, e.g. tr.teacher(name))"
    return ""


def check_value(value: object, annotation: object, name: str, *, where: str = "") -> str | None:
    """A message if ``value`` does not fit ``annotation``, else None.

    Example:
        >>> check_value(3, int, "waits") is None
        True
        >>> check_value(True, int, "waits", where="scaler 'budget-forcing'")
        "scaler 'budget-forcing': waits must be a whole number, got bool True"
    """
    if _accepts(value, annotation):
        return None
    prefix = f"{where}: " if where else ""
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:57] + "..."
    return (
        f"{prefix}{name} must be {describe(annotation)}, got {type(value).__name__} {shown}"
        f"{_hint(value, annotation)}"
    )


def _hints(func: Callable[..., object]) -> dict[str, object]:
    """The annotations of ``func``'s parameters (a class: its ``__init__``'s), where resolvable."""
    target = func.__init__ if isinstance(func, type) else func  # type: ignore[misc]
    try:
        return typing.get_type_hints(target)
    except Exception:  # a name only imported under TYPE_CHECKING: resolve one by one
        pass
    module = sys.modules.get(getattr(func, "__module__", ""), None)
    scope = dict(vars(module)) if module is not None else {}
    hints: dict[str, object] = {}
    for key, raw in getattr(target, "__annotations__", {}).items():
        if not isinstance(raw, str):
            hints[key] = raw
            continue
        try:
            hints[key] = eval(raw, scope)
        except Exception:
            continue  # unresolvable here: not checked
    return hints


def check_options(
    func: Callable[..., object], options: Mapping[str, object], *, where: str = ""
) -> list[str]:
    """One message per option whose value does not fit ``func``'s annotation of it.

    Options ``func`` does not name are not judged here (the caller reports unknown names).

    Example:
        >>> def scaler(waits: int = 0) -> None: ...
        >>> check_options(scaler, {"waits": "2"})
        ["waits must be a whole number, got str '2' (write 2, not '2')"]
    """
    hints = _hints(func)
    problems = []
    for key, value in options.items():
        annotation = hints.get(key, _MISSING)
        if annotation is _MISSING:
            continue
        problem = check_value(value, annotation, key, where=where)
        if problem is not None:
            problems.append(problem)
    return problems
