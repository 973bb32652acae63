"""What ``tr.evaluate``'s model and benchmark arguments name, resolved before any model loads.

The benchmark: its name, its problems (each with a reference answer and a unique id) and its
answer kind. The model: the options the transformers backend loads a folder or a trained student
with. And what identifies each in a run folder's fingerprint
(:mod:`~tinyreason.evaluation.fingerprint`).

Example:
    >>> from tinyreason import Problem
    >>> name, problems, bench = benchmark_problems([Problem("p", "1+1?", "2")])
    >>> name, [p.id for p in problems], bench, answer_kind_of(None, bench)
    ('custom', ['p'], None, 'auto')
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..data import as_problems
from ..errors import ConfigError, DataError
from ..interfaces import Backend, Benchmark, Describes, ExtractsAnswers, StudentFormat
from ..records import Problem, TrainedStudent
from ..records.saved import verify_student
from .fingerprint import VOLATILE

#: What ``tr.evaluate`` evaluates: a backend, a trained student (record), or a model folder.
ModelSpec = Backend | TrainedStudent | str | Path
#: Where its problems come from: a registered name, a file's path, a Benchmark, or problems (a
#: list, rows, a Dataset).
BenchmarkSpec = Benchmark | str | Path | Sequence[Problem] | Any

__all__ = [
    "BenchmarkSpec",
    "ModelSpec",
    "answer_kind_of",
    "benchmark_identity",
    "benchmark_problems",
    "model_identity",
    "model_options",
]


def model_options(model: ModelSpec, format: StudentFormat | str | None) -> dict[str, Any]:
    """The transformers backend's options for a model folder or a TrainedStudent (no loading).

    Raises:
        ConfigError: a folder tinyreason did not save, without ``format``; or a ``model`` that is
            neither a folder nor a TrainedStudent.
    """
    options: dict[str, Any]
    if isinstance(model, TrainedStudent):  # the record: evaluation never imports training
        options = {"model": str(model.path), "format": format or model.format}
    elif isinstance(model, (str, Path)):
        options = {"model": str(model)}
        if format is not None:
            options["format"] = format
        # A student tinyreason saved must verify before anything loads it.
        saved = Path(model).is_dir() and verify_student(model)
        if format is None and not saved:
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
    return options


def model_identity(model: ModelSpec, format: StudentFormat | str | None) -> dict[str, Any]:
    """What identifies the model in a run's fingerprint, known before any model loads.

    A backend by its ``describe()`` (less where it runs) or its class and format; a model folder
    by its path, its format and, when tinyreason saved it, the hashes its manifest lists, so a
    student trained again into the same folder is a different model.
    """
    from .. import artifacts

    if isinstance(model, Backend):
        described = model.describe() if isinstance(model, Describes) else None
        if isinstance(described, Mapping):
            return {k: v for k, v in described.items() if k not in VOLATILE}
        return {
            "backend": f"{type(model).__module__}.{type(model).__qualname__}",
            "format": model.format.name,
        }
    options = model_options(model, format)
    fmt = options.get("format")
    identity: dict[str, Any] = {
        "model": options["model"],
        "format": _format_name(fmt),
    }
    manifest = (
        artifacts.read_manifest(options["model"]) if Path(options["model"]).is_dir() else None
    )
    if manifest is not None:
        identity["files"] = {name: entry.sha256 for name, entry in manifest.files.items()}
    return identity


def _format_name(fmt: object) -> str | None:
    """A format as a fingerprint records it: its name (a format object by its ``name``)."""
    if fmt is None or isinstance(fmt, str):
        return fmt
    # Anything that is not a StudentFormat cannot load (the backend refuses it): its repr.
    return fmt.name if isinstance(fmt, StudentFormat) else repr(fmt)


def _local_benchmark(path: str | Path) -> Benchmark:
    from .readers import LocalBenchmark

    bench: Benchmark = LocalBenchmark(Path(path).stem or "custom", path)  # type: ignore[assignment]
    return bench


def benchmark_problems(benchmark: BenchmarkSpec) -> tuple[str, list[Problem], Benchmark | None]:
    """The benchmark's name, its problems (each with an answer) and the benchmark object, if any.

    A string is a registered benchmark's name, else (when it names a JSON / JSONL / Parquet / CSV
    file) a :class:`~tinyreason.evaluation.benchmarks.LocalBenchmark` of that file; a path is a
    file.

    Raises:
        DataError: no problems, something other than Problems, a problem without a reference
            answer, or repeated ids.
        UnknownPluginError: no benchmark is registered under that name.
    """
    from ..registry import available, build
    from .readers import _READERS, repeated_ids

    bench: Benchmark | None = None
    if (
        isinstance(benchmark, str)
        and benchmark not in available("benchmark")
        and (Path(benchmark).suffix.lower() in _READERS or Path(benchmark).is_file())
    ):
        bench = _local_benchmark(benchmark)
    elif isinstance(benchmark, str) and benchmark.startswith("lm-eval:"):
        # An lm-evaluation-harness task by name, through the plugin that reads lm-eval's tasks.
        bench = build("benchmark", "lm-eval", task=benchmark.removeprefix("lm-eval:"))
    elif isinstance(benchmark, str):
        bench = build("benchmark", benchmark)  # an unknown name raises UnknownPluginError
    elif isinstance(benchmark, os.PathLike):
        bench = _local_benchmark(Path(benchmark))
    elif isinstance(benchmark, Benchmark):
        bench = benchmark
    if bench is not None:
        name, problems = bench.name, bench.problems()
    else:
        name, problems = "custom", as_problems(benchmark)
    if not problems:
        raise DataError(
            f"the benchmark {name!r} has no problems; check its file or its limit= setting."
        )
    strays = sorted({type(p).__name__ for p in problems if not isinstance(p, Problem)})
    if strays:
        raise DataError(
            f"the benchmark {name!r} returned {', '.join(strays)} from problems(); it must "
            "return tinyreason Problems (tr.Problem(id, question, answer=...))."
        )
    unanswered = [p.id for p in problems if p.answer is None]
    if unanswered:
        raise DataError(
            f"{len(unanswered)} problem(s) of {name!r} have no reference answer (e.g. "
            f"{unanswered[:3]}); evaluation needs one per problem."
        )
    repeated = repeated_ids(problems)
    if repeated:
        raise DataError(
            f"problem ids repeat in {name!r}: {repeated[:5]}; give each problem a unique id."
        )
    return name, list(problems), bench


def answer_kind_of(answer_kind: str | None, bench: Benchmark | None) -> str:
    """``answer_kind`` if given, else the benchmark's own, else ``"auto"``; checked.

    Raises:
        ConfigError: the kind is not one of ``tr.evaluation.ANSWER_KINDS``.
    """
    from ..answers import ANSWER_KINDS

    own = bench.answer_kind if isinstance(bench, ExtractsAnswers) else None
    kind = answer_kind if answer_kind is not None else own or "auto"
    if kind not in ANSWER_KINDS:
        source = "answer_kind" if answer_kind is not None else "the benchmark's answer_kind"
        raise ConfigError(f"{source} must be one of {', '.join(ANSWER_KINDS)}; got {kind!r}")
    return kind


def benchmark_identity(bench: Benchmark | None) -> dict[str, Any]:
    """The benchmark's own description, less where its file lies (its rows are hashed apart)."""
    described = bench.describe() if isinstance(bench, Describes) else None
    if not isinstance(described, Mapping):
        return {}
    return {k: v for k, v in described.items() if k != "source"}
