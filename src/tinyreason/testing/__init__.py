"""Helpers for testing tinyreason and its plugins: tiny local models and fakes.

Example:
    >>> from tinyreason.testing import FakeTeacher
    >>> teacher = FakeTeacher()
"""

from __future__ import annotations

from typing import Any

__all__ = ["CHAT_TEMPLATE", "tiny_model", "tiny_tokenizer"]


def __getattr__(name: str) -> Any:  # torch-free import of this package
    if name in ("CHAT_TEMPLATE", "tiny_model", "tiny_tokenizer"):
        from . import tiny

        return getattr(tiny, name)
    raise AttributeError(f"module 'tinyreason.testing' has no attribute {name!r}")
