"""The ``tinyreason`` command: a thin layer over the library."""

from __future__ import annotations

import argparse
import sys

from .errors import TinyReasonError


def _demo(args: argparse.Namespace) -> int:
    from .demo.run import DemoConfig, run_demo

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
    from .registry import plugins

    print(repr(plugins()))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tinyreason`` command."""
    parser = argparse.ArgumentParser(prog="tinyreason", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the whole recipe on a CPU in minutes")
    demo.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    demo.add_argument("--seed", type=int, default=0, help="seed of every stage (default 0)")
    demo.add_argument("--steps", type=int, default=None, help="training steps (default 1500)")
    demo.add_argument("--run-dir", default=None, help="output folder (default runs/demo-<time>)")
    demo.set_defaults(run=_demo)

    plugins = commands.add_parser("plugins", help="list plugins: loaded, failed and skipped")
    plugins.set_defaults(run=_plugins)

    from .training.launch import add_train_parser  # light: nothing heavy until it runs

    add_train_parser(commands)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except TinyReasonError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
