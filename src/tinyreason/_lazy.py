"""Lazy exports: a package names what it offers, and each name's module loads on first use.

Stages and the testing helpers import torch, transformers or provider SDKs; a package that
re-exports them lazily stays instant to import.

Example:
    >>> __getattr__, __dir__ = lazy_exports("tinyreason.testing", {"FakeTeacher": "fakes"})
    >>> __getattr__("FakeTeacher").__name__
    'FakeTeacher'
    >>> __getattr__("Nope")
    Traceback (most recent call last):
    ...
    AttributeError: module 'tinyreason.testing' has no attribute 'Nope'
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, table: Mapping[str, str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """A module's ``__getattr__`` and ``__dir__`` for the names in ``table``.

    Args:
        package: The package's ``__name__``.
        table: Name -> the submodule that defines it (relative to ``package``), or an absolute
            module name (starting with ``tinyreason.``).
    """

    def module_of(name: str) -> str:
        where = table[name]
        return where if where.startswith("tinyreason.") else f"{package}.{where}"

    def __getattr__(name: str) -> object:
        if name in table:
            return getattr(importlib.import_module(module_of(name)), name)
        raise AttributeError(
            f"module {package!r} has no attribute {name!r}", name=name, obj=sys.modules.get(package)
        )

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(table))

    return __getattr__, __dir__
