"""Shared fixtures for the training tests: a tiny base model and length-skewed traces."""

import pytest

import tinyreason as tr


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory):
    """A tiny Qwen2 model folder (built once per session)."""
    return tr.testing.tiny_model(tmp_path_factory.mktemp("training") / "base")


def _make_traces(n=8, repeat=5):
    """n traces whose thinking length varies up to ``repeat`` times (a length-skewed set)."""
    teacher = tr.testing.FakeTeacher()
    problems = [tr.Problem(f"p{i}", f"What is {i} + {i}?", answer=str(2 * i)) for i in range(n)]
    for i in range(n):
        teacher.enqueue(" ".join([f"{i} + {i} = {2 * i}."] * (1 + i % repeat)), f"Answer: {2 * i}")
    return teacher.distill(problems)


@pytest.fixture(scope="session")
def make_traces():
    """A function: make_traces(n, repeat) -> a traces Dataset."""
    return _make_traces


@pytest.fixture
def traces():
    return _make_traces()


@pytest.fixture
def no_compute(monkeypatch):
    """Any attempt to load the model fails the test: errors must come before any compute."""
    from tinyreason.training import SFTTrainerBase

    def refuse(*args, **kwargs):
        raise AssertionError("the model was loaded before the bad input was reported")

    monkeypatch.setattr(SFTTrainerBase, "_load_model", refuse)


def _tree(folder):
    import hashlib
    from pathlib import Path

    root = Path(folder)
    return {
        path.relative_to(root).as_posix(): (
            hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
        )
        for path in sorted(root.rglob("*"))
    }


@pytest.fixture
def tree():
    """A function: tree(folder) -> every entry under it, a file's sha256 or "dir" (before/after)."""
    return _tree
