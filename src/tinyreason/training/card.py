"""The model card: a README.md in the student's folder that says what it was trained on, and how.

The card is built with huggingface_hub's ``ModelCard`` (through :func:`tinyreason.hub.model_card`),
so its metadata is what the Hub reads and validates: ``base_model`` (a Hub id; a local folder is
left out of the metadata), ``library_name`` (``peft`` for an adapter), ``tags``, and, when the
student is published with reports, ``datasets``, ``license`` and eval results. The body holds the
data manifest (a fingerprint of the training rows, their count, the teachers and thinking kinds
found in them, the selection funnel), the effective hyperparameters, the results and the versions
of the libraries. Only names are written from the data: no prompt, no trace, no teacher setting;
the text is scrubbed of anything shaped like an API key besides (so no key can leak through a
card).

Example:
    >>> card = student_card("s", base="Qwen/Qwen2.5-0.5B-Instruct", trainer_name="full",
    ...                     format_name="qwen-s1", data={"fingerprint": "ab", "rows": 2},
    ...                     hyperparameters={"learning_rate": 1e-05}, metrics={"steps": 1.0})
    >>> card.data.base_model, card.data.library_name, "| `learning_rate` | 1e-05 |" in card.text
    ('Qwen/Qwen2.5-0.5B-Instruct', 'transformers', True)
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._secrets import scrub
from ..artifacts import write_text
from ..hub import model_card

if TYPE_CHECKING:
    from huggingface_hub import ModelCard

__all__ = [
    "TAGS",
    "data_manifest",
    "eval_results",
    "fingerprint",
    "student_card",
    "versions",
    "write_model_card",
]

#: Tags on every student's card (besides ``tinyreason``); an adapter adds ``lora`` and ``peft``.
TAGS = ("s1", "reasoning", "sft", "trl")

_TEXT_COLUMNS = ("question", "thinking_trajectories", "attempt")
# trace_source: which of a published set's traces the rows carry (s1K-1.1: deepseek / gemini).
_NAME_COLUMNS = ("teacher", "teacher_model", "thinking_kind", "trace_source")


def fingerprint(dataset: Any) -> str:
    """A stable hash of the rows' question, thinking and answer (same rows, same fingerprint).

    datasets' own ``_fingerprint`` is random for data built in memory, so it cannot tell two runs
    on the same rows apart; this one can.

    Example:
        >>> from datasets import Dataset
        >>> rows = {"question": ["1+1?"], "thinking_trajectories": [["1+1=2"]], "attempt": ["2"]}
        >>> fingerprint(Dataset.from_dict(rows)) == fingerprint(Dataset.from_dict(rows))
        True
    """
    digest = hashlib.sha256()
    columns = [c for c in _TEXT_COLUMNS if c in dataset.column_names]
    for row in dataset.select_columns(columns):
        digest.update(json.dumps([row[c] for c in columns], default=str).encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def data_manifest(dataset: Any, selection: Any = None) -> dict[str, Any]:
    """What the student was trained on, for the card and ``tinyreason.json``.

    Args:
        dataset: The training rows (a traces Dataset).
        selection: The :class:`~tinyreason.selection.base.Selection` the rows came from, if any.
    """
    manifest: dict[str, Any] = {
        "fingerprint": fingerprint(dataset),
        "datasets_fingerprint": getattr(dataset, "_fingerprint", None),
        "rows": len(dataset),
    }
    for column in _NAME_COLUMNS:
        if column in dataset.column_names:
            counts = Counter(str(v) for v in dataset[column] if v not in (None, ""))
            manifest[column] = dict(counts.most_common())
    if selection is not None:
        manifest["selection"] = selection.summary()
    return manifest


def versions() -> dict[str, str]:
    """Versions of the libraries that shaped the student."""
    found = {}
    for name in ("tinyreason", "torch", "transformers", "trl", "peft", "accelerate", "datasets"):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def _table(rows: Mapping[str, Any]) -> list[str]:
    lines = ["| name | value |", "|---|---|"]
    for key, value in rows.items():
        shown = json.dumps(value, default=str) if isinstance(value, (list, tuple, dict)) else value
        lines.append(f"| `{key}` | {str(shown).replace('|', '/')} |")
    return lines


_HUB_SOURCE = re.compile(
    r"^hub:(?P<dataset>[^@/\s]+/[^@/\s]+)(?:/(?P<config>[^@\s]+))?@(?P<rev>\S+)"
)


def eval_results(reports: Sequence[Any]) -> list[dict[str, Any]]:
    """The accuracy of each budget of each ``tr.evaluate`` Report, as the Hub's eval results.

    One result per (report, setting): ``metric_type`` accuracy (percent), ``metric_name`` naming
    the setting (``accuracy (budget=512)``); the dataset is the benchmark's Hub dataset when it
    was read from the Hub (its id, config, split and revision), else its name.

    Example:
        >>> class R:  # anything with a benchmark, a table() and a manifest, as a Report
        ...     benchmark, manifest = "aime24", {}
        ...     def table(self): return [{"setting": "budget=512", "accuracy": 26.67}]
        >>> eval_results([R()])[0]["metric_value"], eval_results([R()])[0]["metric_name"]
        (26.67, 'accuracy (budget=512)')
    """
    results = []
    for report in reports:
        source = (report.manifest.get("benchmark_source") or {}).get("source") or ""
        found = _HUB_SOURCE.match(str(source))
        dataset: dict[str, Any] = {"dataset_type": report.benchmark}
        if found:
            dataset = {
                "dataset_type": found["dataset"],
                "dataset_config": found["config"],
                "dataset_revision": found["rev"] if found["rev"] != "main" else None,
            }
            split = re.search(r"\((\w+)\)\s*$", str(source))
            dataset["dataset_split"] = split.group(1) if split else None
        for row in report.table():
            results.append(
                {
                    "task_type": "text-generation",
                    "dataset_name": report.benchmark,
                    **dataset,
                    "metric_type": "accuracy",
                    "metric_value": row["accuracy"],
                    "metric_name": f"accuracy ({row['setting']})",
                    "metric_config": row["setting"],
                }
            )
    return results


def student_card(
    name: str,
    *,
    base: str,
    trainer_name: str,
    format_name: str,
    data: Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    metrics: Mapping[str, Any],
    adapter: bool = False,
    datasets: Sequence[str] = (),
    license: str | None = None,
    tags: Sequence[str] = (),
    reports: Sequence[Any] = (),
) -> ModelCard:
    """A student's model card, built with huggingface_hub's ``ModelCard``.

    Args:
        name: The student's name (its folder's or repo's), the card's title.
        base: The model it started from.
        trainer_name: ``"full"`` or ``"lora"``.
        format_name: The student format (its delimiters are what budget forcing watches).
        data: :func:`data_manifest`'s result.
        hyperparameters: The effective values used.
        metrics: Training metrics.
        adapter: The folder holds a LoRA adapter rather than a standalone model.
        datasets: Hub datasets it was trained on (the metadata's ``datasets``).
        license: The model's license (the base's and the teachers' terms may apply).
        tags: Tags besides tinyreason's.
        reports: ``tr.evaluate`` Reports whose accuracy goes into the eval results.
    """
    lines = [
        f"# {name}",
        "",
        f"Fine-tuned from `{base}` with tinyreason's `{trainer_name}` trainer (the s1 recipe: "
        f"loss on the thinking and the answer only), in the `{format_name}` student format. "
        "Use the same format for budget forcing: `tr.TrainedStudent.load(folder).backend()`.",
        "",
    ]
    if adapter:
        lines += [
            "This folder holds a LoRA adapter, not a standalone model: load it with "
            "`peft.AutoPeftModelForCausalLM.from_pretrained(folder)` (or "
            "`AutoModelForCausalLM.from_pretrained(folder)` with peft installed), or merge it into "
            "the base with `tinyreason.training.merge_adapter(folder, output)`.",
            "",
        ]
    lines += ["## Data", ""]
    lines.append(f"- fingerprint: `{data.get('fingerprint')}` ({data.get('rows')} rows)")
    for column in _NAME_COLUMNS:
        if data.get(column):
            named = ", ".join(f"{k} ({v})" for k, v in data[column].items())
            lines.append(f"- {column.replace('_', ' ')}: {named}")
    selection = data.get("selection")
    if selection:
        funnel = " -> ".join(f"{name} {n_in}->{n_out}" for name, n_in, n_out in selection["funnel"])
        lines.append(f"- selection: kept {selection['kept']} rows; {funnel}")
    lines += ["", "## Training", "", *_table(hyperparameters), "", "## Results", ""]
    # The loss curve is in tinyreason.json; a table cell of hundreds of pairs helps nobody.
    shown = {k: v for k, v in metrics.items() if k != "loss_curve"}
    lines += _table({k: round(v, 6) if isinstance(v, float) else v for k, v in shown.items()})
    results = eval_results(reports)
    if results:
        lines += ["", "## Evaluation", "", "| benchmark | setting | accuracy |", "|---|---|---|"]
        lines += [
            f"| {r['dataset_name']} | {r['metric_config']} | {r['metric_value']} |" for r in results
        ]
    lines += ["", "## Versions", "", *_table(versions()), ""]
    card = model_card(
        scrub("\n".join(lines)),  # a hyperparameter could name a key: never publish one
        base_model=base,
        datasets=datasets,
        tags=[*TAGS, *(["lora", "peft"] if adapter else []), *tags],
        license=license,
        eval_results=results,
        model_name=name if results else None,
    )
    if adapter:
        setattr(card.data, "library_name", "peft")  # noqa: B010 - the text follows the data
    return card


def write_model_card(
    folder: str | Path,
    *,
    base: str,
    trainer_name: str,
    format_name: str,
    data: Mapping[str, Any],
    hyperparameters: Mapping[str, Any],
    metrics: Mapping[str, Any],
    adapter: bool = False,
) -> Path:
    """Write the card (:func:`student_card`) as ``README.md`` into ``folder``; return its path.

    Args:
        folder: The student's folder (its name is the card's title).
        base: The model it started from.
        trainer_name: ``"full"`` or ``"lora"``.
        format_name: The student format.
        data: :func:`data_manifest`'s result.
        hyperparameters: The effective values used.
        metrics: Training metrics.
        adapter: The folder holds a LoRA adapter rather than a standalone model.
    """
    card = student_card(
        Path(folder).name,
        base=base,
        trainer_name=trainer_name,
        format_name=format_name,
        data=data,
        hyperparameters=hyperparameters,
        metrics=metrics,
        adapter=adapter,
    )
    return write_text(Path(folder) / "README.md", str(card))
