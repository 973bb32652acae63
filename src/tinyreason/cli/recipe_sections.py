"""The recipe's section schemas, and the check of one section against its schema.

Each section (``distil``, ``select``, ``train``, ``evaluate``) is a frozen dataclass whose fields
are the section's keys; :func:`_check_section` checks a section's keys (with a did-you-mean) and
values (:func:`tinyreason.options.check_value`). Loading a recipe, its ``--section.key value``
overrides and resolving object references are :mod:`tinyreason.cli.recipes`' job; it re-exports
every name here.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..options import check_value

__all__ = [
    "OBJECT_KINDS",
    "PLUGIN_FIELDS",
    "SECTIONS",
    "DistilSection",
    "EvaluateSection",
    "PluginRef",
    "SelectSection",
    "TrainSection",
    "plugin_ref",
]

#: A plugin field: a registered name, or ``{name: NAME, option: value, ...}``.
PluginRef = str | Mapping[str, Any]

#: Kinds a nested ``{KIND: NAME, ...}`` may build, and the registry kind each builds.
OBJECT_KINDS = {
    "teacher": "teacher",
    "selector": "selector",
    "trainer": "trainer",
    "scaler": "scaler",
    "chat_format": "student",
    "benchmark": "benchmark",
    "backend": "backend",
}


@dataclass(frozen=True)
class DistilSection:
    """``distil``: ask a teacher every problem and save the traces.

    Args:
        problems: A file, a list of files, a hub dataset, or ``{benchmark: NAME, ...}``.
        teacher: The teacher: a name or ``{name: NAME, model: ..., ...}``.
        output: The traces folder to write (``select``'s ``traces``).
        split: The hub dataset's split.
        limit: Keep only the first ``limit`` problems.
        cache: The reply cache file (default: the shared cache; a killed run resumes from it).
        max_cost_usd: Stop starting calls past this new spend.
        overwrite: Write into a non-empty folder tinyreason did not write.
    """

    problems: str | Sequence[str] | Mapping[str, Any]
    teacher: PluginRef
    output: str
    split: str | None = None
    limit: int | None = None
    cache: str | None = None
    max_cost_usd: float | None = None
    overwrite: bool = False


@dataclass(frozen=True)
class SelectSection:
    """``select``: run selectors over saved traces and save the Selection.

    Args:
        traces: A traces folder (``distil``'s output), a file or a hub dataset.
        selectors: Selectors in order, each a name or ``{name: NAME, ...}``.
        output: The selection folder to write (``train``'s ``data``).
        trace_source: Which trace of an s1K-1.1 row: ``deepseek`` or ``gemini``.
        plot: Also draw ``selection.png``.
        overwrite: Write into a non-empty folder tinyreason did not write.
    """

    traces: str
    selectors: Sequence[PluginRef]
    output: str
    trace_source: str | None = None
    plot: bool = True
    overwrite: bool = False


@dataclass(frozen=True)
class TrainSection:
    """``train``: fine-tune a student.

    Args:
        data: A selection folder, a traces folder, data files or a hub dataset.
        base: The model to start from (a folder or hub id; or ``{call: ...}`` that writes one).
        trainer: ``full`` or ``lora`` or ``{name: full, preset: s1, format: qwen-s1, ...}``.
        output: The student folder (default: the trainer's).
        resume: Resume from the newest verified checkpoint (True) or from this one.
        overwrite: Write into a non-empty folder tinyreason did not write.
    """

    data: str
    base: str | Mapping[str, Any]
    trainer: PluginRef = "full"
    output: str | None = None
    resume: bool | str | None = None
    overwrite: bool = False


@dataclass(frozen=True)
class EvaluateSection:
    """``evaluate``: run benchmarks with a test-time scaler and save the reports.

    Args:
        model: A trained student's folder, or a model (with ``format``).
        benchmarks: Benchmark names or files.
        output: The folder of the run folders (one per benchmark, each resumable, its report in
            ``report/``).
        format: The student format, for a model tinyreason did not train.
        backend: ``transformers``, ``vllm``, ``openai-server`` or ``{name: ..., ...}``.
        scaler: ``budget-forcing`` (default), ``majority-vote``... or ``{name: ..., ...}``.
        budgets: Thinking budgets to sweep (``max_thinking``); null runs the scaler as it is.
        samples: Samples per problem and budget.
        temperature: Sampling temperature.
        seed: Seed of the sampling.
        commit_every: Problems per committed group in each run folder (default 16).
        methods: Compare methods instead of running ``scaler`` (``tr.compare``, s1's Table 3):
            ``{name: scaler, name: [scaler, [settings...]]}``, each scaler a name or
            ``{name: ..., ...}``; the table and plot go beside each benchmark's run folder.
        overwrite: Write into a non-empty folder tinyreason did not write.
    """

    model: str
    benchmarks: Sequence[str | Mapping[str, Any]]
    output: str
    format: str | Mapping[str, Any] | None = None
    backend: PluginRef = "transformers"
    scaler: PluginRef = "budget-forcing"
    budgets: Sequence[int | None] | None = None
    samples: int | None = None
    temperature: float | None = None
    seed: int = 0
    commit_every: int | None = None
    methods: Mapping[str, Any] | None = None
    overwrite: bool = False


SECTIONS: dict[str, type] = {
    "distil": DistilSection,
    "select": SelectSection,
    "train": TrainSection,
    "evaluate": EvaluateSection,
}

#: The plugin fields of each section and the registry kind they name.
PLUGIN_FIELDS = {
    "distil": {"teacher": "teacher"},
    "select": {"selectors": "selector"},
    "train": {"trainer": "trainer"},
    "evaluate": {"backend": "backend", "scaler": "scaler"},
}


def _did_you_mean(key: str, valid: Sequence[str]) -> str:
    hint = difflib.get_close_matches(key, valid, n=1)
    return f" (did you mean {hint[0]!r}?)" if hint else ""


#: Options a section passes to its plugin from its own keys: (section, field) -> {option: key}.
_IMPLIED = {("train", "trainer"): {"base": "base"}, ("evaluate", "backend"): {"model": "model"}}


def _lazy(value: object) -> bool:
    """A value resolved when the stage starts (an object or call reference), not checked here."""
    return isinstance(value, Mapping) and bool(
        set(value) & ({"object", "call"} | set(OBJECT_KINDS))
    )


def _check_section(
    name: str, body: Mapping[str, Any], source: str, problems: list[str]
) -> object | None:
    schema = SECTIONS[name]
    fields = {f.name: f for f in dataclasses.fields(schema)}
    hints = _hints(schema)
    before = len(problems)
    for key in body:
        if key not in fields:
            problems.append(
                f"{source}: {name}.{key} is not a key of {name}"
                f"{_did_you_mean(str(key), list(fields))}; keys: {', '.join(fields)}"
            )
    for key, f in fields.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if key not in body:
            if required:
                problems.append(f"{source}: {name}.{key} is missing; {name} needs it")
            continue
        problem = check_value(body[key], hints[key], f"{name}.{key}", where=source)
        if problem is not None:
            problems.append(problem)
    if len(problems) > before:
        return None
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in body.items()}
    return schema(**values)


def _hints(schema: type) -> dict[str, object]:
    import typing

    return typing.get_type_hints(schema, globalns=globals())


def plugin_ref(ref: PluginRef) -> tuple[str, dict[str, Any]]:
    """A plugin field's name and options.

    Example:
        >>> plugin_ref({"name": "diversity", "k": 10}), plugin_ref("quality")
        (('diversity', {'k': 10}), ('quality', {}))
    """
    if isinstance(ref, str):
        return ref, {}
    options = dict(ref)
    name = options.pop("name", None)
    if not isinstance(name, str):
        raise ConfigError(f"a plugin given as a mapping needs name: NAME, got {dict(ref)!r}")
    return name, options
