"""Run lm-eval tasks by name through our model, from Python, and keep what lm-eval wrote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..interfaces import Backend, TestTimeScaler
from ..records import TrainedStudent
from .results import LMEvalResults, read_results

__all__ = ["evaluate_task"]


def evaluate_task(
    model: Backend | TrainedStudent | str | Path,
    tasks: str | Sequence[str],
    *,
    scaler: TestTimeScaler | str | None = "budget-forcing",
    format: str | None = None,
    include_path: str | Path | Sequence[str | Path] | None = None,
    limit: int | float | None = None,
    num_fewshot: int | None = None,
    apply_chat_template: bool = False,
    output_path: str | Path | None = None,
    seed: int = 0,
    model_options: Mapping[str, Any] | None = None,
    lm_eval_options: Mapping[str, Any] | None = None,
) -> LMEvalResults:
    """Run lm-eval tasks through ``--model tinyreason`` and return their scores and samples.

    Args:
        model: A ready :class:`~tinyreason.Backend`, a ``TrainedStudent``, or a model folder or hub
            name (loaded with the ``transformers`` backend).
        tasks: lm-eval task names (``"gsm8k"``), or names from ``include_path``.
        scaler: A scaler object, a registered scaler's name, or None for plain generation.
        format: The student format of a model given by name (None: the folder's own).
        include_path: Folders (or YAML files' folders) of extra lm-eval tasks.
        limit: Documents per task (lm-eval's ``--limit``: for trying things, not for numbers).
        num_fewshot: Few-shot examples (None: the task's own).
        apply_chat_template: Let lm-eval render the turns with the chat template.
        output_path: Where lm-eval writes ``results_<date>.json`` and the samples (under a
            folder named after the model); None writes nothing.
        seed: lm-eval's seeds and the scaler's.
        model_options: More ``--model_args`` (``output``, ``prompt``, ``max_thinking``...).
        lm_eval_options: More ``lm_eval.simple_evaluate`` arguments (``gen_kwargs``...).

    Returns:
        The scores and the samples, as :func:`~tinyreason.lm_eval.read_results` reads them (read
        back from ``output_path`` when given).

    Raises:
        ConfigError: lm-eval is not installed, or an option is invalid.

    Example:
        >>> import tinyreason as tr
        >>> from tinyreason.lm_eval import evaluate_task
        >>> backend = tr.backend("transformers", model="out/s1", format="qwen-s1")  # doctest: +SKIP
        >>> results = evaluate_task(backend, "gsm8k", limit=20,  # doctest: +SKIP
        ...                         scaler=tr.scaler("budget-forcing", max_thinking=2048))
        >>> results.table()  # doctest: +SKIP
    """
    from . import register

    register()
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    from .model import TinyReasonLM

    options: dict[str, Any] = dict(model_options or {})
    name: str | None = None
    if isinstance(model, Backend):
        options["backend"] = model
        name = getattr(getattr(model, "model", None), "name_or_path", None) or None
    elif isinstance(model, TrainedStudent):
        options["pretrained"] = str(model.path)
        options["format"] = format or model.format
        name = str(model.path)
    elif isinstance(model, (str, Path)):
        options["pretrained"] = str(model)
        if format is not None:
            options["format"] = format
        name = str(model)
    else:
        raise ConfigError(
            f"evaluate_task takes a Backend, a TrainedStudent or a model path, got "
            f"{type(model).__name__}"
        )
    lm = TinyReasonLM(scaler=scaler, seed=seed, **options)
    names = [tasks] if isinstance(tasks, str) else list(tasks)
    paths = [include_path] if isinstance(include_path, (str, Path)) else list(include_path or [])
    manager = TaskManager(include_path=[str(p) for p in paths] or None)
    tracker = EvaluationTracker(output_path=str(output_path)) if output_path else None
    results = simple_evaluate(
        model=lm,
        # Only names the output folder (lm-eval's model_args of an LM object are not used).
        model_args={"pretrained": name or "tinyreason"},
        tasks=names,
        task_manager=manager,
        limit=limit,
        num_fewshot=num_fewshot,
        apply_chat_template=apply_chat_template,
        log_samples=True,
        evaluation_tracker=tracker,
        random_seed=seed,
        numpy_random_seed=seed,
        torch_random_seed=seed,
        fewshot_random_seed=seed,
        **dict(lm_eval_options or {}),
    )
    if results is None:  # not the first rank of a distributed run: lm-eval returns nothing
        raise ConfigError("lm-eval returned no results (a non-zero rank of a distributed run)")
    samples = results.pop("samples", {})
    if tracker is None:
        return LMEvalResults.from_dict(results, samples)
    tracker.save_results_aggregated(results=results, samples=samples)
    for task in results["configs"]:
        tracker.save_results_samples(task_name=task, samples=samples[task])
    general = tracker.general_config_tracker
    folder = Path(str(output_path)) / general.model_name_sanitized
    written = folder / f"results_{tracker.date_id}.json"
    return read_results(written if written.is_file() else Path(str(output_path)))
