"""Helpers for testing tinyreason and its plugins: tiny local models and fakes.

Example:
    >>> from tinyreason.testing import FakeTeacher
    >>> teacher = FakeTeacher()
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CHAT_TEMPLATE",
    "CompletionsServer",
    "FakeCall",
    "FakeClock",
    "FakeProvider",
    "FakeProviderTeacher",
    "FakeReply",
    "FakeStats",
    "FakeTeacher",
    "ProviderServer",
    "ScriptedReply",
    "tiny_model",
    "tiny_tokenizer",
]

# name -> submodule; loaded on first use, so importing this package stays torch-free.
_LAZY = {
    "CHAT_TEMPLATE": "tiny",
    "tiny_model": "tiny",
    "tiny_tokenizer": "tiny",
    "FakeCall": "fakes",
    "FakeReply": "fakes",
    "FakeTeacher": "fakes",
    "FakeClock": "fake_provider",
    "FakeProvider": "fake_provider",
    "FakeProviderTeacher": "fake_provider",
    "FakeStats": "fake_provider",
    "CompletionsServer": "completions_server",
    "ProviderServer": "provider_server",
    "ScriptedReply": "provider_server",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'tinyreason.testing' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
