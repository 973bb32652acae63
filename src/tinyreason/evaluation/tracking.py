"""An evaluation's numbers to the trackers training logs to: tensorboard, wandb, trackio, mlflow.

``tr.evaluate(..., report_to="tensorboard", logging_dir="runs/tb/eval")`` (or
:func:`log_report` on any Report, e.g. one read back with ``Report.load``) logs, once the report is
complete:

* every number of each budget's table row (``accuracy``, its ``ci95_low`` / ``ci95_high``,
  ``sample_accuracy``, ``pass@k``, ``maj@k``, ``thinking_tokens``, ``unparsed``, ``samples``,
  ``problems``) as ``eval/<benchmark>/<name>``, at step = the budget when every budget is a
  number (else the setting's index, 0, 1, ...);
* ``eval/<benchmark>/accuracy_vs_thinking_tokens`` at step = the mean thinking tokens, so the
  tracker's own chart is the scaling curve;
* s1's ``control``, ``scaling`` and ``performance`` (step 0; a metric that is not a number is
  left out);
* the accuracy-vs-thinking plot (:meth:`Report.plot`) as an image, and the text table.

The trackers are the ones transformers' training callbacks use, with their defaults, so training
and evaluation land side by side: tensorboard writes to ``logging_dir`` (default: its own,
``runs/<date>_<host>`` in the working folder); wandb logs to the active run if there is one, else
starts one in ``$WANDB_PROJECT`` (default ``"huggingface"``, as transformers); trackio starts a run
in ``project`` (default ``"huggingface"``, as ``TrainingArguments.project``); mlflow logs to the
active run, else starts one (its experiment from ``MLFLOW_EXPERIMENT_NAME``, as transformers).
Each is imported only when asked for; one that is not installed is a clear error before any
model loads (:func:`tracker_problems`).

Example:
    >>> tracker_problems("tensorbord")
    ["report_to: unknown tracker 'tensorbord' (did you mean 'tensorboard'?); ..."]
    >>> tracker_names(None), tracker_names("none"), tracker_names(["tensorboard"])
    ([], [], ['tensorboard'])
"""

from __future__ import annotations

import contextlib
import difflib
import importlib.util
import io
import math
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from .._secrets import scrub
from ..errors import ConfigError

if TYPE_CHECKING:
    from .report import Report

__all__ = [
    "TRACKERS",
    "TrackerWarning",
    "log_report",
    "report_scalars",
    "tracker_names",
    "tracker_problems",
]

#: The trackers evaluation logs to (transformers' names).
TRACKERS = ("tensorboard", "wandb", "trackio", "mlflow")
#: What each needs installed (its module) and how to install it.
_MODULES = {
    "tensorboard": "tensorboard",
    "wandb": "wandb",
    "trackio": "trackio",
    "mlflow": "mlflow",
}
_PIP = {"tensorboard": "tensorboard (or tinyreason[track])"}
#: The project a run goes to when none is named: transformers' default.
DEFAULT_PROJECT = "huggingface"


class TrackerWarning(UserWarning):
    """A tracker failed while logging a finished report (``tr.evaluate`` returns it anyway).

    Example:
        >>> issubclass(TrackerWarning, UserWarning)
        True
    """


def _installed(name: str) -> bool:
    return importlib.util.find_spec(_MODULES[name]) is not None


def tracker_names(report_to: str | Sequence[str] | None) -> list[str]:
    """The trackers ``report_to`` names: None and ``"none"`` none, ``"all"`` every one installed."""
    if report_to is None:
        return []
    names = [report_to] if isinstance(report_to, str) else list(report_to)
    if names == ["none"]:
        return []
    if names == ["all"]:
        return [name for name in TRACKERS if _installed(name)]
    return list(dict.fromkeys(names))


def tracker_problems(
    report_to: str | Sequence[str] | None, logging_dir: str | os.PathLike[str] | None = None
) -> list[str]:
    """What is wrong with ``report_to`` (and ``logging_dir``): unknown or missing trackers."""
    if report_to is None:
        names: list[str] = []
    else:
        names = [report_to] if isinstance(report_to, str) else list(report_to)
    problems = []
    for name in names:
        if name in ("all", "none"):
            if len(names) > 1:
                problems.append(f"report_to: {name!r} stands alone, not in a list with others")
        elif name not in TRACKERS:
            close = difflib.get_close_matches(name, [*TRACKERS, "all", "none"], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                f"report_to: unknown tracker {name!r}{hint}; evaluation logs to "
                f"{', '.join(TRACKERS)}, 'all' (those installed) or 'none'"
            )
        elif not _installed(name):
            problems.append(
                f"report_to: {name!r} is not installed: pip install {_PIP.get(name, name)}"
            )
    if logging_dir is not None and "tensorboard" not in names and "all" not in names:
        problems.append(
            "logging_dir is where tensorboard writes: add report_to='tensorboard' (or drop "
            "logging_dir)"
        )
    return problems


