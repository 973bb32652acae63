"""Shared test fixtures: a fresh plugin registry per test, toy problems, a fake teacher.

The environment (offline, no third-party plugins) is set in the repository's root conftest.py.

Run: ``.venv/bin/python -m pytest`` (add ``-m "not slow"`` to skip the pip-installing tests).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import tinyreason as tr
from tinyreason import registry

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def _fresh_plugins() -> Iterator[None]:
    """Forget every registered plugin after each test (cheap: built-ins reload on next use)."""
    try:
        yield
    finally:
        registry.reset()


@pytest.fixture
def fixtures_dir() -> Path:
    """The folder of test fixture files."""
    return FIXTURES


@pytest.fixture
def toy_problems() -> list[tr.Problem]:
    """Three small problems with answers, domains and metadata."""
    return [
        tr.Problem(
            "toy-1",
            "What is 6 * 7?",
            answer="42",
            solution="6 * 7 = 42.",
            domain="math",
            source="toy/arithmetic",
            metadata={"level": 1, "tags": ["multiplication"]},
        ),
        tr.Problem("toy-2", "Solve 2x + 3 = 11 for x.", answer="4", domain="math"),
        tr.Problem("toy-3", "Name a prime number greater than 10.", metadata={"open": True}),
    ]


@pytest.fixture
def toy_rows() -> list[dict[str, object]]:
    """Row dicts in other datasets' column names (problem / idx / float answers)."""
    return [
        {"idx": 0, "problem": "How many sides does a hexagon have?", "answer": 6.0},
        {"idx": 1, "problem": "What is 10% of 270?", "answer": 27.0},
        {"idx": 2, "problem": "Simplify 2/4.", "answer": "\\frac{1}{2}"},
    ]


@pytest.fixture
def fake_teacher() -> tr.testing.FakeTeacher:
    """A fresh :class:`tinyreason.testing.FakeTeacher`."""
    return tr.testing.FakeTeacher()
