"""The plugin manager: built-ins and third-party packages, loaded lazily, once, in isolation.

Nothing loads at ``import tinyreason``. The first getter call (``tr.scaler(...)``,
``tr.plugins()``...) registers the built-in plugin, then each ``tinyreason`` entry point, each
inside its own ``try``: a plugin that fails to import, fails pluggy's validation or raises in a
hook is reported by name (a :class:`PluginWarning` and a row in :func:`plugins`) and everything
else keeps working.

Environment:
    ``TINYREASON_LOAD_PLUGINS``: comma-separated entry-point or distribution names to load; empty
    loads no third-party plugin; unset loads all.
    ``TINYREASON_TRACE_PLUGINS``: when set, print every hook call (debugging a plugin).
"""

from __future__ import annotations

import importlib
import inspect
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from ._plugin_info import PluginInfo, PluginList, PluginWarning
from .errors import _NOUNS, ConfigError, PluginError, UnknownPluginError
from .options import check_options

__all__ = [
    "ENTRY_POINT_GROUP",
    "GETTERS",
    "PluginInfo",
    "PluginList",
    "PluginWarning",
    "available",
    "build",
    "check",
    "noun",
    "plugins",
    "register_plugin",
    "unregister_plugin",
]

ENTRY_POINT_GROUP = "tinyreason"
BUILTIN_PLUGINS = ("tinyreason.builtins",)

#: kind -> the name of the ``tr.<getter>(name, **options)`` that builds one. The kind ``"student"``
#: (its hook is ``register_students``) registers chat formats, built by ``tr.chat_format``.
GETTERS: dict[str, str] = {kind: kind for kind in hookspecs.HOOKS} | {"student": "chat_format"}


def noun(kind: str) -> str:
    """What a thing of ``kind`` is called in messages: the kind, but "chat format" for "student".

    Example:
        >>> noun("scaler"), noun("student")
        ('scaler', 'chat format')
    """
    return _NOUNS.get(kind, kind)


@dataclass(frozen=True)
class _Entry:
    factory: Callable[..., Any] | str
    plugin: str


class _State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.pm: pluggy.PluginManager | None = None
        self.infos: dict[str, PluginInfo] = {}
        self.registry: dict[str, dict[str, _Entry]] | None = None


_state = _State()


def _warn(info: PluginInfo, message: str, *, hook: bool = False) -> None:
    (info.hook_errors if hook else info.load_errors).append(message)
    if info.status != "builtin":
        info.status = "partial" if hook and info.status != "failed" else "failed"
    source = f" (from {info.distribution})" if info.distribution else ""
    warnings.warn(
        f"tinyreason plugin {info.name!r}{source}: {message}. It is skipped; everything else "
        "works. See tr.plugins(); TINYREASON_LOAD_PLUGINS limits which plugins load.",
        PluginWarning,
        stacklevel=4,
    )


def _add_plugin(pm: pluggy.PluginManager, obj: object, info: PluginInfo) -> None:
    """Register one plugin object, validating its hooks; record failure instead of raising."""
    try:
        pm.register(obj, name=info.name)
        pm.check_pending()  # a misspelt hook name (register_teacher) fails here, not silently
    except Exception as exc:  # pluggy raises ValueError or PluginValidationError
        if pm.is_registered(obj):
            pm.unregister(obj)
        _warn(info, f"invalid plugin: {exc}")


def _wanted_entry_points() -> tuple[list[metadata.EntryPoint], set[str] | None]:
    raw = os.environ.get("TINYREASON_LOAD_PLUGINS")
    wanted = None if raw is None else {s.strip() for s in raw.split(",") if s.strip()}
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP)), wanted


def _load_entry_points(pm: pluggy.PluginManager, infos: dict[str, PluginInfo]) -> None:
    entry_points, wanted = _wanted_entry_points()
    for ep in entry_points:
        dist = getattr(ep, "dist", None)
        info = PluginInfo(
            name=ep.name,
            status="loaded",
            distribution=dist.name if dist else None,
            version=dist.version if dist else None,
        )
        if info.name in infos:  # two distributions using one entry-point name
            info.name = f"{ep.name} ({info.distribution})"
        infos[info.name] = info
        if wanted is not None and ep.name not in wanted and info.distribution not in wanted:
            info.status = "skipped"
            continue
        try:
            obj = ep.load()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # SystemExit too: a plugin must not end the user's program
            _warn(info, f"failed to import {ep.value!r}: {type(exc).__name__}: {exc}")
            continue
        _add_plugin(pm, obj, info)


def _manager() -> pluggy.PluginManager:
    """The plugin manager, built on first use."""
    with _state.lock:
        if _state.pm is None:
            pm = pluggy.PluginManager(ENTRY_POINT_GROUP)
            pm.add_hookspecs(hookspecs)
            if os.environ.get("TINYREASON_TRACE_PLUGINS"):
                pm.trace.root.setwriter(lambda text: print(text, end=""))  # text ends in \n
                pm.enable_tracing()
            infos: dict[str, PluginInfo] = {}
            for module_name in BUILTIN_PLUGINS:
                info = infos[module_name] = PluginInfo(module_name, "builtin")
                _add_plugin(pm, importlib.import_module(module_name), info)
            _load_entry_points(pm, infos)
            _state.pm, _state.infos, _state.registry = pm, infos, None
        return _state.pm


