"""SIGKILL an evaluation twice per seed; the rerun generates only what was not committed.

Each run is a subprocess evaluating six problems at two budgets with three samples, in groups of
two (six scaler calls), into one run_dir, through a fake backend whose samples depend on the seed
and each prompt's place in the call. The backend announces its Nth call on stdout and waits; the
parent kills it there (N drawn from a seeded RNG: a point decided by an event, never a clock), so
exactly N - 1 groups of that run are committed. A final run in this process finishes the job: it
generates exactly the units (problem, budget) no run committed, and its report equals the report
of a run never interrupted.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from seeded_backend import SETTINGS, SeededBackend, problems

import tinyreason as tr
from tinyreason import artifacts
from tinyreason.errors import ArtifactError
from tinyreason.evaluation.run_dir import KIND, VERSION

N = 6
UNITS = N * len(SETTINGS["budgets"])
GROUP = SETTINGS["commit_every"]
HERE = Path(__file__).resolve().parent

SCRIPT = textwrap.dedent(
    f"""
    import sys
    sys.path.insert(0, {str(HERE)!r})
    import tinyreason as tr
    from seeded_backend import SETTINGS, SeededBackend, problems

    run_dir, pause_at = sys.argv[1], int(sys.argv[2])
    tr.evaluate(SeededBackend(pause_at=pause_at), problems({N}), run_dir=run_dir, **SETTINGS)
    print("finished", flush=True)
    """
)


def _committed(folder: Path) -> int:
    """Lines of results.jsonl that are whole JSON (a kill between calls tears none)."""
    results = folder / "results.jsonl"
    if not results.exists():
        return 0
    text = results.read_text()
    assert text == "" or text.endswith("\n")
    return sum(1 for line in text.splitlines() if json.loads(line))


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> tr.Report:
    folder = tmp_path_factory.mktemp("uninterrupted") / "run"
    return tr.evaluate(SeededBackend(), problems(N), run_dir=folder, **SETTINGS)


@pytest.mark.parametrize("seed", [0, 2, 4])  # kills leave 8, 0 and 6 of 12 units committed
def test_sigkill_twice_then_rerun_equals_an_uninterrupted_run(
    tmp_path: Path, seed: int, uninterrupted: tr.Report
) -> None:
    script, folder = tmp_path / "evaluate.py", tmp_path / "run"
    script.write_text(SCRIPT)
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    rng = random.Random(seed)
    for _ in range(2):
        before = _committed(folder)
        calls_left = (UNITS - before) // GROUP
        pause_at = rng.randint(1, calls_left)
        proc = subprocess.Popen(
            [sys.executable, str(script), str(folder), str(pause_at)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            said = proc.stdout.readline()  # type: ignore[union-attr]
            assert said == f"generating {pause_at}\n", proc.stderr.read()  # type: ignore[union-attr]
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            proc.stdin.close()  # type: ignore[union-attr]
            proc.stdout.close()  # type: ignore[union-attr]
            proc.stderr.close()  # type: ignore[union-attr]
        assert proc.returncode == -signal.SIGKILL
        # This run committed exactly the groups it finished before the call it was killed in.
        assert _committed(folder) == before + GROUP * (pause_at - 1)
        manifest = artifacts.read_manifest(folder)
        assert manifest is not None and manifest.kind == KIND and not manifest.complete
        with pytest.raises(ArtifactError, match="did not finish"):
            tr.Report.load(folder)

    committed = _committed(folder)
    backend = SeededBackend()
    report = tr.evaluate(backend, problems(N), run_dir=folder, **SETTINGS)
    # Only the units no run committed were generated again, each once.
    assert len(backend.prompts) == UNITS - committed
    assert report == uninterrupted
    assert report.to_dict() == uninterrupted.to_dict()
    assert report.rows.to_list() == uninterrupted.rows.to_list()
    # The finished folder is sealed whole, and its report reads back equal.
    artifacts.verify(folder, KIND, VERSION, rebuild="rerun")
    assert tr.Report.load(folder) == uninterrupted
    assert _committed(folder) == UNITS
