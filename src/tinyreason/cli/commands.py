"""What ``tinyreason distil | select | evaluate | train --config`` run: a recipe section each.

Each command checks the whole section and every plugin it names before any stage runs, writes its
output folder whole with a manifest (never into a folder tinyreason did not write, unless
``--overwrite``), and resumes: ``distil`` from its reply cache, ``select`` by writing again what
it reads, ``train`` from the newest verified checkpoint, ``evaluate`` from its run folder.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .recipes import Recipe, plugin_ref, resolve

__all__ = ["run_distil", "run_evaluate", "run_select", "run_train"]


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _build(kind: str, ref: Any) -> Any:
    from ..registry import build

    name, options = plugin_ref(ref)
    return build(kind, name, **resolve(options))


def _problems(spec: Any, section: Any) -> Any:
    from .. import data

    if isinstance(spec, dict) or (hasattr(spec, "keys") and "benchmark" in spec):
        options = dict(spec)
        name = options.pop("benchmark", None)
        if not isinstance(name, str):
            raise ConfigError(f"distil.problems as a mapping needs benchmark: NAME, got {spec!r}")
        return _build("benchmark", {"name": name, **options}).problems()
    source = list(spec) if isinstance(spec, (list, tuple)) else spec
    return data.load_problems(source, split=section.split, limit=section.limit)


def run_distil(recipe: Recipe) -> int:
    """``tinyreason distil``: ask the teacher every problem, save the traces folder."""
    from .. import artifacts
    from ..records.saved import TRACES_KIND, save_traces

    section = recipe.section("distil")
    recipe.check_plugins(["distil"])
    artifacts.check_output(
        section.output, TRACES_KIND, overwrite=section.overwrite, option="--overwrite"
    )
    teacher = _build("teacher", section.teacher)
    problems = _problems(section.problems, section)
    _say(f"distil: {len(problems)} problems -> {plugin_ref(section.teacher)[0]}")
    traces = teacher.distill(problems, cache=section.cache, max_cost_usd=section.max_cost_usd)
    summary = getattr(teacher, "last_summary", None)
    folder = save_traces(
        traces,
        section.output,
        summary={"summary": repr(summary)} if summary is not None else None,
        overwrite=section.overwrite,
    )
    _say(f"wrote {len(traces)} traces to {folder}")
    return 0


def read_traces_source(source: str, trace_source: str | None = None) -> Any:
    """Traces from a folder ``distil`` wrote, a saved selection's kept rows, files or a hub name."""
    from .. import data
    from ..records.saved import is_saved_selection, is_saved_traces, read_selection, read_traces

    path = Path(source)
    if is_saved_traces(path):
        return read_traces(path)
    if path.is_dir() and is_saved_selection(path):
        return read_selection(path).kept
    return data.load_problems(source, trace_source=trace_source)


def run_select(recipe: Recipe) -> int:
    """``tinyreason select``: run the selectors over the traces, save the Selection folder."""
    from .. import artifacts
    from ..records.saved import SELECTION_KIND

    section = recipe.section("select")
    recipe.check_plugins(["select"])
    artifacts.check_output(
        section.output, SELECTION_KIND, overwrite=section.overwrite, option="--overwrite"
    )
    from ..selection.base import select

    selectors = [_build("selector", ref) for ref in section.selectors]
    traces = read_traces_source(section.traces, section.trace_source)
    selection = select(traces, *selectors, trace_source=section.trace_source)
    print(repr(selection))
    folder = selection.save(section.output, plot=section.plot, overwrite=section.overwrite)
    _say(f"wrote the selection to {folder}")
    return 0


def run_train(recipe: Recipe, *, preflight: bool = False, gpu: str | None = None) -> int:
    """``tinyreason train --config``: fine-tune the student the section describes."""
    from ..training.inputs import load_traces
    from ..training.launch import output_options, train_with_progress

    section = recipe.section("train")
    recipe.check_plugins(["train"])
    name, options = plugin_ref(section.trainer)
    options = resolve(options)
    options.update(output_options(section.output, section.resume, section.overwrite))
    from ..registry import build

    base = resolve(section.base)
    trainer = build("trainer", name, base=str(base), **options)
    dataset = load_traces(section.data)
    if preflight:
        print(repr(trainer.preflight(dataset, gpu=gpu)))
        return 0
    student = train_with_progress(trainer, dataset)
    print(json.dumps({"student": str(student.path), "metrics": dict(student.metrics)}, default=str))
    return 0