def _build_registry() -> dict[str, dict[str, _Entry]]:
    with _state.lock:
        if _state.registry is not None:
            return _state.registry
        pm = _manager()
        registry: dict[str, dict[str, _Entry]] = {kind: {} for kind in hookspecs.HOOKS}
        for info in _state.infos.values():
            info.provides, info.hook_errors = {}, []
        trace = pm.trace.root.get("hook") if os.environ.get("TINYREASON_TRACE_PLUGINS") else None
        for kind, hook_name in hookspecs.HOOKS.items():
            # Call each plugin's implementation on its own, so one that raises can't stop the rest
            # (pluggy's own hook call would abort at the first exception).
            for impl in getattr(pm.hook, hook_name).get_hookimpls():
                info = _state.infos.setdefault(
                    impl.plugin_name, PluginInfo(impl.plugin_name, "loaded")
                )
                register = _registrar(kind, hook_name, registry[kind], info)
                try:
                    impl.function(**{arg: register for arg in impl.argnames})
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:  # SystemExit too, as at import
                    _warn(info, f"{hook_name} raised {type(exc).__name__}: {exc}", hook=True)
                if trace is not None:  # hooks are called directly, so pluggy's tracing sees none
                    trace(f"{hook_name} [{impl.plugin_name}] -> {info.provides.get(kind, [])}")
        _state.registry = registry
        return registry


def _registrar(
    kind: str, hook_name: str, entries: dict[str, _Entry], info: PluginInfo
) -> Callable[..., None]:
    def register(name: str, factory: Callable[..., Any] | str) -> None:
        if not isinstance(name, str) or not name.strip():
            _warn(info, f"{hook_name}: register() needs a non-empty name, got {name!r}", hook=True)
            return
        if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
            _warn(
                info,
                f"{hook_name}: the factory for {name!r} must be a callable or a "
                f"'module:attribute' string, got {factory!r}",
                hook=True,
            )
            return
        existing = entries.get(name)
        if existing is not None and existing.plugin != info.name:
            _warn(
                info,
                f"{hook_name}: {noun(kind)} {name!r} is already provided by plugin "
                f"{existing.plugin!r}; choose another name (the first registration is kept)",
                hook=True,
            )
            return
        entries[name] = _Entry(factory, info.name)
        info.provides.setdefault(kind, []).append(name)

    return register


def plugins() -> PluginList:
    """Every plugin: built-in, loaded, failed (with why) or skipped, and what each provides.

    Example:
        >>> import tinyreason as tr
        >>> "tinyreason.builtins" in [p.name for p in tr.plugins()]
        True
    """
    _build_registry()
    return PluginList(_state.infos.values())


def available(kind: str) -> list[str]:
    """The names registered for a kind (``"teacher"``, ``"scaler"``...), sorted.

    Example:
        >>> import tinyreason as tr
        >>> "think-tags" in tr.available("student")
        True
    """
    if kind not in hookspecs.HOOKS:
        raise UnknownPluginError("kind", kind, hookspecs.HOOKS)
    return sorted(_build_registry()[kind])


