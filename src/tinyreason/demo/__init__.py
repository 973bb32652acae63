"""The embedded default: the whole recipe on a synthetic arithmetic task, on a CPU."""

from . import task
from .run import DemoConfig, DemoResult, run_demo

__all__ = ["DemoConfig", "DemoResult", "run_demo", "task"]
