"""``tr.compare``: several ways to spend test-time compute, on one benchmark, in one table.

s1's claim is that budget forcing controls thinking better than the alternatives (token-, step-
and class-conditional control, rejection sampling), measured by Control, Scaling and Performance
(paper Table 3). ``tr.compare`` reruns that comparison on any student: each method is just a named
:class:`~tinyreason.TestTimeScaler` with its settings (budgets, or ``"short"`` / ``"long"``), and
every setting is solved and graded by ``tr.evaluate``'s own machinery, so each number means what it
means in an evaluation report.

Every method and setting draws with the same seed over the same seeded groups of problems (common
random numbers): two methods that sample differ by what they do, not by different luck. The model
loads once; the benchmark is read once up front (a bad one fails before any model loads).

Example:
    >>> import tinyreason as tr
    >>> from tinyreason.scaling.conditional import TokenConditional
    >>> comparison = tr.compare(student, "aime24", budgets=[512, 1024, 2048], methods={
    ...     "BF": tr.scaler("budget-forcing"),
    ...     "TCC": TokenConditional(),
    ...     "TCC+BF": TokenConditional(forcing=True),
    ...     "CCC": (tr.scaler("class-conditional"), ["short", "long"]),
    ... })  # doctest: +SKIP
    >>> comparison.table()[0]["control"]  # doctest: +SKIP
    100.0
    >>> comparison.plot("methods.png")  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..interfaces import Backend, BudgetSweepable, Grader, StudentFormat, TestTimeScaler
from .compare_report import Comparison, MethodResult, RequestsCompute
from .evaluate import evaluate
from .report import Report, SettingResult
from .resolve import BenchmarkSpec, ModelSpec, benchmark_problems, model_options

__all__ = ["Comparison", "MethodSpec", "compare", "method_settings"]

#: A method: a scaler (or a registered scaler's name), alone or with its settings.
MethodSpec = TestTimeScaler | str | tuple[TestTimeScaler | str, Sequence[object]]


def method_settings(
    methods: Mapping[str, MethodSpec], budgets: Sequence[object] | None = None
) -> list[tuple[str, TestTimeScaler, list[object]]]:
    """Each method's name, scaler and settings, checked (every problem reported at once).

    A method given alone runs at ``budgets`` when its scaler can take them (it has
    ``with_budget``: :class:`~tinyreason.interfaces.BudgetSweepable`), else once, as given; a
    setting that is not None goes to the scaler's ``with_budget``.

    Raises:
        ConfigError: no methods, a name that is not a non-empty string, something that is not a
            scaler, settings that are not a non-empty list, or settings for a scaler that
            cannot take them.
        UnknownPluginError: a scaler name that is not registered.

    Example:
        >>> [(n, list(s)) for n, _, s in method_settings({"BF": "budget-forcing"}, [8, 16])]
        [('BF', [8, 16])]
    """
    from ..registry import build

    if not isinstance(methods, Mapping) or not methods:
        raise ConfigError(
            "methods must be a non-empty dict {name: scaler or (scaler, settings)}, e.g. "
            "{'BF': tr.scaler('budget-forcing'), 'CCC': (tr.scaler('class-conditional'), "
            "['short', 'long'])}"
        )
    if budgets is not None and (isinstance(budgets, (str, bytes)) or not _listish(budgets)):
        raise ConfigError(f"budgets must be a list of settings or None, got {budgets!r}")
    problems: list[str] = []
    out = []
    for name, spec in methods.items():
        if not isinstance(name, str) or not name.strip():
            problems.append(f"method names must be non-empty strings, got {name!r}")
            continue
        scaler, settings = spec if isinstance(spec, tuple) else (spec, None)
        if isinstance(scaler, str):
            scaler = build("scaler", scaler)
        if not isinstance(scaler, TestTimeScaler):
            problems.append(
                f"method {name!r} is a {type(scaler).__name__}, not a test-time scaler (an "
                "object with solve(backend, problems, seed=...))"
            )
            continue
        if settings is not None and (isinstance(settings, (str, bytes)) or not _listish(settings)):
            problems.append(f"method {name!r}: its settings must be a list, got {settings!r}")
            continue
        if settings is not None:
            chosen = list(settings)
        elif budgets and isinstance(scaler, BudgetSweepable):
            chosen = list(budgets)
        else:  # no settings of its own, and none it can take: the scaler as given
            chosen = [None]
        if not chosen:
            problems.append(f"method {name!r} has no settings; give at least one (or None)")
            continue
        if any(s is not None for s in chosen) and not isinstance(scaler, BudgetSweepable):
            problems.append(
                f"method {name!r}: {type(scaler).__name__} has no with_budget(), so it cannot "
                f"run at the settings {chosen}; give it no settings ({name!r}: scaler) and it "
                "runs once, as given"
            )
            continue
        out.append((name, scaler, chosen))
    if problems:
        raise ConfigError(problems)
    return out


def _listish(value: object) -> bool:
    return isinstance(value, (list, tuple, range))


def _configured(scaler: TestTimeScaler, setting: object) -> TestTimeScaler:
    if setting is None:
        return scaler
    assert isinstance(scaler, BudgetSweepable)
    return scaler.with_budget(setting)  # type: ignore[arg-type]


def _label(setting: object, unit: str) -> str:
    if setting is None:
        return "as given"
    if isinstance(setting, int) and not isinstance(setting, bool):
        return f"{setting} {unit}"
    return str(setting)


def _slug(text: object) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-") or "setting"


def compare(
    model: ModelSpec,
    benchmark: BenchmarkSpec,
    methods: Mapping[str, MethodSpec],
    *,
    budgets: Sequence[object] | None = None,
    format: StudentFormat | str | None = None,
    grader: Grader | str | None = None,
    answer_kind: str | None = None,
    seed: int = 0,
    progress: bool = True,
    run_dir: str | Path | None = None,
    overwrite: bool = False,
) -> Comparison:
    """Run every method over its settings on one benchmark and compare them as s1's Table 3.

    Args:
        model: A Backend (``tr.backend(...)``), a TrainedStudent, or a model path (with
            ``format``); loaded once for every method.
        benchmark: What ``tr.evaluate`` takes: a registered name, a file, a Benchmark, problems.
        methods: ``{name: scaler}`` or ``{name: (scaler, settings)}``; a scaler may be a
            registered name. Any :class:`~tinyreason.TestTimeScaler` works; settings go to its
            ``with_budget`` (budgets for budget forcing, token and step budgets for TCC / SCC,
            ``"short"`` / ``"long"`` for CCC).
        budgets: The settings of every method given without its own (a scaler without
            ``with_budget`` runs once, as given; None: every such method runs as given).
        format: The student format, when ``model`` is a path.
        grader: As ``tr.evaluate``'s (default: the benchmark's answers' grader).
        answer_kind: As ``tr.evaluate``'s (default: the benchmark's).
        seed: The seed every method and setting draws with, and the bootstrap's.
        progress: Show a progress bar over (method, setting) runs.
        run_dir: A folder that makes the comparison resumable: each (method, setting) is a
            ``tr.evaluate`` run folder inside it (``<method>/<setting>``).
        overwrite: As ``tr.evaluate``'s, for those folders.

    Returns:
        A :class:`~tinyreason.evaluation.compare_report.Comparison`: ``table()`` (Control,
        Scaling, Performance per method), ``settings_table()``, ``rows``, ``plot()``.

    Raises:
        ConfigError: bad methods or settings (every problem at once), or what ``tr.evaluate``
            refuses.
        DataError: the benchmark is missing, empty or has problems without answers.

    Example:
        >>> c = tr.compare(backend, "arithmetic", budgets=[8, 32], methods={
        ...     "BF": "budget-forcing", "RS": "rejection-sampling"})  # doctest: +SKIP
        >>> [row["method"] for row in c.table()]  # doctest: +SKIP
        ['BF', 'RS']
    """
    from tqdm.auto import tqdm

    from ..registry import build

    chosen = method_settings(methods, budgets)
    if not isinstance(model, Backend):
        model_options(model, format)  # a folder without format= is refused before loading
    name, problems, bench = benchmark_problems(benchmark)
    backend: Backend = (
        model
        if isinstance(model, Backend)
        else build("backend", "transformers", **model_options(model, format))
    )
    results: dict[str, MethodResult] = {}
    total = sum(len(settings) for _, _, settings in chosen)
    with tqdm(total=total, desc=f"compare on {name}", disable=not progress) as bar:
        for method, scaler, settings in chosen:
            unit = scaler.compute_unit if isinstance(scaler, RequestsCompute) else "tokens"
            parts: list[tuple[SettingResult, Report]] = []
            used: list[float] = []
            per_problem: list[list[float]] = []
            asked: list[tuple[float, float | None]] = []
            for setting in settings:
                configured = _configured(scaler, setting)
                report = evaluate(
                    backend,
                    bench if bench is not None else problems,
                    scaler=configured,
                    grader=grader,
                    answer_kind=answer_kind,
                    seed=seed,
                    progress=False,
                    run_dir=None
                    if run_dir is None
                    else Path(run_dir) / _slug(method) / _slug(setting),
                    overwrite=overwrite,
                )
                [result] = report.settings
                budget = (
                    setting if isinstance(setting, int) and not isinstance(setting, bool) else None
                )
                result = dataclasses.replace(result, label=_label(setting, unit), budget=budget)
                uses = [_use(configured, solution.generations) for solution in result.solutions]
                parts.append((result, report))
                per_problem.append(uses)
                used.append(sum(uses) / len(uses))
                asked.append(
                    configured.compute_bounds()
                    if isinstance(configured, RequestsCompute)
                    else result.bounds
                )
                bar.update(1)
            results[method] = MethodResult(
                method,
                tuple(r for r, _ in parts),
                tuple(settings),
                tuple(used),
                tuple(asked),
                unit,
                dict(parts[0][1].manifest),
                tuple(tuple(u) for u in per_problem),
            )
    return Comparison(name, results, seed)


def _use(scaler: TestTimeScaler, generations: Sequence[Any]) -> float:
    """A solution's mean use per sample: the scaler's own measure, else thinking tokens."""
    if isinstance(scaler, RequestsCompute):
        values = [scaler.compute_used(g) for g in generations]
    else:
        values = [float(g.thinking_tokens) for g in generations]
    return sum(values) / len(values)
