"""Kill-test worker: trains the tiny model, SIGKILLs itself at a chosen write, then resumes.

Run as ``python _kill_worker.py SPEC.json``; tests/training/test_kill.py starts it. Importing
torch, transformers and TRL takes most of a run's time, so this process imports them once and
forks one child per run (the parent itself computes nothing, so the children start clean):

1. ``reference``: an uninterrupted run, counting the write events it makes (E of them).
2. for each seed: a run that kills itself (``SIGKILL``, no clean-up of any kind) at write event
   K = 1 + Random(seed).randrange(E), before the write or, for every other seed, half-way
   through it (a torn file); its folder is then copied aside as it was left; then a run with
   ``resume_from_checkpoint="auto"`` in the same folder, to the end.

A write event is a call of ``torch.save`` or transformers' ``safe_save_file`` (weights, optimizer,
scheduler, RNG state, training args), an ``open`` for writing under the run folder (configs,
``trainer_state.json``, tokenizer files), or tinyreason's ``artifacts._fsync_file`` (each file
written whole, and each file a seal hashes). The point is counted, never timed, so each seed
kills at the same place on any machine.
"""

from __future__ import annotations

import builtins
import json
import os
import random
import shutil
import signal
import sys
import traceback
import warnings
from pathlib import Path


def _under(path: object, root: Path) -> bool:
    if not isinstance(path, (str, os.PathLike)):
        return False
    try:
        return Path(os.fspath(path)).resolve().is_relative_to(root)
    except (OSError, ValueError):
        return False


def _tear(path: object) -> None:
    """Cut a just-written file to half its length, as a kill during its write would leave it."""
    target = Path(os.fspath(path))  # type: ignore[arg-type]
    size = target.stat().st_size
    with open(target, "r+b") as handle:
        handle.truncate(size // 2)


class _Killer:
    """Counts write events under ``root``; at event ``kill_at`` ends the process with SIGKILL."""

    def __init__(self, root: Path, kill_at: int | None, torn: bool) -> None:
        self.root, self.kill_at, self.torn = root, kill_at, torn
        self.events = 0
        self.log: list[str] = []

    def _event(self, what: str) -> bool:
        self.events += 1
        self.log.append(what.replace(str(self.root), "<run>"))
        return self.kill_at is not None and self.events == self.kill_at

    @staticmethod
    def die() -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    def install(self) -> None:
        import torch
        import transformers.modeling_utils as modeling_utils

        from tinyreason import artifacts

        killer = self

        def saver(original, name):  # torch.save(obj, f) / safe_save_file(tensors, filename)
            def wrapped(obj, path, *args, **kwargs):
                if not _under(path, killer.root) or not killer._event(f"{name} {path}"):
                    return original(obj, path, *args, **kwargs)
                if killer.torn:
                    original(obj, path, *args, **kwargs)
                    _tear(path)
                killer.die()

            return wrapped

        torch.save = saver(torch.save, "torch.save")
        modeling_utils.safe_save_file = saver(modeling_utils.safe_save_file, "safe_save_file")

        fsync_file = artifacts._fsync_file

        def fsync(path):
            if _under(path, killer.root) and killer._event(f"fsync {path}"):
                killer.die()  # a whole file before its rename, or a file a seal is hashing
            return fsync_file(path)

        artifacts._fsync_file = fsync

        real_open = builtins.open

        def opener(file, mode="r", *args, **kwargs):
            writing = any(c in mode for c in "wax+")
            if not (writing and _under(file, killer.root)) or not killer._event(f"open {file}"):
                return real_open(file, mode, *args, **kwargs)
            if not killer.torn:
                killer.die()
            handle = real_open(file, mode, *args, **kwargs)

            class Torn:
                def __getattr__(self, name):
                    return getattr(handle, name)

                def __enter__(self):
                    return self

                def __exit__(self, *exc):
                    handle.close()

                def write(self, data):
                    handle.write(data[: max(1, len(data) // 2)])
                    handle.flush()
                    killer.die()

            return Torn()

        builtins.open = opener


def _train(spec: dict, out: Path, resume: object, killer: _Killer | None) -> dict:
    from datasets import load_from_disk

    import tinyreason as tr

    if killer is not None:
        killer.install()
    trainer = tr.trainer(
        "full",
        base=spec["base"],
        output_dir=str(out),
        resume_from_checkpoint=resume,
        **spec["options"],
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        student = trainer.train(load_from_disk(spec["data"]))
    return {
        "metrics": dict(student.metrics),
        "warnings": [
            f"{w.category.__name__}: {w.message}"
            for w in caught
            if issubclass(w.category, tr.TinyReasonError)
        ],
    }


def _child(spec: dict, name: str, job) -> int:
    """Run ``job`` in a forked child with its output in ``name``.log; the child's exit status."""
    root = Path(spec["root"])
    pid = os.fork()
    if pid == 0:  # the child: never returns
        log = os.open(root / f"{name}.log", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(log, 1)
        os.dup2(log, 2)
        code = 0
        try:
            result = job()
            (root / f"{name}.json").write_text(json.dumps(result, default=str))
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return -os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def main() -> None:
    spec = json.loads(Path(sys.argv[1]).read_text())
    root = Path(spec["root"]).resolve()
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import datasets  # noqa: F401  (imported once here, before the forks)
    import torch
    import transformers  # noqa: F401
    import trl  # noqa: F401

    import tinyreason as tr  # noqa: F401

    # One thread everywhere: the reference and the resumed runs then reduce in the same order.
    torch.set_num_threads(1)
    summary: dict = {"seeds": {}}

    def counted(out: Path, kill_at: int | None, torn: bool):
        def job() -> dict:
            killer = _Killer(out.resolve(), kill_at, torn)
            result = _train(spec, out, None, killer)
            return {**result, "events": killer.events, "log": killer.log}

        return job

    summary["reference"] = _child(spec, "reference", counted(root / "reference", None, False))
    reference = json.loads((root / "reference.json").read_text())
    events = reference["events"]
    summary["events"] = events
    for seed in spec["seeds"]:
        out = root / f"seed-{seed}"
        kill_at = 1 + random.Random(seed).randrange(events)
        torn = seed % 2 == 1
        status = _child(spec, f"seed-{seed}-killed", counted(out, kill_at, torn))
        shutil.copytree(out, root / f"seed-{seed}-after-kill", symlinks=True)
        resumed = _child(
            spec, f"seed-{seed}-resumed", lambda out=out: _train(spec, out, "auto", None)
        )
        summary["seeds"][str(seed)] = {
            "kill_at": kill_at,
            "at": reference["log"][kill_at - 1],
            "torn": torn,
            "killed": status,
            "resumed": resumed,
        }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
