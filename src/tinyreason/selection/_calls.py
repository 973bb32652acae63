"""Asking teachers (and backends) questions on the selectors' behalf.

Solvers, judges and domain classifiers all go through a teacher's ``distill``: with an API or
local-model teacher that is the teacher engine, so every call is cached (a re-run asks nothing
again), rate-limited, retried and cost-capped like distillation itself.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError

__all__ = ["Reply", "ask", "is_backend", "label_of", "resolve_teacher", "solve_with_backend"]


@dataclass(frozen=True)
class Reply:
    """What a teacher answered one prompt (``error`` set when the call failed)."""

    answer: str
    thinking: str
    error: str | None = None
    cost_usd: float | None = None
    extracted: str | None = None  # the final answer, when the caller already extracted it


def is_backend(obj: Any) -> bool:
    """Whether ``obj`` is a generation backend (a local model) rather than a teacher."""
    from ..interfaces import Backend, Teacher

    return isinstance(obj, Backend) and not isinstance(obj, Teacher)


def resolve_teacher(spec: Any, role: str) -> Any:
    """A teacher (or backend) from a name (``"anthropic"``, ``"local:Qwen/Qwen2.5-7B"``) or object.

    Raises:
        ConfigError: ``spec`` is neither a name nor an object with ``distill`` / ``generate``.
    """
    if isinstance(spec, str):
        from ..registry import build

        name, _, model = spec.partition(":")
        return build("teacher", name, model=model) if model else build("teacher", name)
    from ..interfaces import Teacher

    if isinstance(spec, Teacher) or is_backend(spec):
        return spec
    raise ConfigError(
        f"{role} must be a teacher name ('anthropic', 'local:<model>'), a teacher "
        f"(tr.teacher(...)) or a backend (tr.backend(...)), got {type(spec).__name__}"
    )


def label_of(spec: Any) -> str:
    """A stable label for a solver, judge or classifier: ``"name:model"`` or the name given."""
    if isinstance(spec, str):
        return spec
    name = getattr(spec, "name", None) or type(spec).__name__
    model = getattr(spec, "model", None)
    if is_backend(spec):
        model = model if isinstance(model, str) else getattr(spec, "model_name", None)
        return f"backend:{model}" if isinstance(model, str) else f"backend:{type(spec).__name__}"
    return f"{name}:{model}" if isinstance(model, str) and model else str(name)


def _accepted(method: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The options ``method`` takes (a plugin teacher may not take cache= or max_cost_usd=)."""
    try:
        params = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return {}
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return options
    names = {p.name for p in params}
    return {k: v for k, v in options.items() if k in names}


def ask(
    teacher: Any,
    prompts: Sequence[tuple[str, str]],
    *,
    cache: Any = None,
    max_cost_usd: float | None = None,
    progress: bool = False,
) -> list[Reply]:
    """Ask ``teacher`` each ``(id, prompt)``; one :class:`Reply` per prompt, in order.

    Args:
        teacher: A teacher object (``distill``).
        prompts: Unique ids and the user messages.
        cache: The teacher cache (as ``distill``'s ``cache=``; None: the shared default).
        max_cost_usd: This call's spending cap.
        progress: Show the engine's progress bar.
    """
    from ..records import Problem

    if not prompts:
        return []
    problems = [Problem(pid, text) for pid, text in prompts]
    options = _accepted(
        teacher.distill, {"cache": cache, "max_cost_usd": max_cost_usd, "progress": progress}
    )
    if options.get("cache", 0) is None:
        options.pop("cache")  # the teacher's own default
    if options.get("max_cost_usd", 0) is None:
        options.pop("max_cost_usd")
    rows = teacher.distill(problems, **options)
    columns = set(rows.column_names)
    by_id: dict[str, Reply] = {}
    for row in rows:
        thinking = row.get("thinking_trajectories") or ""
        if isinstance(thinking, list):
            thinking = "\n".join(t for t in thinking if t)
        by_id[str(row.get("id"))] = Reply(
            answer=row.get("attempt") or "",
            thinking=thinking,
            error=row.get("error") if "error" in columns else None,
            cost_usd=row.get("cost_usd") if "cost_usd" in columns else None,
        )
    return [by_id.get(pid, Reply("", "", "no reply")) for pid, _ in prompts]


def solve_with_backend(
    backend: Any, questions: Sequence[tuple[str, str]], scaler: Any
) -> list[Reply]:
    """Solve ``(id, question)`` pairs with a local model through a test-time scaler."""
    from ..records import Problem

    if not questions:
        return []
    problems = [Problem(pid, text) for pid, text in questions]
    solutions = scaler.solve(backend, problems)
    return [
        Reply(
            answer=s.generations[0].answer_text,
            thinking=s.generations[0].thinking,
            extracted=s.answer,
        )
        for s in solutions
    ]