def _tag(benchmark: str) -> str:
    """``eval/<benchmark>``, the benchmark's name made safe for every tracker's metric names."""
    return "eval/" + (re.sub(r"[^A-Za-z0-9_.\-]+", "_", benchmark).strip("_") or "benchmark")


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def report_scalars(report: Report) -> list[tuple[int, dict[str, float]]]:
    """(step, {name: value}) per setting: the numbers of its table row, as trackers log them.

    Example:
        >>> from tinyreason import Generation, Problem, Solution
        >>> from tinyreason.evaluation.report import Report, SettingResult
        >>> g = (Generation("4", "", "4", 3, 1),)
        >>> s = SettingResult("budget=8", 8, (0, 8), [Problem("p", "2+2?", "4")],
        ...                   [Solution("p", "4", g)], [True], [[True]])
        >>> step, values = report_scalars(Report("toy", [s]))[0]
        >>> step, values["eval/toy/accuracy"], values["eval/toy/thinking_tokens"]
        (8, 100.0, 3.0)
    """
    tag = _tag(report.benchmark)
    table = report.table()
    by_budget = all(_number(row.get("budget")) is not None for row in table)
    steps = [int(row["budget"]) if by_budget else i for i, row in enumerate(table)]
    if len(set(steps)) < len(steps):  # the same budget twice: keep the order instead
        steps = list(range(len(table)))
    out = []
    for step, row in zip(steps, table, strict=True):
        values: dict[str, float] = {}
        for key, value in row.items():
            if key == "ci95":
                values[f"{tag}/ci95_low"], values[f"{tag}/ci95_high"] = map(float, value)
            elif key != "setting" and (number := _number(value)) is not None:
                values[f"{tag}/{key}"] = number
        out.append((step, values))
    return out


def _s1(report: Report) -> dict[str, float]:
    m = report.metrics
    tag = _tag(report.benchmark)
    values = {"control": m.control, "scaling": m.scaling, "performance": m.performance}
    return {f"{tag}/{k}": v for k, v in values.items() if _number(v) is not None}


@contextlib.contextmanager
def _figure(report: Report) -> Iterator[Any]:
    """The report's plot, closed afterwards (pyplot keeps every open figure alive)."""
    import matplotlib.pyplot as plt

    figure = report.plot()
    try:
        yield figure
    finally:
        plt.close(figure)


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    return buffer.getvalue()


def _tensorboard(report: Report, logging_dir: Any, run_name: str | None) -> str:
    from torch.utils.tensorboard import SummaryWriter

    tag = _tag(report.benchmark)
    writer = SummaryWriter(log_dir=None if logging_dir is None else str(logging_dir))
    try:
        for step, values in report_scalars(report):
            for name, value in values.items():
                writer.add_scalar(name, value, step)
        for row in report.table():
            thinking = _number(row.get("thinking_tokens"))
            if thinking is not None:
                steps = round(thinking)
                writer.add_scalar(f"{tag}/accuracy_vs_thinking_tokens", row["accuracy"], steps)
        for name, value in _s1(report).items():
            writer.add_scalar(name, value, 0)
        text = "\n".join("    " + line for line in repr(report).splitlines())  # Markdown code
        writer.add_text(f"{tag}/report", f"{run_name or ''}\n\n{text}".strip("\n"), 0)
        with _figure(report) as figure:
            writer.add_figure(f"{tag}/scaling", figure, 0, close=False)
        return str(writer.log_dir)
    finally:
        writer.close()


def _wandb(report: Report, project: str | None, run_name: str | None) -> str:
    import wandb

    tag = _tag(report.benchmark)
    run, started = wandb.run, False
    if run is None:
        project = project or os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT
        run, started = wandb.init(project=project, name=run_name, job_type="eval"), True
    try:
        for step, values in report_scalars(report):
            run.log({**values, f"{tag}/step": step})
        run.summary.update(_s1(report))
        table = report.table()
        columns = sorted({k for row in table for k in row}, key=list(table[0]).index)
        data = [[str(row.get(c)) if c == "ci95" else row.get(c) for c in columns] for row in table]
        with _figure(report) as figure:
            image = wandb.Image(figure)
        run.log({f"{tag}/table": wandb.Table(columns=columns, data=data), f"{tag}/scaling": image})
        return str(getattr(run, "url", None) or run.name)
    finally:
        if started:
            run.finish()


