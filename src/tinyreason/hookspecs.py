"""The plugin hooks.

Each hook receives a ``register(name, factory)`` callback and calls it once per thing the plugin
provides. ``factory`` is a callable that builds the object from keyword options (a class works), or
a lazy ``"package.module:attribute"`` string, so a plugin's heavy imports happen only when a user
asks for that thing. Built-ins register through these same hooks.

Hooks only ever gain arguments (pluggy lets an implementation take any subset), so a plugin written
today keeps working.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

__all__ = ["HOOKS", "Register", "hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("tinyreason")
hookimpl = pluggy.HookimplMarker("tinyreason")

#: ``register(name, factory)``; factory: a callable returning the object, or "module:attr".
#: The object may be anything here: the getter checks it against its kind's Protocol.
Register = Callable[[str, "Callable[..., object] | str"], None]


@hookspec
def register_teachers(register: Register) -> None:
    """Register teachers: objects with ``distill(problems, **options) -> Dataset``."""


@hookspec
def register_selectors(register: Register) -> None:
    """Register selectors: objects with ``select(dataset) -> Selection``."""


@hookspec
def register_trainers(register: Register) -> None:
    """Register trainers: objects with ``train(dataset) -> TrainedStudent``."""


@hookspec
def register_scalers(register: Register) -> None:
    """Register test-time scalers: objects with ``solve(backend, problems) -> list[Solution]``."""


@hookspec
def register_students(register: Register) -> None:
    """Register chat formats (``tr.chat_format``): think/answer delimiters in a chat template."""


@hookspec
def register_benchmarks(register: Register) -> None:
    """Register benchmarks: objects with ``name`` and ``problems() -> list[Problem]``."""


@hookspec
def register_backends(register: Register) -> None:
    """Register generation backends: objects with ``prompt()`` and ``generate()``."""


@hookspec
def register_reward_models(register: Register) -> None:
    """Register process reward models: objects with ``score()`` and ``score_batch()``."""


#: kind -> hook name, in the order plugins are told about them.
HOOKS: dict[str, str] = {
    "teacher": "register_teachers",
    "selector": "register_selectors",
    "trainer": "register_trainers",
    "scaler": "register_scalers",
    "student": "register_students",
    "benchmark": "register_benchmarks",
    "backend": "register_backends",
    "reward_model": "register_reward_models",
}
