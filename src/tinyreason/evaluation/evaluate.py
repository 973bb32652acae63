"""``tr.evaluate``: run a benchmark at several thinking budgets; report accuracy against compute.

With ``samples=k`` every budget draws ``k`` samples per problem in one batched call (budget forcing
becomes the ``inner`` of ``MajorityVote(n=k)``), and the report computes pass@k, maj@k and accuracy
from that one pool (:func:`sampling_scaler` says what happens with other scalers).
"""

from __future__ import annotations

import dataclasses
import math
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..data import as_problems
from ..errors import ConfigError, DataError
from ..interfaces import (
    Backend,
    Benchmark,
    BudgetSweepable,
    Controlled,
    Describes,
    ExtractsAnswers,
    GenerationBudget,
    Grader,
    Samples,
    SetsGenerationBudget,
    StudentFormat,
    TestTimeScaler,
)
from ..records import Problem, Solution, TrainedStudent
from ..students import ThinkFormat
from .report import Report, SettingResult, evaluation_settings

#: What ``tr.evaluate`` evaluates: a backend, a trained student (record), or a model folder.
ModelSpec = Backend | TrainedStudent | str | Path
#: Where its problems come from: a registered name, a Benchmark, or problems (a list, rows, a
#: Dataset).
BenchmarkSpec = Benchmark | str | Sequence[Problem] | Any

__all__ = ["Report", "evaluate", "sampling_scaler", "with_budget", "with_generation_budget"]


def with_budget(scaler: TestTimeScaler, budget: int | None) -> TestTimeScaler:
    """A copy of ``scaler`` whose thinking is capped at ``budget`` tokens.

    Works for scalers with a ``with_budget(max_thinking)`` method
    (:class:`~tinyreason.interfaces.BudgetSweepable`): budget forcing, and majority voting and
    best-of-n over budget-forced samples.

    Raises:
        ConfigError: the scaler has no thinking budget to set.
    """
    if budget is None:
        return scaler
    if isinstance(scaler, BudgetSweepable):
        return scaler.with_budget(budget)
    raise ConfigError(
        f"the scaler {type(scaler).__name__} has no thinking budget, so budgets= cannot apply; "
        "give it a with_budget(max_thinking) method (tinyreason.interfaces.BudgetSweepable), or "
        "omit budgets."
    )


def _bounds(scaler: TestTimeScaler) -> tuple[float, float | None]:
    """The thinking range a scaler promises, for s1's Control metric.

    The minimum is the larger of s1's ``min_thinking`` and tinyreason's ``wait_below``; a cap of
    ``"auto"`` or None is sized per run from the generation budget, so it bounds nothing here.
    """
    control = scaler.control if isinstance(scaler, Controlled) else None
    if control is None:
        return 0.0, None
    cap = control.max_thinking
    low = float(max(control.min_thinking, control.wait_below))
    return low, float(cap) if isinstance(cap, int) and not isinstance(cap, bool) else None


def with_generation_budget(scaler: TestTimeScaler, max_new_tokens: int | None) -> TestTimeScaler:
    """A copy of ``scaler`` that generates with ``max_new_tokens`` where it had no budget.

    A benchmark's budget (s1's ``max_gen_toks``, 32,768 on AIME, MATH500 and GPQA) applies to a
    scaler, or its ``inner`` one, whose own ``max_new_tokens`` is None; one the user set wins.

    Example:
        >>> from tinyreason.scaling import BudgetForcing, MajorityVote
        >>> with_generation_budget(BudgetForcing(), 32768).max_new_tokens
        32768
        >>> with_generation_budget(BudgetForcing(max_new_tokens=512), 32768).max_new_tokens
        512
        >>> vote = with_generation_budget(MajorityVote(n=4, inner=BudgetForcing()), 32768)
        >>> vote.inner.max_new_tokens
        32768
    """
    if max_new_tokens is None or not isinstance(scaler, SetsGenerationBudget):
        return scaler
    return scaler.with_generation_budget(max_new_tokens)


def _backend(model: ModelSpec, format: StudentFormat | str | None) -> Backend:
    from ..registry import build

    if isinstance(model, Backend):
        return model
    options: dict[str, Any]
    if isinstance(model, TrainedStudent):  # the record: evaluation never imports training
        options = {"model": str(model.path), "format": format or model.format}
    elif isinstance(model, (str, Path)):
        options = {"model": str(model)}
        if format is not None:
            options["format"] = format
        elif not (Path(model) / "tinyreason.json").exists():
            raise ConfigError(
                "tr.evaluate got a model path but no format=; pass the student format it was "
                "trained with, e.g. format='qwen-s1'."
            )
        # Without format=, the backend reads the format the trainer recorded in the folder.
    else:
        raise ConfigError(
            f"cannot evaluate a {type(model).__name__}: pass a Backend (tr.backend(...)), a "
            "TrainedStudent, or a model path with format=."
        )
    backend: Backend = build("backend", "transformers", **options)
    return backend