def register_plugin(plugin: object, name: str | None = None) -> str:
    """Register a plugin object or module by hand (a notebook, a test, a script).

    Registering again under the same name replaces the earlier one, so a re-run notebook cell works.

    Args:
        plugin: A module or object with ``@tr.hookimpl`` functions.
        name: Its name in :func:`plugins`; defaults to the module or class name.

    Returns:
        The name it was registered under.

    Example:
        >>> import tinyreason as tr
        >>> class MyPlugin:
        ...     @tr.hookimpl
        ...     def register_students(self, register):
        ...         register("my-tags", lambda: tr.students.ThinkFormat("my-tags", "<t>", "</t>"))
        >>> tr.register_plugin(MyPlugin(), name="mine")
        'mine'
        >>> "my-tags" in tr.available("student")
        True
        >>> tr.unregister_plugin("mine")
    """
    with _state.lock:
        pm = _manager()
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)
        info = _state.infos[name] = PluginInfo(name, "loaded")
        _add_plugin(pm, plugin, info)
        _state.registry = None
        if info.status == "failed":
            raise PluginError(name, info.error or "invalid plugin")
        return name


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered with :func:`register_plugin`."""
    with _state.lock:
        pm = _manager()
        if pm.get_plugin(name) is None:
            raise UnknownPluginError("plugin", name, [p for p, _ in pm.list_name_plugin()])
        pm.unregister(name=name)
        _state.infos.pop(name, None)
        _state.registry = None


def reset() -> None:
    """Forget every loaded plugin; the next getter loads them again (tests, reinstalls)."""
    with _state.lock:
        _state.pm, _state.infos, _state.registry = None, {}, None


def _resolve(kind: str, name: str, entry: _Entry) -> Callable[..., Any]:
    factory = entry.factory
    if not isinstance(factory, str):
        return factory
    module_name, _, attr = factory.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except ModuleNotFoundError as exc:
        raise PluginError(
            entry.plugin,
            f"{noun(kind)} {name!r} needs the package {exc.name!r}, which is not installed. "
            "Install it (for tinyreason's own: pip install 'tinyreason[all]').",
        ) from exc
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # ImportError, AttributeError, or the module's own failure
        raise PluginError(
            entry.plugin,
            f"{noun(kind)} {name!r}: cannot load {factory!r}: {type(exc).__name__}: {exc}",
        ) from exc
    if not callable(obj):
        raise PluginError(
            entry.plugin,
            f"{noun(kind)} {name!r}: {factory!r} is not callable (a class, a function)",
        )
    resolved: Callable[..., Any] = obj
    return resolved


def _check_options(
    kind: str, name: str, factory: Callable[..., Any], options: Mapping[str, Any]
) -> None:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):  # some builtins have no signature: nothing to check
        return
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return
    valid = [p.name for p in params if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)]
    problems = [_unknown_option(kind, name, key, valid) for key in options if key not in valid]
    required = [
        p.name
        for p in params
        if p.default is p.empty and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    problems += [
        f"{noun(kind)} {name!r} needs the option {key!r}: "
        f"tr.{GETTERS.get(kind, kind)}({name!r}, {key}=...)"
        for key in required
        if key not in options
    ]
    # Values against the factory's annotations: the same check every entry point uses.
    problems += check_options(factory, options, where=f"{noun(kind)} {name!r}")
    if problems:
        raise ConfigError(problems)


def _unknown_option(kind: str, name: str, key: str, valid: Iterable[str]) -> str:
    import difflib

    valid = sorted(valid)
    hint = difflib.get_close_matches(key, valid, n=1)
    did_you_mean = f" (did you mean {hint[0]!r}?)" if hint else ""
    return (
        f"{noun(kind)} {name!r} has no option {key!r}{did_you_mean}; "
        f"valid options: {', '.join(valid) or '(none)'}"
    )


def check(kind: str, name: str, /, **options: Any) -> None:
    """Check that :func:`build` would accept ``name`` and ``options``, without building anything.

    Recipes use it to validate every plugin they name before the first stage runs (building a
    backend may load a model; checking loads nothing but the factory's module).

    Raises:
        UnknownPluginError: no such name.
        ConfigError: an option is unknown, missing or of the wrong type.

    Example:
        >>> check("scaler", "budget-forcing", waits=2)
        >>> check("scaler", "budget-forcing", waits="2")
        Traceback (most recent call last):
        ...
        tinyreason.errors.ConfigError: scaler 'budget-forcing': waits must be a whole number, ...
    """
    factory, _ = _factory(kind, name)
    _check_options(kind, name, factory, options)


def _factory(kind: str, name: str) -> tuple[Callable[..., Any], _Entry]:
    if not isinstance(name, str):
        getter = GETTERS.get(kind, kind)
        raise ConfigError(
            f"tr.{getter}() takes the name of a registered {noun(kind)} as a string, got "
            f"{type(name).__name__} {name!r}; tr.available({kind!r}) lists the names."
        )
    registry = _build_registry()
    if kind not in registry:
        raise UnknownPluginError("kind", kind, registry)
    entry = registry[kind].get(name)
    if entry is None:
        raise UnknownPluginError(kind, name, registry[kind])
    return _resolve(kind, name, entry), entry


def build(kind: str, name: str, /, **options: Any) -> Any:
    """Build the ``kind`` registered as ``name`` from keyword options, checking both.

    Raises:
        UnknownPluginError: no such name; the message lists the known ones.
        ConfigError: an option is unknown (the message names it and the valid ones) or invalid.
        PluginError: the plugin could not be loaded or built something that is not a ``kind``.
    """
    from . import interfaces

    factory, entry = _factory(kind, name)
    _check_options(kind, name, factory, options)
    obj = factory(**options)
    protocol = _PROTOCOLS[kind](interfaces)
    if not isinstance(obj, protocol):
        raise PluginError(
            entry.plugin,
            f"the factory for {noun(kind)} {name!r} returned {type(obj).__name__}, which is not a "
            f"{protocol.__name__} (it lacks one of: {', '.join(sorted(_members(protocol)))}).",
        )
    return obj


def _members(protocol: type) -> set[str]:
    return set(getattr(protocol, "__protocol_attrs__", ())) or {
        n for n in vars(protocol) if not n.startswith("_")
    }


_PROTOCOLS: dict[str, Callable[[Any], type]] = {
    "teacher": lambda m: m.Teacher,
    "selector": lambda m: m.Selector,
    "trainer": lambda m: m.Trainer,
    "scaler": lambda m: m.TestTimeScaler,
    "student": lambda m: m.StudentFormat,
    "benchmark": lambda m: m.Benchmark,
    "backend": lambda m: m.Backend,
    "reward_model": lambda m: m.RewardModel,
}
