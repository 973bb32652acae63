"""Helpers for testing tinyreason and its plugins: tiny local models and fakes.

Example:
    >>> from tinyreason.testing import FakeTeacher
    >>> teacher = FakeTeacher()
"""

from __future__ import annotations

from .._lazy import lazy_exports

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
    "HubServer",
    "OpenAIBatchServer",
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
    "HubServer": "hub_server",
    "OpenAIBatchServer": "batch_server",
    "ProviderServer": "provider_server",
    "ScriptedReply": "provider_server",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
