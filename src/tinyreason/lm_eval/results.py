"""Read what lm-evaluation-harness wrote, so its numbers sit beside a tinyreason report.

lm-eval saves one ``results_<date>.json`` per run (under ``--output_path``, in a folder named after
the model) and, with ``--log_samples``, one ``samples_<task>_<date>.jsonl`` per task beside it.
:func:`read_results` reads both into an :class:`LMEvalResults`: a score per (task, metric,
filter), the per-document samples when they were logged, and the run's config (for the
``tinyreason`` model, our backend and scaler are in it). :func:`side_by_side` puts its scores and
a :class:`~tinyreason.evaluation.Report`'s settings in one table, accuracy in percent.

Nothing here imports lm-eval: a results folder can be read on any machine.

Example:
    >>> results = read_results("runs/lm-eval")  # doctest: +SKIP
    >>> results.score("gsm8k", "exact_match", "strict-match")  # doctest: +SKIP
    0.25
    >>> side_by_side(report, results, metric="exact_match")  # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError

if TYPE_CHECKING:
    from ..evaluation.report import Report

__all__ = ["LMEvalResults", "LMEvalSample", "LMEvalScore", "read_results", "side_by_side"]

_RESULTS = re.compile(r"^results_(?P<date>.+)\.json$")


@dataclass(frozen=True)
class LMEvalScore:
    """One number lm-eval reported: a metric of a task under one filter.

    Attributes:
        task: The task (or group) name.
        metric: The metric (``"exact_match"``, ``"acc"``...).
        filter: The filter pipeline the metric was computed after (``"none"``, ``"strict-match"``).
        value: The value as lm-eval reports it (a fraction for accuracies), None when it reported
            ``"N/A"``.
        stderr: Its standard error, when lm-eval computed one.
        samples: Documents evaluated (lm-eval's ``n-samples`` "effective").
        higher_is_better: Whether a higher value is better, when lm-eval says.

    Example:
        >>> LMEvalScore("arith", "exact_match", "none", 0.25, 0.25, 4).percent
        25.0
    """

    task: str
    metric: str
    filter: str
    value: float | None
    stderr: float | None = None
    samples: int | None = None
    higher_is_better: bool | None = None

    @property
    def percent(self) -> float | None:
        """``value`` x 100 (what a tinyreason report shows for accuracies)."""
        return None if self.value is None else 100 * self.value


@dataclass(frozen=True)
class LMEvalSample:
    """One document's record from a ``samples_<task>_<date>.jsonl`` file.

    Attributes:
        task: The task.
        doc_id: The document's index in the task.
        prompt: The context the model was given (the first request's).
        target: The reference answer as lm-eval rendered it.
        response: The model's first response, as it returned it (a string for generation tasks).
        filtered: The response after the filter (what the metric graded).
        filter: The filter's name.
        metrics: The metric values of this document (``{"exact_match": 1.0}``).

    Example:
        >>> sample = LMEvalSample("arith", 0, "Q: 2+2?", "4", " 4", "4", "none",
        ...                       {"exact_match": 1.0})
        >>> sample.metrics["exact_match"]
        1.0
    """

    task: str
    doc_id: int
    prompt: str | None
    target: Any
    response: Any
    filtered: Any
    filter: str
    metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LMEvalResults:
    """An lm-eval run: its scores, its logged samples, its config.

    Build one with :func:`read_results` (from the files) or :meth:`from_dict` (from what
    ``lm_eval.simple_evaluate`` returned).

    Attributes:
        scores: One score per (task, metric, filter), in lm-eval's order.
        samples: Per task, the logged samples (empty when ``--log_samples`` was off).
        config: lm-eval's ``config`` entry: the model, its arguments, the batch size, the seeds
            and, for ``--model tinyreason``, the backend and scaler that ran.
        lm_eval_version: The lm-eval version that wrote it, when recorded.
        path: The results file read, when read from one.

    Example:
        >>> results = LMEvalResults.from_dict({
        ...     "results": {"arith": {"alias": "arith", "exact_match,none": 0.5,
        ...                           "exact_match_stderr,none": 0.29}},
        ...     "n-samples": {"arith": {"original": 4, "effective": 4}},
        ...     "config": {"model": "tinyreason", "model_args": "pretrained=out/s1"},
        ... })
        >>> results.score("arith"), results.model
        (0.5, 'tinyreason')
        >>> results.table()[0]["accuracy"]
        50.0
    """

    scores: tuple[LMEvalScore, ...]
    samples: Mapping[str, tuple[LMEvalSample, ...]] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)
    lm_eval_version: str | None = None
    path: Path | None = None

    @classmethod
    def from_dict(
        cls,
        results: Mapping[str, Any],
        samples: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
        path: str | Path | None = None,
    ) -> LMEvalResults:
        """Parse lm-eval's results dictionary (a results file's JSON, or simple_evaluate's value).

        Args:
            results: The dictionary; its ``"samples"`` entry is used when ``samples`` is None.
            samples: Per task, the sample records (the JSONL lines, or simple_evaluate's).
            path: Where it was read from.

        Raises:
            DataError: it has no ``"results"`` mapping (not an lm-eval results file).
        """
        if not isinstance(results, Mapping) or not isinstance(results.get("results"), Mapping):
            raise DataError(
                f"{path or 'this dictionary'} is not an lm-eval results file: it has no "
                "'results' mapping. Give the results_<date>.json that lm-eval --output_path wrote."
            )
        counts = results.get("n-samples") or {}
        better = results.get("higher_is_better") or {}
        scores = [
            score
            for task, values in results["results"].items()
            for score in _scores(task, values, counts.get(task), better.get(task))
        ]
        raw = samples if samples is not None else results.get("samples") or {}
        parsed = {task: tuple(_sample(task, s) for s in rows) for task, rows in raw.items()}
        config = results.get("config") or {}
        version = results.get("lm_eval_version")
        return cls(
            tuple(scores),
            parsed,
            dict(config),
            str(version) if version else None,
            Path(path) if path is not None else None,
        )

    # -- lookups ---------------------------------------------------------------------------------

    @property
    def model(self) -> str | None:
        """The model lm-eval ran (``"tinyreason"``, ``"hf"``...)."""
        model = self.config.get("model")
        return str(model) if model is not None else None

    @property
    def tasks(self) -> list[str]:
        """The tasks (and groups) with scores, in order."""
        return list(dict.fromkeys(s.task for s in self.scores))

    def score(
        self, task: str, metric: str | None = None, filter: str | None = None
    ) -> float | None:
        """A task's value of ``metric`` under ``filter``.

        Args:
            task: The task.
            metric: The metric; None: the task's only metric (an error when it has several).
            filter: The filter; None: the task's only filter for that metric.

        Raises:
            DataError: no such score, or several match (the message lists them).
        """
        return self._find(task, metric, filter).value

    def _find(self, task: str, metric: str | None, filter: str | None) -> LMEvalScore:
        found = [
            s
            for s in self.scores
            if s.task == task
            and (metric is None or s.metric == metric)
            and (filter is None or s.filter == filter)
        ]
        if len(found) == 1:
            return found[0]
        have = ", ".join(f"{s.task}/{s.metric}/{s.filter}" for s in self.scores) or "(none)"
        what = "no score" if not found else f"{len(found)} scores"
        raise DataError(
            f"{what} for task {task!r}, metric {metric!r}, filter {filter!r}; pass metric= and "
            f"filter= to pick one. The scores are: {have}."
        )

    # -- tables ----------------------------------------------------------------------------------

    def table(self) -> list[dict[str, Any]]:
        """One row per score: task, metric, filter, value, stderr and ``accuracy`` in percent.

        ``accuracy`` and ``stderr_percent`` are the value and its standard error x 100, the scale
        of a tinyreason report (meaningful for fractions: accuracies, exact match, pass@k).
        """
        rows = []
        for s in self.scores:
            rows.append(
                {
                    "source": "lm-eval",
                    "model": self.model,
                    "task": s.task,
                    "metric": s.metric,
                    "filter": s.filter,
                    "value": s.value,
                    "stderr": s.stderr,
                    "accuracy": _round(s.percent),
                    "stderr_percent": _round(None if s.stderr is None else 100 * s.stderr),
                    "problems": s.samples,
                }
            )
        return rows

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One row per logged sample: task, doc_id, prompt, target, response, filtered, metrics."""
        return [
            {
                "task": s.task,
                "doc_id": s.doc_id,
                "filter": s.filter,
                "prompt": s.prompt,
                "target": s.target,
                "response": s.response,
                "filtered": s.filtered,
                **dict(s.metrics),
            }
            for task_samples in self.samples.values()
            for s in task_samples
        ]


def read_results(path: str | Path) -> LMEvalResults:
    """Read an lm-eval results file, and its samples files when they are beside it.

    Args:
        path: A ``results_<date>.json`` file, or a folder (lm-eval's ``--output_path`` or the
            model folder inside it): the newest results file under it is read.

    Raises:
        DataError: no results file there, or one that is not lm-eval's.

    Example:
        >>> results = read_results("runs/lm-eval/out__s1")  # doctest: +SKIP
        >>> results.table()  # doctest: +SKIP
    """
    file = _results_file(Path(path))
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"cannot read the lm-eval results file {file}: {exc}") from exc
    match = _RESULTS.match(file.name)
    samples: dict[str, list[dict[str, Any]]] = {}
    if match:
        date = match["date"]
        for sample_file in sorted(file.parent.glob(f"samples_*_{_glob_escape(date)}.jsonl")):
            task = sample_file.name[len("samples_") : -len(f"_{date}.jsonl")]
            samples[task] = _jsonl(sample_file)
    return LMEvalResults.from_dict(data, samples, path=file)


def side_by_side(
    report: Report,
    results: LMEvalResults,
    *,
    metric: str | None = None,
    filter: str | None = None,
    tasks: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """A tinyreason report's settings and lm-eval's scores in one table (accuracy in percent).

    Args:
        report: What ``tr.evaluate`` returned.
        results: What :func:`read_results` returned.
        metric: The lm-eval metric to show (None: every metric).
        filter: The lm-eval filter to show (None: every filter).
        tasks: The lm-eval tasks to show (None: all).

    Returns:
        Rows with ``source`` (``"tinyreason"`` or ``"lm-eval"``), ``benchmark``, ``setting``,
        ``accuracy``, ``problems``; tinyreason rows add ``ci95`` and ``thinking_tokens``, lm-eval
        rows ``metric``, ``filter`` and ``stderr`` (in percent).

    Example:
        >>> for row in side_by_side(report, results, metric="exact_match"):  # doctest: +SKIP
        ...     print(row["source"], row["setting"], row["accuracy"])
        tinyreason budget=512 20.0
        lm-eval tinyreason (none) 20.0
    """
    rows: list[dict[str, Any]] = []
    for row in report.table():
        rows.append(
            {
                "source": "tinyreason",
                "benchmark": report.benchmark,
                "setting": row["setting"],
                "accuracy": row["accuracy"],
                "ci95": row.get("ci95"),
                "thinking_tokens": row.get("thinking_tokens"),
                "problems": row.get("problems"),
            }
        )
    for s in results.scores:
        if (metric and s.metric != metric) or (filter and s.filter != filter):
            continue
        if tasks is not None and s.task not in tasks:
            continue
        rows.append(
            {
                "source": "lm-eval",
                "benchmark": s.task,
                "setting": f"{results.model or 'model'} ({s.filter})",
                "metric": s.metric,
                "filter": s.filter,
                "accuracy": _round(s.percent),
                "stderr": _round(None if s.stderr is None else 100 * s.stderr),
                "problems": s.samples,
            }
        )
    return rows


# -- parsing ---------------------------------------------------------------------------------------


def _scores(task: str, values: Mapping[str, Any], counts: Any, better: Any) -> list[LMEvalScore]:
    """A task's ``"metric,filter"`` keys as scores (its stderr keys folded in)."""
    effective = counts.get("effective") if isinstance(counts, Mapping) else None
    better = better if isinstance(better, Mapping) else {}
    scores = []
    for key, value in values.items():
        metric, sep, filter_name = key.partition(",")
        if not sep or metric.endswith("_stderr") or key == "alias":
            continue
        stderr = values.get(f"{metric}_stderr,{filter_name}")
        hib = better.get(metric)
        scores.append(
            LMEvalScore(
                task,
                metric,
                filter_name,
                _number(value),
                _number(stderr),
                int(effective) if isinstance(effective, int) else None,
                bool(hib) if isinstance(hib, bool) else None,
            )
        )
    return scores


def _number(value: Any) -> float | None:
    """lm-eval's value as a float; ``"N/A"`` and non-finite values as None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _first(value: Any) -> Any:
    """The first element of lm-eval's nested response lists (``[["text"]]`` -> ``"text"``)."""
    while isinstance(value, list) and value:
        if len(value) != 1 and not isinstance(value[0], list):
            return value  # a pair such as [logprob, is_greedy]: keep it whole
        value = value[0]
    return value


def _prompt(arguments: Any) -> str | None:
    """The first request's context.

    lm-eval 0.4.11 writes ``{"gen_args_0": {"arg_0": context, ...}}``; older versions a list of
    argument lists.
    """
    if isinstance(arguments, Mapping) and arguments:
        first = next(iter(arguments.values()))
        if isinstance(first, Mapping):
            context = first.get("arg_0")
            return context if isinstance(context, str) else None
    if isinstance(arguments, list) and arguments and isinstance(arguments[0], list):
        context = arguments[0][0] if arguments[0] else None
        return context if isinstance(context, str) else None
    return None


def _sample(task: str, record: Mapping[str, Any]) -> LMEvalSample:
    names = record.get("metrics") or []
    metrics = {
        name: float(record[name])
        for name in names
        if isinstance(record.get(name), (int, float)) and not isinstance(record.get(name), bool)
    }
    filtered = record.get("filtered_resps")
    return LMEvalSample(
        task=task,
        doc_id=int(record.get("doc_id", -1)),
        prompt=_prompt(record.get("arguments")),
        target=record.get("target"),
        response=_first(record.get("resps")),
        filtered=filtered[0] if isinstance(filtered, list) and len(filtered) == 1 else filtered,
        filter=str(record.get("filter", "none")),
        metrics=metrics,
    )


def _results_file(path: Path) -> Path:
    if path.is_file():
        return path
    if not path.exists():
        raise DataError(f"{path} does not exist; give lm-eval's --output_path or a results file.")
    found = [p for p in path.rglob("results_*.json") if _RESULTS.match(p.name)]
    if not found:
        raise DataError(
            f"no lm-eval results_<date>.json under {path}; run lm-eval with --output_path {path}."
        )
    # The date in the name sorts as time (lm-eval writes ISO-like stamps), newest last.
    return max(found, key=lambda p: (_RESULTS.match(p.name)["date"], str(p)))  # type: ignore[index]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}:{number}: not JSON ({exc})") from exc
    return rows


def _glob_escape(text: str) -> str:
    """``text`` with glob's special characters escaped (lm-eval's dates hold none)."""
    return re.sub(r"([*?[])", r"[\1]", text)
