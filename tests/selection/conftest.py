"""Selection tests: every cache (teacher replies, embeddings) in a temporary folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _private_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("TINYREASON_CACHE", str(tmp_path / "teachers.sqlite"))
    monkeypatch.setenv("TINYREASON_EMBEDDINGS", str(tmp_path / "embeddings"))