def _mlflow(report: Report, run_name: str | None) -> str:
    import mlflow

    tag = _tag(report.benchmark)
    started = mlflow.active_run() is None
    run = mlflow.start_run(run_name=run_name) if started else mlflow.active_run()
    try:
        for step, values in report_scalars(report):
            mlflow.log_metrics(_mlflow_names(values), step=step)
        mlflow.log_metrics(_mlflow_names(_s1(report)), step=0)
        with _figure(report) as figure:
            mlflow.log_figure(figure, f"{tag}/scaling.png")
        mlflow.log_dict(report.to_dict(), f"{tag}/report.json")
        return str(run.info.run_id)
    finally:
        if started:
            mlflow.end_run()


def _mlflow_names(values: dict[str, float]) -> dict[str, float]:
    # mlflow allows letters, digits, _ - . space : / in a metric name: pass@1 becomes pass_at_1.
    return {re.sub(r"[^A-Za-z0-9_\-. :/]", "_at_", k): v for k, v in values.items()}


def _trackio(report: Report, project: str | None, run_name: str | None) -> str:
    import trackio

    tag = _tag(report.benchmark)
    run = trackio.init(project=project or DEFAULT_PROJECT, name=run_name)
    try:
        for _, values in report_scalars(report):
            trackio.log(values)
        trackio.log(_s1(report))
        image = getattr(trackio, "Image", None)
        if image is not None:  # trackio >= 0.2 logs images
            from PIL import Image as PILImage

            with _figure(report) as figure:
                picture = PILImage.open(io.BytesIO(_png(figure)))
            trackio.log({f"{tag}/scaling": image(picture, caption=report.benchmark)})
        return str(getattr(run, "name", project or DEFAULT_PROJECT))
    finally:
        trackio.finish()


def log_report(
    report: Report,
    report_to: str | Sequence[str] | None,
    *,
    logging_dir: str | os.PathLike[str] | None = None,
    run_name: str | None = None,
    project: str | None = None,
    strict: bool = True,
) -> dict[str, str]:
    """Log a Report's per-budget numbers, s1's metrics and its plot to each tracker named.

    Args:
        report: A ``tr.evaluate`` Report (or ``Report.load(folder)``).
        report_to: ``"tensorboard"``, ``"wandb"``, ``"trackio"``, ``"mlflow"``, a list of them,
            ``"all"`` (those installed) or ``"none"`` / None (nothing is logged).
        logging_dir: Where tensorboard writes (default: its own, ``runs/<date>_<host>``).
        run_name: The run's name (a new wandb / trackio / mlflow run; tensorboard's text).
        project: The wandb / trackio project (default: ``$WANDB_PROJECT`` or ``"huggingface"``,
            as transformers' training callbacks).
        strict: Raise when a tracker fails while logging; False warns (a
            :class:`TrackerWarning`) and goes on with the others: ``tr.evaluate`` does so, and
            never loses a finished report to a tracker's server being down.

    Returns:
        Where each tracker logged: tensorboard's folder, the wandb run, the mlflow run id...

    Raises:
        ConfigError: an unknown tracker, or one that is not installed.
    """
    problems = tracker_problems(report_to, logging_dir)
    if problems:
        raise ConfigError(problems)
    where = {}
    for name in tracker_names(report_to):
        try:
            if name == "tensorboard":
                where[name] = _tensorboard(report, logging_dir, run_name)
            elif name == "wandb":
                where[name] = _wandb(report, project, run_name)
            elif name == "mlflow":
                where[name] = _mlflow(report, run_name)
            else:
                where[name] = _trackio(report, project, run_name)
        except Exception as exc:  # any tracker's own error: the report itself is whole
            if strict:
                raise
            warnings.warn(
                f"logging the report to {name} failed ({type(exc).__name__}: "
                f"{scrub(str(exc))[:300]}); the report is complete: log it again with "
                f"tinyreason.evaluation.tracking.log_report(report, {name!r}, ...)",
                TrackerWarning,
                stacklevel=2,
            )
    return where
