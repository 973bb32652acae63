"""The ``tinyreason`` command: every stage of the recipe from a shell or a cluster job.

    tinyreason distil   --config recipe.yaml      ask a teacher, save the traces
    tinyreason select   --config recipe.yaml      select traces, save the Selection
    tinyreason train    --config recipe.yaml      fine-tune the student (torchrun/accelerate ok)
    tinyreason evaluate --config recipe.yaml      benchmarks with budget forcing, save reports
    tinyreason recipe list | show NAME            the shipped recipes (s1, s1.1, demo, ...)
    tinyreason lm-eval --model tinyreason ...     lm-evaluation-harness with our scalers
    tinyreason demo | plugins | --version

Every stage command reads its section of the recipe (a file, or a shipped recipe's name) and takes
flags that override single values: ``--trainer.learning_rate 1e-5`` under ``train`` is
``train.trainer.learning_rate``. Errors print one line and exit non-zero (2 for a wrong input, 1
for anything else); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from ..errors import TinyReasonError

__all__ = ["main"]

_EXAMPLES = {
    "distil": """\
examples:
  tinyreason distil --config demo
  tinyreason distil --config s1.yaml --distil.teacher.model gemini-2.5-flash
  tinyreason distil --problems problems.jsonl --teacher deepseek --output runs/x/traces""",
    "select": """\
examples:
  tinyreason select --config demo
  tinyreason select --traces runs/x/traces --selectors '["quality", {"name": "diversity",
      "k": 1000}]' --output runs/x/selection""",
    "evaluate": """\
examples:
  tinyreason evaluate --config demo
  tinyreason evaluate --model runs/x/student --benchmarks '["aime24"]' --output runs/x/eval \\
      --scaler '{"name": "budget-forcing", "waits": 2}'""",
}


def _demo(args: argparse.Namespace) -> int:
    from ..demo.run import DemoConfig, run_demo

    config = DemoConfig.for_quick(args.seed) if args.quick else DemoConfig(seed=args.seed)
    if args.steps is not None:
        from dataclasses import replace

        config = replace(config, steps=args.steps)
    result = run_demo(config, run_dir=args.run_dir)
    if config.quick or all(result.checks.values()):
        return 0
    # The run finished and its report is written, but it did not show what the demo promises:
    # say so in the exit status too (scripts and CI read that, not the table).
    print("this run did not show the expected effect; try another --seed", file=sys.stderr)
    return 1


def _plugins(args: argparse.Namespace) -> int:
    from ..registry import plugins

    print(repr(plugins()))
    return 0


def _recipe(args: argparse.Namespace) -> int:
    from .recipes import shipped, shipped_text

    if args.action == "list":
        for name, about in shipped().items():
            print(f"{name:16} {about}")
        return 0
    if not args.name:
        print("error: tinyreason recipe show NAME (names: tinyreason recipe list)", file=sys.stderr)
        return 2
    print(shipped_text(args.name), end="")
    return 0


def _stage(stage: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        from . import commands
        from .recipes import Recipe

        overrides = _scoped(stage, args.overrides)
        if args.overwrite:
            overrides += [f"--{stage}.overwrite", "true"]
        if args.config is not None:
            recipe = Recipe.load(args.config, overrides)
        else:
            recipe = Recipe.from_text(f"{stage}: {{}}", f"the {stage} flags", overrides)
        runner = getattr(commands, f"run_{stage}")
        return int(runner(recipe))

    return run


def _scoped(stage: str, items: Sequence[str]) -> list[str]:
    """``--key value`` under ``stage`` means ``--stage.key value``; ``--other.key`` stays."""
    from .recipes import SECTIONS

    out = []
    for item in items:
        if item.startswith("--") and item[2:].split(".", 1)[0].split("=", 1)[0] not in SECTIONS:
            item = f"--{stage}.{item[2:]}"
        out.append(item)
    return out


def _add_stage(commands: argparse._SubParsersAction, stage: str, help_text: str) -> None:
    parser = commands.add_parser(
        stage,
        help=help_text,
        description=f"{help_text}. Reads the recipe's {stage!r} section; flags override it.",
        epilog=_EXAMPLES[stage],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="a recipe file, or a shipped recipe's name (s1, demo...)")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="write into a non-empty folder tinyreason did not write (only our files change)",
    )
    parser.set_defaults(run=_stage(stage), stage=stage)


