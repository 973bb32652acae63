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
    run_demo(config, run_dir=args.run_dir)
    return 0


def _plugins(args: argparse.Namespace) -> int:
    from .plugins import plugins

    print(repr(plugins()))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tinyreason`` command."""
    parser = argparse.ArgumentParser(prog="tinyreason", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    demo = commands.add_parser("demo", help="run the whole recipe on a CPU in minutes")
    demo.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    demo.add_argument("--seed", type=int, default=0, help="seed of every stage (default 0)")
    demo.add_argument("--steps", type=int, default=None, help="training steps (default 1900)")
    demo.add_argument("--run-dir", default=None, help="output folder (default runs/demo-<time>)")
    demo.set_defaults(run=_demo)

    plugins = commands.add_parser("plugins", help="list plugins: loaded, failed and skipped")
    plugins.set_defaults(run=_plugins)

    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except TinyReasonError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