def _problems(benchmark: BenchmarkSpec) -> tuple[str, list[Problem], Benchmark | None]:
    """The benchmark's name, its problems (each with an answer) and the benchmark object, if any."""
    from ..registry import build

    bench = None
    if isinstance(benchmark, str):
        bench = build("benchmark", benchmark)  # an unknown name raises UnknownPluginError
        name, problems = bench.name, bench.problems()
    elif isinstance(benchmark, Benchmark):
        bench = benchmark
        name, problems = benchmark.name, benchmark.problems()
    else:
        name, problems = "custom", as_problems(benchmark)
    if not problems:
        raise DataError(
            f"the benchmark {name!r} has no problems; check its file or its limit= setting."
        )
    unanswered = [p.id for p in problems if p.answer is None]
    if unanswered:
        raise DataError(
            f"{len(unanswered)} problem(s) of {name!r} have no reference answer (e.g. "
            f"{unanswered[:3]}); evaluation needs one per problem."
        )
    return name, list(problems), bench


def _answer_kind(answer_kind: str | None, bench: Benchmark | None) -> str:
    """``answer_kind`` if given, else the benchmark's own, else ``"auto"``; checked."""
    from ..answers import ANSWER_KINDS

    own = bench.answer_kind if isinstance(bench, ExtractsAnswers) else None
    kind = answer_kind if answer_kind is not None else own or "auto"
    if kind not in ANSWER_KINDS:
        source = "answer_kind" if answer_kind is not None else "the benchmark's answer_kind"
        raise ConfigError(f"{source} must be one of {', '.join(ANSWER_KINDS)}; got {kind!r}")
    return kind


def _field_names(obj: Any) -> set[str]:
    return {f.name for f in dataclasses.fields(obj)} if dataclasses.is_dataclass(obj) else set()


def _with_answer_kind(scaler: Any, kind: str) -> Any:
    """Give a dataclass scaler (and its inner one) ``kind`` where it was left at ``"auto"``.

    So that the scaler's own answer (and, for majority voting, how votes are grouped) uses the
    benchmark's extraction rules; a kind the user set on purpose is kept.
    """
    names = _field_names(scaler)
    changes: dict[str, Any] = {}
    if "answer_kind" in names and scaler.answer_kind == "auto" and kind != "auto":
        changes["answer_kind"] = kind
    if "inner" in names and scaler.inner is not None:
        inner = _with_answer_kind(scaler.inner, kind)
        if inner is not scaler.inner:
            changes["inner"] = inner
    return dataclasses.replace(scaler, **changes) if changes else scaler


def _check_samples(samples: Any, temperature: Any) -> None:
    problems = []
    if samples is not None and (
        isinstance(samples, bool) or not isinstance(samples, int) or samples < 1
    ):
        problems.append(
            f"samples must be a whole number >= 1 (samples drawn per problem), got {samples!r}"
        )
    if temperature is not None and (
        isinstance(temperature, bool)
        or not isinstance(temperature, (int, float))
        or not math.isfinite(temperature)
        or temperature < 0
    ):
        problems.append(f"temperature must be a finite number >= 0, got {temperature!r}")
    if problems:
        raise ConfigError(problems)


