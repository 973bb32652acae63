"""The model card: a README.md in the student's folder that says what it was trained on, and how.

The card has YAML front matter the Hugging Face hub reads (``base_model``, ``library_name``,
``tags``), then the data manifest (a fingerprint of the training rows, their count, the teachers and
thinking kinds found in them, the selection funnel), the effective hyperparameters and the versions
of the libraries. Only names are written from the data: no prompt, no trace, no teacher setting (so
no API key can leak through a card).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["data_manifest", "fingerprint", "versions", "write_model_card"]

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


def _yaml_value(value: Any) -> str:
    return json.dumps(value)  # a JSON string or list is valid YAML, and quoted safely


def _table(rows: Mapping[str, Any]) -> list[str]:
    lines = ["| name | value |", "|---|---|"]
    for key, value in rows.items():
        shown = json.dumps(value, default=str) if isinstance(value, (list, tuple, dict)) else value
        lines.append(f"| `{key}` | {str(shown).replace('|', '/')} |")
    return lines


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
    """Write ``README.md`` into ``folder`` and return its path.

    Args:
        folder: The student's folder.
        base: The model it started from.
        trainer_name: ``"full"`` or ``"lora"``.
        format_name: The student format (its delimiters are what budget forcing watches).
        data: :func:`data_manifest`'s result.
        hyperparameters: The effective values used.
        metrics: Training metrics.
        adapter: The folder holds a LoRA adapter rather than a standalone model.
    """
    tags = ["tinyreason", "s1", "reasoning", "sft", "trl", *(["lora", "peft"] if adapter else [])]
    front = [
        "---",
        f"base_model: {_yaml_value(str(base))}",
        f"library_name: {'peft' if adapter else 'transformers'}",
        f"tags: {_yaml_value(tags)}",
        "---",
        "",
        f"# {Path(folder).name}",
        "",
        f"Fine-tuned from `{base}` with tinyreason's `{trainer_name}` trainer (the s1 recipe: "
        f"loss on the thinking and the answer only), in the `{format_name}` student format. "
        "Use the same format for budget forcing: `tr.TrainedStudent.load(folder).backend()`.",
        "",
    ]
    if adapter:
        front += [
            "This folder holds a LoRA adapter, not a standalone model: load it with "
            "`peft.AutoPeftModelForCausalLM.from_pretrained(folder)` (or "
            "`AutoModelForCausalLM.from_pretrained(folder)` with peft installed), or merge it into "
            "the base with `tinyreason.training.merge_adapter(folder, output)`.",
            "",
        ]
    lines = [*front, "## Data", ""]
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
    lines += ["", "## Versions", "", *_table(versions()), ""]
    path = Path(folder) / "README.md"
    path.write_text("\n".join(lines))
    return path
