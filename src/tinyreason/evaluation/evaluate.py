"""``tr.evaluate``: run a benchmark at several thinking budgets; report accuracy against compute.

With ``samples=k`` every budget draws ``k`` samples per problem in one batched call (budget forcing
becomes the ``inner`` of ``MajorityVote(n=k)``), and the report computes pass@k, maj@k and accuracy
from that one pool (:func:`sampling_scaler` says what happens with other scalers).

Every argument is checked before any model loads (:mod:`~tinyreason.evaluation.inputs`), and with
``run_dir`` every group of ``commit_every`` problems is committed as it finishes, so a run killed
at hour 5 resumes where it stopped (:mod:`~tinyreason.evaluation.run_dir`).

This module is the entry and the order of its steps; each step is a module of its own:
:mod:`~tinyreason.evaluation.resolve` (the benchmark's problems, the model's options),
:mod:`~tinyreason.evaluation.scaler_setup` (the scaler each budget runs),
:mod:`~tinyreason.evaluation.solving` (seeded groups of problems, solved and graded),
:mod:`~tinyreason.evaluation.manifest` (what the report records) and
:mod:`~tinyreason.evaluation.report` (the :class:`Report`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..artifacts import check_output
from ..errors import ConfigError
from ..interfaces import Backend, GenerationBudget, Grader, StudentFormat, TestTimeScaler
from .inputs import DEFAULT_COMMIT_EVERY, check_inputs
from .manifest import run_manifest
from .report import Report
from .resolve import (
    BenchmarkSpec,
    ModelSpec,
    answer_kind_of,
    benchmark_identity,
    benchmark_problems,
    model_identity,
    model_options,
)
from .run_dir import KIND as RUN_KIND
from .run_dir import RunFolder
from .scaler_setup import sampling_scaler, with_answer_kind, with_budget, with_generation_budget
from .solving import solve_settings

__all__ = ["Report", "evaluate", "sampling_scaler", "with_budget", "with_generation_budget"]


def evaluate(
    model: ModelSpec,
    benchmark: BenchmarkSpec,
    *,
    scaler: TestTimeScaler | str | None = None,
    budgets: Sequence[int | None] | None = None,
    samples: int | None = None,
    temperature: float | None = None,
    format: StudentFormat | str | None = None,
    grader: Grader | str | None = None,
    answer_kind: str | None = None,
    seed: int = 0,
    progress: bool = True,
    run_dir: str | Path | None = None,
    overwrite: bool = False,
    commit_every: int | None = None,
    report_to: str | list[str] | None = None,
    logging_dir: str | Path | None = None,
    run_name: str | None = None,
) -> Report:
    """Run a benchmark with a test-time scaler at several thinking budgets.

    Per budget, every sample of every problem comes from one pool, and the report computes all
    its numbers from that pool: accuracy of the chosen answer (with a bootstrap 95% interval),
    pass@k (unbiased, k = 1, 2, 4, ..., samples), maj@k, and mean thinking tokens; over budgets,
    s1's Control / Scaling / Performance.

    Every argument is checked before any model loads (:mod:`tinyreason.evaluation.inputs`), the
    benchmark is read, and ``run_dir`` is opened: a mistake costs no compute.

    Args:
        model: A Backend (``tr.backend(...)``), a TrainedStudent, or a model path (with ``format``).
        benchmark: A registered benchmark name (``"aime24"``...), a JSON / JSONL / Parquet / CSV
            file's path (read as a :class:`~tinyreason.evaluation.benchmarks.LocalBenchmark`), a
            Benchmark, a Dataset or a list of Problems.
        scaler: The test-time scaler, or a registered scaler's name (default: budget forcing with
            no cap, greedy).
        budgets: A list of thinking budgets (``max_thinking``) to sweep (a single budget is a
            list too: ``[512]``); None in it runs without a cap; None runs the scaler as it is.
        samples: Samples per problem and budget. None: the scaler's own (``n`` for MajorityVote /
            BestOfN, else 1). ``k > 1`` with budget forcing wraps it in ``MajorityVote(n=k)``; with
            MajorityVote / BestOfN it replaces their ``n`` (see :func:`sampling_scaler`).
        temperature: Sampling temperature of every sample (default: the scaler's own; 0.7 when
            budget forcing is wrapped for ``samples > 1`` and is greedy).
        format: The student format, when ``model`` is a path.
        grader: Anything with ``grade(predicted, reference) -> bool``, or ``"math"`` /
            ``"choice"`` (default: math equivalence, or letters for a multiple-choice
            ``answer_kind``).
        answer_kind: How answers are extracted (``"auto"``, ``"math"``, ``"integer"``,
            ``"multiple_choice"``, or s1's rule: ``"s1-math"``, ``"s1-integer"``,
            ``"s1-multiple_choice"``). Default: the benchmark's ``answer_kind`` when it has one
            (s1's rule for AIME24/25, MATH500, GPQA), else ``"auto"``. A scaler whose own
            ``answer_kind`` is ``"auto"`` gets this one too.
        seed: Seed for sampling and the bootstrap.
        progress: Show a progress bar over budgets and groups of problems.
        run_dir: A folder that makes the run resumable: each group of ``commit_every`` problems
            is committed there as it finishes, and a rerun with the same settings generates only
            what is not committed yet (its report equals an uninterrupted run's). A folder
            holding a run with other settings is refused (see ``overwrite``); the finished run's
            report is saved in ``run_dir/report``. See docs/evaluation.md.
        overwrite: With ``run_dir``: write into a non-empty folder tinyreason did not write
            (only its own files are replaced), or discard a run with other settings there.
        commit_every: Problems per scaler call, committed together (default: 16 with
            ``run_dir``, else every problem in one call). Part of the run's settings: it groups
            the samples and their seeds.
        report_to: Trackers to log the finished report to, as training does: ``"tensorboard"``,
            ``"wandb"``, ``"trackio"``, ``"mlflow"``, a list, ``"all"`` (those installed) or
            ``"none"``; each budget's numbers, s1's metrics and the plot
            (:mod:`~tinyreason.evaluation.tracking`). Default: nothing is logged. A tracker
            that fails while logging is a warning: the report is returned all the same.
        logging_dir: Where tensorboard writes (default: its own, ``runs/<date>_<host>``).
        run_name: The run's name in the trackers.

    Returns:
        A :class:`Report`: per-problem rows, a table per budget (accuracy and its interval,
        pass@k, maj@k, thinking tokens), s1's metrics, a plot and a manifest (whose
        ``"evaluation"`` entry states the prompt, the extraction rule and the grader).

    Raises:
        ConfigError: a bad argument (type, range or name; every problem at once), a scaler that
            cannot take the budgets or samples, a model that cannot be evaluated, or a run_dir
            holding a run with other settings.
        DataError: the benchmark (or its file, named) is missing, empty or damaged, or a problem
            has no reference answer.
        FolderNotOursError: ``run_dir`` holds files tinyreason did not write.
        UnknownPluginError: no benchmark or scaler is registered under that name.

    Example:
        >>> report = tr.evaluate(student, "aime24", budgets=[0, 512, 2048])  # doctest: +SKIP
        >>> report = tr.evaluate(student, "math500", budgets=[1024], samples=16,
        ...                      run_dir="runs/math500")  # doctest: +SKIP
        >>> report.table()[0]["pass@16"], report.table()[0]["maj@16"]  # doctest: +SKIP
        >>> report.plot("scaling.png")  # doctest: +SKIP
    """
    # 1. Every argument, before anything is read or loaded.
    check_inputs(evaluate, dict(locals()))
    from ..answers import ChoiceGrader, MathGrader, describe_grader, grader_for
    from ..registry import build
    from .tracking import log_report, tracker_problems

    if issues := tracker_problems(report_to, logging_dir):  # a missing tracker costs no compute
        raise ConfigError(issues)

    if not isinstance(model, Backend):
        model_options(model, format)  # a folder without format= is refused now, not later
    if run_dir is not None:  # a folder that is not ours, before even a download
        check_output(run_dir, RUN_KIND, overwrite=overwrite)
    settings: list[int | None] = list(budgets) if budgets is not None else [None]
    # 2. The benchmark (a user's file is read here: a damaged one is named before any model).
    name, problems, bench = benchmark_problems(benchmark)
    kind = answer_kind_of(answer_kind, bench)
    # 3. The scaler and grader, resolved and checked against the budgets.
    base = (
        build("scaler", scaler or "budget-forcing")
        if not isinstance(scaler, TestTimeScaler)
        else scaler
    )
    base = with_answer_kind(sampling_scaler(base, samples, temperature), kind)
    base = with_generation_budget(
        base, bench.max_new_tokens if isinstance(bench, GenerationBudget) else None
    )
    configured = [with_budget(base, budget) for budget in settings]
    judge: Grader
    if isinstance(grader, str):
        judge = MathGrader() if grader == "math" else ChoiceGrader()
    else:
        judge = grader or grader_for(kind)
    step = commit_every or (DEFAULT_COMMIT_EVERY if run_dir is not None else len(problems))
    # 4. The run folder: a foreign folder or a run with other settings is refused here.
    run: RunFolder | None = None
    if run_dir is not None:
        identity = {
            "benchmark": {"name": name, **benchmark_identity(bench)},
            "scaler": base,
            "budgets": settings,
            "backend": model_identity(model, format),
            "grader": {"describe": describe_grader(judge), "object": judge},
            "answer_kind": kind,
            "seed": seed,
        }
        run = RunFolder.open(
            run_dir, identity, problems, settings, commit_every=step, overwrite=overwrite
        )
    try:
        # 5. Only now the model.
        backend = _backend(model, format)
        results = solve_settings(
            backend, name, problems, settings, configured, kind, judge, seed, step, run, progress
        )
        manifest = run_manifest(
            backend, base, settings, seed, name, len(problems), kind, judge, bench
        )
        report = Report(name, results, manifest, seed=seed)
        if run is not None:
            run.finish(
                lambda folder: report.save(folder, overwrite=overwrite),
                {"benchmark": name, "problems": len(problems), "budgets": settings},
            )
    finally:
        if run is not None:
            run.close()
    # Logged once the report is whole (and saved): a resumed run logs when it finishes.
    log_report(report, report_to, logging_dir=logging_dir, run_name=run_name, strict=False)
    return report


def _backend(model: ModelSpec, format: StudentFormat | str | None) -> Backend:
    """The backend to generate with: ``model`` itself, or one loaded from its folder."""
    from ..registry import build

    if isinstance(model, Backend):
        return model
    backend: Backend = build("backend", "transformers", **model_options(model, format))
    return backend