def sampling_scaler(
    scaler: Any, samples: int | None = None, temperature: float | None = None
) -> Any:
    """The scaler that draws ``samples`` per problem in one backend call, for ``tr.evaluate``.

    * A scaler that already samples (a dataclass with an ``n`` field: MajorityVote, BestOfN) keeps
      its own way of choosing the answer; ``samples`` replaces its ``n`` and ``temperature`` its
      temperature, when given.
    * ``samples`` None or 1: any other scaler is used as it is (``temperature``, when given, is
      set on it if it has a ``temperature`` field).
    * ``samples=k > 1`` with a :class:`~tinyreason.scaling.BudgetForcing` (the default scaler):
      it becomes the ``inner`` of ``MajorityVote(n=k)``, so every sample is budget-forced, all
      ``k * problems`` samples come from one ``generate`` call, and the answer is the majority.
      The temperature is ``temperature``, else the budget forcing's own when above 0, else 0.7
      (greedy samples would all be the same).

    Raises:
        ConfigError: ``samples`` < 1 or not a whole number, a bad ``temperature``, or
            ``samples > 1`` with a scaler that can neither be wrapped nor told how many to draw.

    Example:
        >>> from tinyreason.scaling import BudgetForcing
        >>> vote = sampling_scaler(BudgetForcing(max_thinking=512), samples=8)
        >>> type(vote).__name__, vote.n, vote.temperature, vote.inner.max_thinking
        ('MajorityVote', 8, 0.7, 512)
    """
    from ..registry import build

    _check_samples(samples, temperature)
    names = _field_names(scaler)
    if "n" in names:
        changes: dict[str, Any] = {}
        if samples is not None and samples != scaler.n:
            changes["n"] = samples
        if temperature is not None and "temperature" in names:
            changes["temperature"] = temperature
        return dataclasses.replace(scaler, **changes) if changes else scaler
    if samples is None or samples == 1:
        if temperature is not None and "temperature" in names:
            return dataclasses.replace(scaler, temperature=temperature)
        return scaler
    # Budget forcing and majority voting are built through the plugin manager by name: the
    # evaluation stage never imports the scaling stage.
    if isinstance(scaler, type(build("scaler", "budget-forcing"))):
        if temperature is None:
            temperature = scaler.temperature if scaler.temperature > 0 else 0.7
        return build(
            "scaler",
            "majority-vote",
            n=samples,
            temperature=temperature,
            inner=scaler,
            answer_kind=scaler.answer_kind,
        )
    raise ConfigError(
        f"samples={samples} needs a scaler that can draw several samples: a BudgetForcing "
        f"(tr.scaler('budget-forcing'), wrapped in majority voting) or one with an n field "
        f"(MajorityVote, BestOfN); got {type(scaler).__name__}. Use samples=1 with it."
    )


def _samples_of(scaler: TestTimeScaler) -> int:
    n = scaler.n if isinstance(scaler, Samples) else 1
    return n if isinstance(n, int) and not isinstance(n, bool) else 1


def evaluate(
    model: ModelSpec,
    benchmark: BenchmarkSpec,
    *,
    scaler: TestTimeScaler | None = None,
    budgets: Sequence[int | None] | None = None,
    samples: int | None = None,
    temperature: float | None = None,
    format: StudentFormat | str | None = None,
    grader: Grader | None = None,
    answer_kind: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> Report:
    """Run a benchmark with a test-time scaler at several thinking budgets.

    Per budget, every sample of every problem comes from one pool drawn in one batched call, and
    the report computes all its numbers from that pool: accuracy of the chosen answer (with a
    bootstrap 95% interval), pass@k (unbiased, k = 1, 2, 4, ..., samples), maj@k, and mean thinking
    tokens; over budgets, s1's Control / Scaling / Performance.

    Args:
        model: A Backend (``tr.backend(...)``), a TrainedStudent, or a model path (with ``format``).
        benchmark: A registered benchmark name (``"aime24"``...), a Benchmark, a Dataset or a list
            of Problems.
        scaler: The test-time scaler (default: budget forcing with no cap, greedy).
        budgets: Thinking budgets (``max_thinking``) to sweep; None runs the scaler as it is.
        samples: Samples per problem and budget. None: the scaler's own (``n`` for MajorityVote /
            BestOfN, else 1). ``k > 1`` with budget forcing wraps it in ``MajorityVote(n=k)``; with
            MajorityVote / BestOfN it replaces their ``n`` (see :func:`sampling_scaler`).
        temperature: Sampling temperature of every sample (default: the scaler's own; 0.7 when
            budget forcing is wrapped for ``samples > 1`` and is greedy).
        format: The student format, when ``model`` is a path.
        grader: Anything with ``grade(predicted, reference) -> bool`` (default: math equivalence,
            or letters for a multiple-choice ``answer_kind``).
        answer_kind: How answers are extracted (``"auto"``, ``"math"``, ``"integer"``,
            ``"multiple_choice"``, or s1's rule: ``"s1-math"``, ``"s1-integer"``,
            ``"s1-multiple_choice"``). Default: the benchmark's ``answer_kind`` when it has one
            (s1's rule for AIME24/25, MATH500, GPQA), else ``"auto"``. A scaler whose own
            ``answer_kind`` is ``"auto"`` gets this one too.
        seed: Seed for sampling and the bootstrap.
        progress: Show a progress bar over budgets.

    Returns:
        A :class:`Report`: per-problem rows, a table per budget (accuracy and its interval,
        pass@k, maj@k, thinking tokens), s1's metrics, a plot and a manifest (whose
        ``"evaluation"`` entry states the prompt, the extraction rule and the grader).

    Raises:
        ConfigError: bad ``samples`` / ``temperature`` / ``answer_kind`` / ``budgets``, or a model
            that cannot be evaluated.
        DataError: the benchmark is empty or a problem has no reference answer.
        UnknownPluginError: no benchmark is registered under that name.

    Example:
        >>> report = tr.evaluate(student, "aime24", budgets=[0, 512, 2048])  # doctest: +SKIP
        >>> report = tr.evaluate(student, "math500", budgets=[1024], samples=16)  # doctest: +SKIP
        >>> report.table()[0]["pass@16"], report.table()[0]["maj@16"]  # doctest: +SKIP
        >>> report.plot("scaling.png")  # doctest: +SKIP
    """
    from ..answers import extract_answer, grader_for
    from ..registry import build

    _check_samples(samples, temperature)
    settings: list[int | None] = list(budgets) if budgets is not None else [None]
    if not settings:
        raise ConfigError("budgets is empty; give at least one budget, or None for no sweep.")
    backend = _backend(model, format)
    name, problems, bench = _problems(benchmark)
    kind = _answer_kind(answer_kind, bench)
    scaler = scaler if scaler is not None else build("scaler", "budget-forcing")
    scaler = _with_answer_kind(sampling_scaler(scaler, samples, temperature), kind)
    scaler = with_generation_budget(
        scaler, bench.max_new_tokens if isinstance(bench, GenerationBudget) else None
    )
    grader = grader or grader_for(kind)
    think_end = backend.format.think_end
    results = []
    for budget in tqdm(settings, desc=f"evaluate {name}", disable=not progress):
        configured = with_budget(scaler, budget)
        solutions: list[Solution] = configured.solve(backend, problems, seed=seed)
        if len(solutions) != len(problems):
            raise DataError(
                f"the scaler returned {len(solutions)} solutions for {len(problems)} problems"
            )
        sample_answers = [
            [extract_answer(g.text, kind=kind, think_end=think_end) for g in s.generations]
            for s in solutions
        ]
        sample_correct = [
            [grader.grade(answer, _reference(p)) for answer in answers]
            for p, answers in zip(problems, sample_answers, strict=True)
        ]
        correct = [
            grader.grade(s.answer, _reference(p)) for p, s in zip(problems, solutions, strict=True)
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
                majority_correct=_majority_correct(problems, sample_answers, grader),
                sample_answers=sample_answers,
            )
        )
    manifest = _manifest(backend, scaler, settings, seed, name, len(problems))
    manifest |= {"samples": _samples_of(scaler), "answer_kind": kind}
    if isinstance(bench, Describes):
        manifest["benchmark_source"] = bench.describe()
    fmt = backend.format
    manifest["evaluation"] = evaluation_settings(
        bench,
        kind,
        grader,
        think_end=think_end,
        system_prompt=fmt.system_prompt if isinstance(fmt, ThinkFormat) else None,
    )
    return Report(name, results, manifest, seed=seed)


