"""tinyreason's own plugins, registered through the same hooks as third-party ones.

Factories are ``"module:attribute"`` strings, so nothing heavy is imported until a user asks for it.
"""

from __future__ import annotations

from .hookspecs import Register, hookimpl


@hookimpl
def register_students(register: Register) -> None:
    register("qwen-s1", "tinyreason.students.formats:qwen_s1")
    register("think-tags", "tinyreason.students.formats:think_tags")
