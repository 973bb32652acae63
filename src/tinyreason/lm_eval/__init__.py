"""lm-evaluation-harness both ways: our model inside lm-eval, lm-eval's tasks and results in ours.

**lm-eval runs tinyreason.** Importing this package (after or before ``lm_eval``, either works)
registers the lm-eval model ``tinyreason`` (:class:`~tinyreason.lm_eval.model.TinyReasonLM`):
any lm-eval generation task, answered with our budget forcing on any of our backends::

    tinyreason lm-eval --model tinyreason \\
        --model_args pretrained=out/s1,format=qwen-s1,max_thinking=auto,waits=2 \\
        --tasks gsm8k --output_path runs/lm-eval --log_samples

or from Python::

    import lm_eval
    import tinyreason.lm_eval  # registers --model tinyreason
    lm_eval.simple_evaluate(model="tinyreason", model_args="pretrained=out/s1", tasks=["gsm8k"])

lm-eval 0.4.11 finds no models in other packages, and a model registered before
``lm_eval.models`` is imported hides its built-in ones (``hf``, ``vllm``...): :func:`register`
imports ``lm_eval.models`` first, so both kinds stay available. ``import tinyreason`` never
imports lm-eval.

**tinyreason reads lm-eval.** :func:`evaluate_task` runs an lm-eval task by name through our model
and returns its scores; :func:`read_results` reads the files any lm-eval run wrote, and
:func:`side_by_side` puts them beside a ``tr.evaluate`` report.

Install: ``pip install 'tinyreason[lm-eval]'``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, TinyReasonError
from .results import LMEvalResults, LMEvalSample, LMEvalScore, read_results, side_by_side

if TYPE_CHECKING:
    from .model import TinyReasonLM, UnsupportedRequestError
    from .run import evaluate_task

__all__ = [
    "MODEL_NAME",
    "LMEvalResults",
    "LMEvalSample",
    "LMEvalScore",
    "TinyReasonLM",
    "UnsupportedRequestError",
    "evaluate_task",
    "main",
    "read_results",
    "register",
    "side_by_side",
]

#: The name lm-eval knows our model by (``--model tinyreason``).
MODEL_NAME = "tinyreason"

_LAZY = {
    "TinyReasonLM": "model",
    "UnsupportedRequestError": "model",
    "evaluate_task": "run",
}


def _has_lm_eval() -> bool:
    try:
        return importlib.util.find_spec("lm_eval") is not None
    except (ImportError, ValueError):  # a broken or blocked install counts as none
        return False


def _need_lm_eval() -> None:
    if not _has_lm_eval():
        raise ConfigError(
            "lm-evaluation-harness is not installed: pip install 'tinyreason[lm-eval]' "
            "(or pip install 'lm-eval>=0.4.11,<0.5')."
        )


def register() -> None:
    """Register ``--model tinyreason`` with lm-eval, keeping its built-in models available.

    Safe to call again (it registers once). Importing :mod:`tinyreason.lm_eval` calls it when
    lm-eval is installed.

    Raises:
        ConfigError: lm-eval is not installed.

    Example:
        >>> from lm_eval.api.registry import get_model
        >>> register()
        >>> get_model("tinyreason").__name__, get_model("hf").__name__
        ('TinyReasonLM', 'HFLM')
    """
    _need_lm_eval()
    # lm-eval fills its registry with the built-in models only when the registry is empty at the
    # first lookup; registering ours first would leave it non-empty and hide them. Import them
    # first (lazily: placeholders, no torch).
    importlib.import_module("lm_eval.models")
    from lm_eval.api import registry as lm_registry

    from .model import TinyReasonLM

    if lm_registry.MODEL_REGISTRY.get(MODEL_NAME, None) is TinyReasonLM:
        return
    lm_registry.register_model(MODEL_NAME)(TinyReasonLM)


def main(argv: list[str]) -> int:
    """``tinyreason lm-eval ARGS``: register our model, then run lm-eval's own command line.

    ``ARGS`` are lm-eval's (``lm-eval --help``): ``--model tinyreason --model_args ...`` runs our
    model; every other model of lm-eval works too.

    Returns:
        The exit status: lm-eval's, or 2 after printing a tinyreason error in one line.

    Example:
        >>> main(["--model", "tinyreason", "--model_args", "pretrained=out/s1",
        ...       "--tasks", "gsm8k", "--device", "cuda:0"])  # doctest: +SKIP
        0
    """
    try:
        register()
        from lm_eval.__main__ import cli_evaluate
    except TinyReasonError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    saved = sys.argv
    # lm-eval's CLI reads sys.argv itself (and inserts its `run` subcommand when none is given).
    sys.argv = ["lm-eval", *argv]
    try:
        cli_evaluate()
    except SystemExit as exc:  # argparse's --help and usage errors
        code = exc.code
        if code is None or isinstance(code, int):
            return int(code or 0)
        print(code, file=sys.stderr)
        return 1
    except TinyReasonError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        sys.argv = saved
    return 0


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if _has_lm_eval():
    register()