def _reference(problem: Problem) -> str:
    """A problem's reference answer (``_problems`` refused problems without one)."""
    assert problem.answer is not None
    return problem.answer


def _majority_correct(
    problems: Sequence[Problem], sample_answers: Sequence[Sequence[str | None]], grader: Grader
) -> dict[int, list[bool]]:
    """Per k, whether each problem's majority answer over its first ``k`` samples is right.

    The first ``k`` rather than every subset of size ``k``: a prefix of an i.i.d. pool is itself an
    i.i.d. draw of ``k``, it is what s1's ``*_agg64`` tasks report, and it costs one vote per k.
    """
    from ..answers import vote
    from .metrics import k_values

    ks = k_values(min(len(answers) for answers in sample_answers))
    return {
        k: [
            grader.grade(vote(list(answers[:k]))[0], _reference(p))
            for p, answers in zip(problems, sample_answers, strict=True)
        ]
        for k in ks
    }


def _device_and_dtype(described: Any) -> dict[str, str]:
    """The model's device and dtype, as the backend's ``describe()`` gives them."""
    found = {}
    for key in ("device", "dtype"):
        value = described.get(key) if isinstance(described, Mapping) else None
        if value not in (None, ""):
            found[key] = str(value)
    return found


def _manifest(
    backend: Backend,
    scaler: TestTimeScaler,
    budgets: list[int | None],
    seed: int,
    benchmark: str,
    n: int,
) -> dict[str, Any]:
    from importlib import metadata

    versions = {}
    for package in ("tinyreason", "torch", "transformers", "trl", "vllm", "math-verify"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    described = backend.describe() if isinstance(backend, Describes) else None
    return {
        "benchmark": benchmark,
        "problems": n,
        "budgets": budgets,
        "seed": seed,
        "scaler": repr(scaler),
        "backend": described if described is not None else type(backend).__name__,
        **_device_and_dtype(described),
        "format": backend.format.name,
        "versions": versions,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
