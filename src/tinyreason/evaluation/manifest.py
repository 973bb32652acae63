"""What a report records about its run: the settings, the versions, the backend, how it was graded.

``tr.evaluate`` puts :func:`run_manifest` in the report's ``manifest``: what is needed to
reproduce the run (benchmark, budgets, seed, samples, scaler, backend with its device and dtype,
format, package versions, platform) and, as its ``"evaluation"`` entry,
:func:`evaluation_settings`: the prompt, the answer extraction rule, the grader and the generation
budget, which the report's text and HTML views show above the table.

Example:
    >>> from tinyreason.answers import MathGrader
    >>> evaluation_settings(None, "auto", MathGrader())["prompt_template"]
    '{question}'
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from typing import Any

from ..interfaces import Backend, Benchmark, Describes, Grader, TestTimeScaler

__all__ = ["evaluation_settings", "run_manifest"]

#: Packages whose versions a manifest records (those installed).
PACKAGES = ("tinyreason", "torch", "transformers", "trl", "vllm", "math-verify")


def run_manifest(
    backend: Backend,
    scaler: TestTimeScaler,
    budgets: list[int | None],
    seed: int,
    benchmark: str,
    problems: int,
    answer_kind: str,
    grader: Grader,
    bench: Benchmark | None,
) -> dict[str, Any]:
    """The manifest of a finished run: its settings, its environment, how it was graded.

    Args:
        backend: What generated (its ``describe()`` names it, with its device and dtype).
        scaler: The scaler the run started from (before each budget was applied).
        budgets: The budgets, in order.
        seed: The run's seed.
        benchmark: The benchmark's name.
        problems: How many problems.
        answer_kind: The answer kind the answers were extracted with.
        grader: The grader used.
        bench: The benchmark object (None for a plain list of problems).
    """
    # Imported here: report re-exports evaluation_settings, and stays light to import.
    from ..students import ThinkFormat
    from .scaler_setup import samples_of

    described = backend.describe() if isinstance(backend, Describes) else None
    manifest: dict[str, Any] = {
        "benchmark": benchmark,
        "problems": problems,
        "budgets": budgets,
        "seed": seed,
        "scaler": repr(scaler),
        "backend": described if described is not None else type(backend).__name__,
        **_device_and_dtype(described),
        "format": backend.format.name,
        "versions": _versions(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "samples": samples_of(scaler),
        "answer_kind": answer_kind,
    }
    if isinstance(bench, Describes):
        manifest["benchmark_source"] = bench.describe()
    fmt = backend.format
    manifest["evaluation"] = evaluation_settings(
        bench,
        answer_kind,
        grader,
        think_end=fmt.think_end,
        system_prompt=fmt.system_prompt if isinstance(fmt, ThinkFormat) else None,
    )
    return manifest


def _versions() -> dict[str, str]:
    from importlib import metadata

    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return versions


def _device_and_dtype(described: Any) -> dict[str, str]:
    """The model's device and dtype, as the backend's ``describe()`` gives them."""
    found = {}
    for key in ("device", "dtype"):
        value = described.get(key) if isinstance(described, Mapping) else None
        if value not in (None, ""):
            found[key] = str(value)
    return found


def evaluation_settings(
    benchmark: Any,
    answer_kind: str,
    grader: Any,
    *,
    think_end: str | None = None,
    system_prompt: str | None = None,
) -> dict[str, Any]:
    """Say how a run is graded: the prompt, the extraction rule, the grader, the token budget.

    ``tr.evaluate`` stores the result as the manifest's ``"evaluation"`` entry.

    Args:
        benchmark: The benchmark object (None for a plain list of problems); its ``describe()``
            (:class:`~tinyreason.interfaces.Describes`: its ``prompt``, ``prompt_template`` and
            ``max_new_tokens`` keys) names the prompt and the budget. Without them, the question
            is sent as it is (``"{question}"``) and the scaler sizes the budget (None).
        answer_kind: The answer kind the answers were extracted with.
        grader: The grader used (its ``describe()`` names it).
        think_end: The student format's end-of-thinking delimiter.
        system_prompt: The student format's system prompt (None: the chat template's default).

    Returns:
        ``prompt``, ``prompt_template``, ``chat_template``, ``answer_kind``, ``extraction``,
        ``grader`` and ``max_new_tokens``.

    Example:
        >>> from tinyreason.evaluation.benchmarks import AIME24
        >>> from tinyreason.answers import MathGrader
        >>> s = evaluation_settings(AIME24(), "s1-integer", MathGrader(),
        ...                         think_end="<|im_start|>answer")
        >>> s["prompt_template"], s["max_new_tokens"], s["grader"][:23]
        ('{question}', 32768, 'math-verify equivalence')
        >>> s["extraction"][:12]
        's1 (integer)'
    """
    from ..answers import describe_extraction, describe_grader

    # What a benchmark says about itself is its describe() (tinyreason.interfaces.Describes).
    described = benchmark.describe() if isinstance(benchmark, Describes) else {}
    described = described if isinstance(described, Mapping) else {}

    def setting(key: str, default: Any) -> Any:
        return described.get(key, default)

    # A benchmark that says nothing sends each question as it is.
    prompt, template = setting("prompt", "plain"), setting("prompt_template", "{question}")
    system = "the template's default" if system_prompt is None else json.dumps(system_prompt)
    return {
        "prompt": prompt,
        "prompt_template": template,
        "chat_template": f"in the student's chat template, system prompt: {system}",
        "answer_kind": answer_kind,
        "extraction": describe_extraction(answer_kind, think_end),
        "grader": describe_grader(grader),
        "max_new_tokens": setting("max_new_tokens", None),
    }
