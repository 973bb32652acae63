"""``--model_args`` of ``--model tinyreason``: values parsed, keys sent where they belong.

lm-eval hands a model its arguments as ``key=value`` pairs (it turns ``2`` into an int and
``true`` into a bool, and leaves the rest strings). Here ``none`` becomes None and numbers that
lm-eval left as strings become numbers; then every key goes where it belongs:

* the model's own keys (:data:`MODEL_OPTIONS`);
* ``scaler.KEY`` / ``backend.KEY`` / ``inner.KEY`` (the budget forcing inside a voting scaler)
  explicitly;
* any other key to the scaler when the scaler takes it, else to the backend when it takes it.

A key nobody takes is an error that names the valid keys (with a did-you-mean), before any model
loads; values are then checked by :func:`tinyreason.registry.build` against each plugin's own
annotations.
"""

from __future__ import annotations

import difflib
import inspect
import re
from collections.abc import Mapping
from typing import Any, Literal

from .. import registry
from ..errors import ConfigError
from ..options import check_value

__all__ = ["MODEL_OPTIONS", "Routed", "check_model_options", "parse_value", "route"]

#: The model's own options and their types (the rest go to the scaler or the backend).
MODEL_OPTIONS: dict[str, Any] = {
    "pretrained": str | None,
    "backend": str,
    "scaler": str | None,
    "format": str | None,
    "prompt": Literal["chat", "raw"],
    "output": Literal["answer", "full"],
    "skip_special_tokens": bool,
    "seed": int | None,
    "max_gen_toks": int | None,
}

_INT = re.compile(r"^[+-]?\d+$")
_FLOAT = re.compile(r"^[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$")
_PREFIXES = ("scaler", "backend", "inner")


def parse_value(value: Any) -> Any:
    """A ``--model_args`` value as Python: ``none`` -> None, ``"2"`` -> 2, ``"0.5"`` -> 0.5.

    ``auto``, names and paths stay strings; values lm-eval already parsed pass through.

    Example:
        >>> [parse_value(v) for v in ("none", "auto", "2", "0.5", "1e-3", "True", "qwen-s1", 3)]
        [None, 'auto', 2, 0.5, 0.001, True, 'qwen-s1', 3]
    """
    if not isinstance(value, str):
        return value
    text = value.strip()
    lower = text.lower()
    if lower in ("none", "null"):
        return None
    if lower in ("true", "false"):
        return lower == "true"
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return value


def check_model_options(options: Mapping[str, Any]) -> None:
    """Raise :class:`ConfigError` listing every model option of the wrong type.

    Example:
        >>> check_model_options({"output": "answer", "prompt": "chat"})
        >>> try:
        ...     check_model_options({"output": "thinking"})
        ... except ConfigError as err:
        ...     print(err)
        model 'tinyreason': output must be one of 'answer', 'full', got str 'thinking'
    """
    problems = [
        problem
        for key, value in options.items()
        if key in MODEL_OPTIONS
        and (problem := check_value(value, MODEL_OPTIONS[key], key, where="model 'tinyreason'"))
    ]
    if problems:
        raise ConfigError(problems)


class Routed:
    """The options of one ``--model tinyreason``, sorted by who takes them.

    Attributes:
        scaler: Options of the scaler.
        inner: Options of the budget forcing inside a voting scaler (``inner.KEY``).
        backend: Options of the backend.

    Example:
        >>> r = route("budget-forcing", None, {"waits": 2, "max_thinking": "auto"})
        >>> r.scaler
        {'waits': 2, 'max_thinking': 'auto'}
    """

    def __init__(self) -> None:
        self.scaler: dict[str, Any] = {}
        self.inner: dict[str, Any] = {}
        self.backend: dict[str, Any] = {}


def parameters(kind: str, name: str) -> tuple[set[str], bool]:
    """The keyword options a registered plugin's factory takes, and whether it takes ``**kwargs``.

    Raises:
        UnknownPluginError: no such plugin (the message lists the registered ones).
    """
    factory, _ = registry._factory(kind, name)
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # no signature to read: let build() decide
        return set(), True
    names = {p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)}
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def route(scaler: str | None, backend: str | None, options: Mapping[str, Any]) -> Routed:
    """Send each option to the scaler, the inner budget forcing or the backend.

    Args:
        scaler: The registered scaler's name (None: plain generation, no scaler).
        backend: The registered backend's name (None: options only go to the scaler).
        options: The options that are not the model's own.

    Raises:
        ConfigError: a key that nothing takes (naming the valid keys), or a prefixed key whose
            plugin is not there (``scaler.waits`` without a scaler).
    """
    scaler_keys, scaler_any = parameters("scaler", scaler) if scaler else (set(), False)
    backend_keys, backend_any = parameters("backend", backend) if backend else (set(), False)
    routed = Routed()
    unknown = []
    for key, value in options.items():
        prefix, dot, rest = key.partition(".")
        if dot and prefix in _PREFIXES:
            if prefix in ("scaler", "inner") and scaler is None:
                raise ConfigError(
                    f"model 'tinyreason': {key!r} sets a scaler option, but scaler=none (plain "
                    "generation) runs no scaler; drop it or name a scaler."
                )
            getattr(routed, prefix)[rest] = value
        elif key in scaler_keys:
            routed.scaler[key] = value
        elif key in backend_keys:
            routed.backend[key] = value
        elif scaler_any:
            routed.scaler[key] = value
        elif backend_any:
            routed.backend[key] = value
        else:
            unknown.append(key)
    if unknown:
        valid = sorted(set(MODEL_OPTIONS) | scaler_keys | backend_keys)
        problems = []
        for key in unknown:
            hint = difflib.get_close_matches(key, valid, n=1)
            mean = f" (did you mean {hint[0]!r}?)" if hint else ""
            problems.append(
                f"model 'tinyreason' has no option {key!r}{mean}; valid: {', '.join(valid)} "
                f"(scaler {scaler!r}, backend {backend!r}; prefix a key with scaler., backend. or "
                "inner. to send it to one of them)"
            )
        raise ConfigError(problems)
    return routed
