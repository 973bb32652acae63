"""Shared test fixtures: a fresh plugin registry per test, toy problems, a fake teacher.

The environment (offline, no third-party plugins) is set in the repository's root conftest.py.

Run: ``.venv/bin/python -m pytest`` (add ``-m "not slow"`` to skip the pip-installing tests).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
def network_attempts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse, and record, every name lookup and connection, and record this thread's sleeps.

    Tests that something "fails fast offline" assert that this list stays empty: a lookup, a
    connection or a retry's back-off sleep is what made it slow, and unlike a stopwatch the list
    does not depend on how busy the machine is.
    """
    attempts: list[str] = []
    test_thread = threading.get_ident()
    real_sleep = time.sleep

    def refuse(what: str) -> Callable[..., Any]:
        def refused(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{what}{args!r}")
            raise OSError(f"{what} refused: this test must not touch the network")

        return refused

    def sleep(seconds: float) -> None:
        if threading.get_ident() == test_thread:  # other tests' server threads may sleep
            attempts.append(f"sleep({seconds!r})")
        real_sleep(seconds)

    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    monkeypatch.setattr(time, "sleep", sleep)
    return attempts


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