def _parser() -> argparse.ArgumentParser:
    from importlib import metadata

    try:
        version = metadata.version("tinyreason")
    except metadata.PackageNotFoundError:
        version = "unknown"
    parser = argparse.ArgumentParser(
        prog="tinyreason",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"tinyreason {version}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    commands = parser.add_subparsers(dest="command", required=True)

    _add_stage(commands, "distil", "ask a teacher every problem and save the traces")
    _add_stage(commands, "select", "select traces and save the Selection")
    _add_stage(commands, "evaluate", "run benchmarks with a test-time scaler and save reports")

    from ..training.launch import add_train_parser  # light: nothing heavy until it runs

    add_train_parser(commands)

    recipe = commands.add_parser(
        "recipe",
        help="list or print the shipped recipes",
        epilog="examples:\n  tinyreason recipe list\n  tinyreason recipe show s1 > s1.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    recipe.add_argument("action", choices=["list", "show"])
    recipe.add_argument("name", nargs="?", help="the recipe to print (show)")
    recipe.set_defaults(run=_recipe)

    demo = commands.add_parser(
        "demo",
        help="run the whole recipe on a CPU in minutes",
        epilog="examples:\n  tinyreason demo\n  tinyreason demo --quick --seed 1",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    demo.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    demo.add_argument("--seed", type=int, default=0, help="seed of every stage (default 0)")
    demo.add_argument("--steps", type=int, default=None, help="training steps (default 1500)")
    demo.add_argument("--run-dir", default=None, help="output folder (default runs/demo-<time>)")
    demo.set_defaults(run=_demo)

    plugins = commands.add_parser("plugins", help="list plugins: loaded, failed and skipped")
    plugins.set_defaults(run=_plugins)
    # Handled in main() before parsing (its arguments are lm-eval's own); here for --help.
    commands.add_parser(
        "lm-eval",
        help="run lm-evaluation-harness with --model tinyreason (lm-eval's own arguments)",
    )
    return parser


def _train_recipe(items: list[str]) -> int:
    """``tinyreason train --config RECIPE [--preflight] [--gpu G] [--overwrite] [overrides]``."""
    from . import commands
    from .recipes import Recipe

    parser = argparse.ArgumentParser(prog="tinyreason train", add_help=False)
    parser.add_argument("--config", required=True)
    parser.add_argument("--preflight", action="store_true")
    parser.add_argument("--gpu", default=None)
    parser.add_argument("--overwrite", action="store_true")
    args, extra = parser.parse_known_args(items)
    overrides = _scoped("train", extra)
    if args.overwrite:
        overrides += ["--train.overwrite", "true"]
    recipe = Recipe.load(args.config, overrides)
    return commands.run_train(recipe, preflight=args.preflight, gpu=args.gpu)


def _guarded(run: Callable[[], int], debug: bool) -> int:
    """Run a command: a wrong input is one line and status 2, anything else one line and 1."""
    try:
        return int(run())
    except TinyReasonError as exc:
        if debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(
            f"error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
            file=sys.stderr,
        )
        return 1


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tinyreason`` command; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    if argv[:1] == ["lm-eval"]:  # the rest are lm-eval's own arguments, parsed by lm-eval
        from ..lm_eval import main as lm_eval_main

        return int(lm_eval_main(argv[1:]))
    if argv[:1] == ["train"] and any(a == "--config" or a.startswith("--config=") for a in argv):
        # A recipe's train section; the flag form (--data, --base...) is parsed below.
        items = [a for a in argv[1:] if a != "--debug"]
        return _guarded(lambda: _train_recipe(items), debug)
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    extra = [e for e in extra if e != "--debug"]
    if getattr(args, "stage", None) is not None:
        args.overrides = extra
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    return _guarded(lambda: args.run(args), debug or args.debug)


if __name__ == "__main__":
    sys.exit(main())
