"""``tr.evaluate``: run a benchmark at several thinking budgets; report accuracy against compute."""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..data import as_problems
from ..errors import ConfigError, DataError
from ..records import Problem, Solution
from .report import Report, SettingResult

__all__ = ["Report", "evaluate", "with_budget"]


def with_budget(scaler: Any, budget: int | None) -> Any:
    """A copy of ``scaler`` whose thinking is capped at ``budget`` tokens.

    Works for scalers with a ``with_budget`` method, a ``max_thinking`` field, or an ``inner``
    scaler (majority voting over budget-forced samples).

    Raises:
        ConfigError: the scaler has no thinking budget to set.
    """
    if budget is None:
        return scaler
    if hasattr(scaler, "with_budget"):
        return scaler.with_budget(budget)
    names = (
        {f.name for f in dataclasses.fields(scaler)} if dataclasses.is_dataclass(scaler) else set()
    )
    if "max_thinking" in names:
        return dataclasses.replace(scaler, max_thinking=budget)
    if "inner" in names:
        from ..plugins import build

        inner = scaler.inner if scaler.inner is not None else build("scaler", "budget-forcing")
        return dataclasses.replace(scaler, inner=with_budget(inner, budget))
    raise ConfigError(
        f"the scaler {type(scaler).__name__} has no thinking budget, so budgets= cannot apply; "
        "give it a with_budget(budget) method or a max_thinking field, or omit budgets."
    )


def _bounds(scaler: Any) -> tuple[float, float | None]:
    inner = getattr(scaler, "inner", None) or scaler
    return (float(getattr(inner, "min_thinking", 0) or 0), getattr(inner, "max_thinking", None))


def _backend(model: Any, format: Any) -> Any:
    from ..interfaces import Backend
    from ..plugins import build
    from ..training.base import TrainedStudent

    if isinstance(model, Backend):
        return model
    if isinstance(model, TrainedStudent):
        return model.backend(format=format or model.format)
    if isinstance(model, (str, Path)):
        if format is None and (Path(model) / "tinyreason.json").exists():
            return TrainedStudent.load(model).backend()
        if format is None:
            raise ConfigError(
                "tr.evaluate got a model path but no format=; pass the student format it was "
                "trained with, e.g. format='qwen-s1'."
            )
        return build("backend", "transformers", model=str(model), format=format)
    raise ConfigError(
        f"cannot evaluate a {type(model).__name__}: pass a Backend (tr.backend(...)), a "
        "TrainedStudent, or a model path with format=."
    )


def _problems(benchmark: Any) -> tuple[str, list[Problem]]:
    from ..plugins import build

    if isinstance(benchmark, str):
        bench = build("benchmark", benchmark)
        name, problems = bench.name, bench.problems()
    elif hasattr(benchmark, "problems") and callable(benchmark.problems):
        name, problems = getattr(benchmark, "name", "benchmark"), benchmark.problems()
    else:
        name, problems = "custom", as_problems(benchmark)
    if not problems:
        raise DataError(f"the benchmark {name!r} has no problems.")
    unanswered = [p.id for p in problems if p.answer is None]
    if unanswered:
        raise DataError(
            f"{len(unanswered)} problem(s) of {name!r} have no reference answer (e.g. "
            f"{unanswered[:3]}); evaluation needs one per problem."
        )
    return name, problems


def evaluate(
    model: Any,
    benchmark: Any,
    *,
    scaler: Any = None,
    budgets: Sequence[int | None] | None = None,
    format: Any = None,
    grader: Any = None,
    answer_kind: str = "auto",
    seed: int = 0,
    progress: bool = True,
) -> Report:
    """Run a benchmark with a test-time scaler at several thinking budgets.

    Args:
        model: A Backend (``tr.backend(...)``), a TrainedStudent, or a model path (with ``format``).
        benchmark: A registered benchmark name, a Benchmark, a Dataset or a list of Problems.
        scaler: The test-time scaler (default: budget forcing with no cap).
        budgets: Thinking budgets (``max_thinking``) to sweep; None runs the scaler as it is.
        format: The student format, when ``model`` is a path.
        grader: Anything with ``grade(predicted, reference) -> bool`` (default: math equivalence,
            or letters for ``answer_kind="multiple_choice"``).
        answer_kind: How answers are extracted (``"auto"``, ``"math"``, ``"integer"``,
            ``"multiple_choice"``).
        seed: Seed for sampling and the bootstrap.
        progress: Show a progress bar over budgets.

    Returns:
        A :class:`Report`: per-problem rows, accuracy with a bootstrap 95% interval and mean
        thinking tokens per budget, s1's Control / Scaling / Performance, a plot and a manifest.

    Example:
        >>> report = tr.evaluate(student, "arithmetic", budgets=[0, 16, 32, 64])  # doctest: +SKIP
        >>> report.plot("scaling.png")  # doctest: +SKIP
    """
    from ..plugins import build
    from .answers import extract_answer
    from .grading import ChoiceGrader, MathGrader

    backend = _backend(model, format)
    name, problems = _problems(benchmark)
    scaler = scaler if scaler is not None else build("scaler", "budget-forcing")
    grader = grader or (ChoiceGrader() if answer_kind == "multiple_choice" else MathGrader())
    settings = list(budgets) if budgets is not None else [None]
    if not settings:
        raise ConfigError("budgets is empty; give at least one budget, or None for no sweep.")
    think_end = backend.format.think_end
    results = []
    for budget in tqdm(settings, desc=f"evaluate {name}", disable=not progress):
        configured = with_budget(scaler, budget)
        solutions: list[Solution] = configured.solve(backend, problems, seed=seed)
        if len(solutions) != len(problems):
            raise DataError(
                f"the scaler returned {len(solutions)} solutions for {len(problems)} problems"
            )
        sample_correct = [
            [
                grader.grade(
                    extract_answer(g.text, kind=answer_kind, think_end=think_end), p.answer
                )
                for g in s.generations
            ]
            for p, s in zip(problems, solutions, strict=True)
        ]
        correct = [
            grader.grade(s.answer, p.answer) for p, s in zip(problems, solutions, strict=True)
        ]
        results.append(
            SettingResult(
                label=f"budget={budget}" if budget is not None else "unbounded",
                budget=budget,
                bounds=_bounds(configured),
                problems=problems,
                solutions=solutions,
                correct=correct,
                sample_correct=sample_correct,
            )
        )
    manifest = _manifest(backend, scaler, settings, seed, name, len(problems))
    return Report(name, results, manifest, seed=seed)


def _manifest(
    backend: Any, scaler: Any, budgets: list[int | None], seed: int, benchmark: str, n: int
) -> dict[str, Any]:
    from importlib import metadata

    versions = {}
    for package in ("tinyreason", "torch", "transformers", "trl", "vllm", "math-verify"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    describe = getattr(backend, "describe", None)
    return {
        "benchmark": benchmark,
        "problems": n,
        "budgets": budgets,
        "seed": seed,
        "scaler": repr(scaler),
        "backend": describe() if callable(describe) else type(backend).__name__,
        "format": getattr(backend.format, "name", str(backend.format)),
        "versions": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
