"""Recipes: one YAML file holds every stage of a run, each stage a section, checked before compute.

A recipe has up to four sections, ``distil``, ``select``, ``train`` and ``evaluate``, each read by
the subcommand of that name (``tinyreason train --config recipe.yaml``). Every key is checked
against the section's fields (unknown keys get a did-you-mean) and every value against its type,
and every plugin a recipe names is checked with its options, all before the first stage runs;
each error names the file and the key. Flags override single values:
``--train.trainer.learning_rate 1e-5`` (or, under ``tinyreason train``, ``--trainer.learning_rate
1e-5``); the value is read as JSON where it parses (numbers, true, null, lists), else as text.

How values name things:

* A plugin field (``teacher``, ``selectors``' items, ``trainer``, ``backend``, ``scaler``) is a
  registered name, or a mapping ``{name: NAME, option: value, ...}``.
* A plugin object inside options is ``{KIND: NAME, option: value, ...}`` with KIND one of
  ``teacher``, ``selector``, ``trainer``, ``scaler``, ``chat_format``, ``benchmark``,
  ``backend`` (``format: {chat_format: think-tags, answer_separator: "\\n"}``).
* Any Python object is ``{object: "module:attr"}``; ``{call: "module:attr", key: value}`` is the
  value ``attr(key=value)``, called when the stage starts (a tokenizer function, a model folder
  that a function writes).
* ``problems`` is a file, a list of files, a hub dataset name, or ``{benchmark: NAME, ...}`` (that
  benchmark's problems).

Example:
    >>> recipe = Recipe.from_text('''
    ... select:
    ...   traces: runs/x/traces
    ...   selectors: [quality, {name: diversity, k: 10}]
    ...   output: runs/x/selection
    ... ''', source="inline.yaml")
    >>> recipe.section("select").selectors
    ('quality', {'name': 'diversity', 'k': 10})
    >>> try:
    ...     Recipe.from_text("select: {traces: t, selectors: [quality], ouput: o}", "r.yaml")
    ... except ConfigError as err:
    ...     for problem in err.problems:
    ...         print(problem.split(";")[0])
    r.yaml: select.ouput is not a key of select (did you mean 'output'?)
    r.yaml: select.output is missing
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ConfigError, TinyReasonError
from .recipe_sections import (
    _IMPLIED,
    OBJECT_KINDS,
    PLUGIN_FIELDS,
    SECTIONS,
    DistilSection,
    EvaluateSection,
    SelectSection,
    TrainSection,
    _check_section,
    _did_you_mean,
    _lazy,
    plugin_ref,
)
from .recipe_sections import (
    PluginRef as PluginRef,  # re-exported: recipes is where users import it from
)

__all__ = [
    "DistilSection",
    "EvaluateSection",
    "Recipe",
    "SelectSection",
    "TrainSection",
    "resolve",
    "shipped",
]


@dataclass(frozen=True)
class Recipe:
    """A checked recipe: its sections, and where it came from (for messages).

    Build one with :meth:`load` (a file or a shipped name) or :meth:`from_text`.
    """

    source: str
    sections: Mapping[str, object] = field(default_factory=dict)
    raw: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path_or_name: str | Path, overrides: Sequence[str] = ()) -> Recipe:
        """A recipe file, or a shipped recipe by name (``s1``, ``s1.1``, ``demo``...).

        Raises:
            ConfigError: no such file or recipe, not YAML, or any key or value is wrong.
        """
        path = Path(path_or_name)
        if not path.is_file():
            name = str(path_or_name)
            if name in shipped():
                return cls.from_text(_shipped_text(name), f"recipe {name!r}", overrides)
            hint = _did_you_mean(name, list(shipped()))
            raise ConfigError(
                f"no recipe file {name!r}{hint}; shipped recipes: {', '.join(shipped())} "
                "(`tinyreason recipe show NAME` prints one to copy)"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read the recipe {path}: {exc}") from None
        return cls.from_text(text, str(path), overrides)

    @classmethod
    def from_text(cls, text: str, source: str = "recipe", overrides: Sequence[str] = ()) -> Recipe:
        """A recipe from YAML text, with ``--section.key value`` overrides applied, checked."""
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}" if mark is not None else ""
            raise ConfigError(f"{source}{where} is not valid YAML: {exc}") from None
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"{source} must be a mapping of sections ({', '.join(SECTIONS)}), "
                f"got {type(data).__name__}"
            )
        data = {k: dict(v) if isinstance(v, Mapping) else v for k, v in data.items()}
        apply_overrides(data, overrides, source)
        return cls._checked(data, source)

    @classmethod
    def _checked(cls, data: Mapping[str, Any], source: str) -> Recipe:
        problems: list[str] = []
        sections: dict[str, object] = {}
        for name, body in data.items():
            if name not in SECTIONS:
                hint = _did_you_mean(str(name), list(SECTIONS))
                problems.append(
                    f"{source}: {name!r} is not a section{hint}; sections: {', '.join(SECTIONS)}"
                )
                continue
            if not isinstance(body, Mapping):
                problems.append(f"{source}: {name} must be a mapping of keys, got {body!r}")
                continue
            section = _check_section(name, body, source, problems)
            if section is not None:
                sections[name] = section
        if problems:
            raise ConfigError(problems)
        return cls(source, sections, {k: v for k, v in data.items() if k in sections})

    def section(self, name: str) -> Any:
        """The checked section ``name``.

        Raises:
            ConfigError: the recipe has no such section.
        """
        if name not in self.sections:
            raise ConfigError(
                f"{self.source} has no {name!r} section (it has: "
                f"{', '.join(self.sections) or 'none'}); add one, or pass the stage's flags"
            )
        return self.sections[name]

    def check_plugins(self, names: Sequence[str] | None = None) -> None:
        """Check every plugin the sections name, with its options, building nothing.

        Raises:
            ConfigError: naming the file and key of each wrong name or option.
        """
        from ..registry import check

        problems: list[str] = []
        for name in names if names is not None else list(self.sections):
            if name not in self.sections:
                continue
            section = self.sections[name]
            for key, kind in PLUGIN_FIELDS[name].items():
                value = getattr(section, key)
                refs = list(value) if key == "selectors" else [value]
                for i, ref in enumerate(refs):
                    where = f"{name}.{key}" + (f"[{i}]" if key == "selectors" else "")
                    plugin, options = plugin_ref(ref)
                    options = {k: v for k, v in options.items() if not _lazy(v)}
                    # What the section itself passes (the trainer's base, the backend's model).
                    implied = _IMPLIED.get((name, key), {})
                    for option, field_name in implied.items():
                        value = getattr(section, field_name)
                        # A {call: ...} is resolved when the stage starts: a path stands in.
                        options[option] = "<a path, later>" if _lazy(value) else value
                    try:
                        check(kind, plugin, **options)
                    except TinyReasonError as exc:
                        problems.append(f"{self.source}: {where}: {exc}")
        if problems:
            raise ConfigError(problems)


def resolve(value: Any) -> Any:
    """Replace ``{object: ...}``, ``{call: ...}`` and ``{KIND: NAME, ...}`` by what they name.

    Example:
        >>> resolve({"k": {"object": "math:pi"}})["k"] > 3
        True
        >>> resolve({"chat_format": "think-tags"}).think_end
        '</think>'
    """
    if isinstance(value, list | tuple):
        return type(value)(resolve(v) for v in value)
    if not isinstance(value, Mapping):
        return value
    kinds = set(value) & set(OBJECT_KINDS)
    if "object" in value or "call" in value:
        key = "object" if "object" in value else "call"
        target = _import(value[key])
        if key == "object":
            return target
        return target(**{k: resolve(v) for k, v in value.items() if k != "call"})
    if len(kinds) == 1:
        from ..registry import build

        kind = kinds.pop()
        name = value[kind]
        options = {k: resolve(v) for k, v in value.items() if k != kind}
        return build(OBJECT_KINDS[kind], name, **options)
    return {k: resolve(v) for k, v in value.items()}


def _import(target: object) -> Any:
    if not isinstance(target, str) or ":" not in target:
        raise ConfigError(f"an object reference is 'module:attribute', got {target!r}")
    module_name, _, attr = target.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import {target!r}: {exc}") from None
    return obj


def apply_overrides(data: dict[str, Any], overrides: Sequence[str], source: str) -> None:
    """Set ``section.key[.key...]`` from ``--section.key value`` / ``--section.key=value`` pairs.

    Example:
        >>> data = {"train": {"trainer": {"name": "full"}}}
        >>> apply_overrides(data, ["--train.trainer.learning_rate", "1e-5"], "r.yaml")
        >>> data["train"]["trainer"]
        {'name': 'full', 'learning_rate': 1e-05}
        >>> data = {"select": {"selectors": ["quality", {"name": "diversity", "k": 1000}]}}
        >>> apply_overrides(data, ["--select.selectors.1.k=10", "--select.selectors.0.x=1"], "r")
        >>> data["select"]["selectors"]
        [{'name': 'quality', 'x': 1}, {'name': 'diversity', 'k': 10}]
    """
    items = list(overrides)
    i = 0
    while i < len(items):
        item = items[i]
        if not item.startswith("--") or "." not in item.split("=", 1)[0]:
            raise ConfigError(
                f"unknown argument {item!r}; override a recipe value with --SECTION.KEY VALUE "
                "(e.g. --train.trainer.learning_rate 1e-5)"
            )
        key, sep, raw = item[2:].partition("=")
        if not sep:
            if i + 1 >= len(items):
                raise ConfigError(f"{item} needs a value")
            raw = items[i + 1]
            i += 1
        i += 1
        path = key.replace("-", "_").split(".")
        target: Any = data
        for depth, part in enumerate(path):
            last = depth == len(path) - 1
            if isinstance(target, list):  # --select.selectors.1.k 10: an item by its index
                if not part.isdigit() or int(part) >= len(target):
                    raise ConfigError(
                        f"{source}: --{key}: {part!r} is not an index of a list of {len(target)}"
                    )
                index: Any = int(part)
                node = target[index]
            else:
                index, node = part, target.get(part)
            if last:
                target[index] = parse_value(raw)
                break
            if isinstance(node, str) and (depth > 0 or part in _PLUGIN_KEYS):
                node = {"name": node}  # `trainer: full` overridden with trainer.learning_rate
            if node is None:
                node = {}
            if isinstance(node, tuple):
                node = list(node)
            if not isinstance(node, (dict, list)):
                raise ConfigError(f"{source}: --{key}: {part} is {node!r}, not a mapping")
            target[index] = node
            target = node


_PLUGIN_KEYS = {k for v in PLUGIN_FIELDS.values() for k in v}


def parse_value(raw: str) -> Any:
    """A flag's value: JSON where it parses (numbers, true, null, lists), else the text.

    Example:
        >>> [parse_value(v) for v in ("1e-5", "[0, 512]", "qwen-s1", "null")]
        [1e-05, [0, 512], 'qwen-s1', None]
    """
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        lowered = raw.strip().lower()
        return {"true": True, "false": False, "none": None}.get(lowered, raw)


def shipped() -> dict[str, str]:
    """The shipped recipes: name -> the first line of their description.

    Example:
        >>> sorted(shipped())
        ['demo', 's1', 's1.1', 'small-gpu-lora']
    """
    folder = resources.files("tinyreason") / "data" / "recipes"
    out = {}
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            name = entry.name.removesuffix(".yaml")
            first = entry.read_text(encoding="utf-8").splitlines()[0].lstrip("# ").strip()
            out[name] = first.removeprefix(f"{name}:").strip()
    return out


def _shipped_text(name: str) -> str:
    folder = resources.files("tinyreason") / "data" / "recipes"
    return (folder / f"{name}.yaml").read_text(encoding="utf-8")


def shipped_text(name: str) -> str:
    """The YAML of a shipped recipe (``tinyreason recipe show NAME``).

    Raises:
        ConfigError: no such recipe.
    """
    if name not in shipped():
        raise ConfigError(
            f"no shipped recipe {name!r}{_did_you_mean(name, list(shipped()))}; "
            f"shipped: {', '.join(shipped())}"
        )
    return _shipped_text(name)