def _label(benchmark: Any) -> str:
    """A benchmark's folder name: its registered name, a file's stem, or the object's name."""
    if isinstance(benchmark, str):
        return Path(benchmark).stem if Path(benchmark).suffix else benchmark
    return str(getattr(benchmark, "name", None) or type(benchmark).__name__)


def run_evaluate(recipe: Recipe) -> int:
    """``tinyreason evaluate``: each benchmark with the scaler, a resumable run folder each.

    Each benchmark runs in ``output/<benchmark>/`` (kind "evaluation-run"): finished problems are
    committed as they land, a rerun generates only what is missing, and the report is saved in
    its ``report/`` folder when the run ends.
    """
    from .. import artifacts
    from ..evaluation.evaluate import evaluate

    section = recipe.section("evaluate")
    recipe.check_plugins(["evaluate"])
    output = Path(section.output)
    benchmarks = [resolve(b) for b in section.benchmarks]
    labels = [_label(b) for b in benchmarks]
    if len(set(labels)) != len(labels):
        raise ConfigError(f"{recipe.source}: evaluate.benchmarks repeats a benchmark: {labels}")
    for label in labels:  # every folder, before any model loads
        artifacts.check_output(
            output / label, "evaluation-run", overwrite=section.overwrite, option="--overwrite"
        )
    scaler = _build("scaler", section.scaler)
    name, options = plugin_ref(section.backend)
    fmt = resolve(section.format)
    if fmt is None:
        from ..training.base import TrainedStudent

        model: Any = TrainedStudent.load(section.model).backend(name, **resolve(options))
    else:
        model = _build("backend", {"name": name, "model": section.model, "format": fmt, **options})
    if section.methods is not None:
        return _compare(section, model, benchmarks, labels, output)
    for benchmark, label in zip(benchmarks, labels, strict=True):
        report = evaluate(
            model,
            benchmark,
            scaler=scaler,
            budgets=list(section.budgets) if section.budgets is not None else None,
            samples=section.samples,
            temperature=section.temperature,
            seed=section.seed,
            run_dir=output / label,
            overwrite=section.overwrite,
            commit_every=section.commit_every,
        )
        print(repr(report))
        _say(f"wrote {output / label}")
    return 0


def _method(ref: Any) -> Any:
    """A ``methods`` entry: a scaler reference, or ``[scaler reference, [settings...]]``."""
    if isinstance(ref, (list, tuple)):
        if len(ref) != 2 or not isinstance(ref[1], (list, tuple)):
            raise ConfigError(f"evaluate.methods: write [scaler, [settings...]], got {ref!r}")
        return _build("scaler", ref[0]), list(ref[1])
    return _build("scaler", ref)


def _compare(
    section: Any, model: Any, benchmarks: list[Any], labels: list[str], output: Path
) -> int:
    """``evaluate`` with ``methods``: ``tr.compare`` per benchmark, its table and plot beside."""
    from .. import artifacts
    from ..evaluation.compare import compare

    methods = {str(name): _method(ref) for name, ref in section.methods.items()}
    for benchmark, label in zip(benchmarks, labels, strict=True):
        comparison = compare(
            model,
            benchmark,
            methods,
            budgets=list(section.budgets) if section.budgets is not None else None,
            seed=section.seed,
            run_dir=output / label,
            overwrite=section.overwrite,
        )
        print(repr(comparison))
        artifacts.write_json(output / f"{label}.comparison.json", comparison.to_dict())
        with artifacts.writing(output / f"{label}.comparison.png") as temp:
            comparison.plot(temp)
        _say(f"wrote {output / label}, {label}.comparison.json and {label}.comparison.png")
    return 0
