"""The ``tinyreason`` command, run as a user runs it: subprocesses, recipe files, exit codes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tinyreason import artifacts
from tinyreason.cli.recipes import Recipe, shipped, shipped_text
from tinyreason.errors import ConfigError


def tinyreason(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "tinyreason", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=600,
    )


RECIPE = """\
distil:
  problems: {benchmark: arithmetic, n: 40, seed: 0}
  teacher: {name: arithmetic, error_rate: 0.1, seed: 0}
  cache: run/cache.sqlite
  output: run/traces
select:
  traces: run/traces
  selectors:
    - {name: quality, require_correct: true}
    - {name: diversity, k: 12, seed: 0, tokenizer: {object: "tinyreason.demo.task:count_tokens"}}
  output: run/selection
  plot: false
"""


def test_version_help_and_recipes(tmp_path: Path) -> None:
    assert tinyreason("--version", cwd=tmp_path).stdout.startswith("tinyreason ")
    for command in ("distil", "select", "evaluate", "train", "recipe", "demo"):
        done = tinyreason(command, "--help", cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert f"  tinyreason {command} " in done.stdout, command
    listed = tinyreason("recipe", "list", cwd=tmp_path).stdout
    assert {"s1", "s1.1", "demo", "small-gpu-lora"} <= {
        line.split()[0] for line in listed.splitlines()
    }
    shown = tinyreason("recipe", "show", "s1", cwd=tmp_path).stdout
    assert shown == shipped_text("s1")


@pytest.mark.parametrize("name", sorted(shipped()))
def test_every_shipped_recipe_checks_with_its_plugins(name: str) -> None:
    recipe = Recipe.load(name)
    recipe.check_plugins()
    assert recipe.sections


def test_distil_then_select_from_a_recipe_and_rerun_resumes(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(RECIPE)
    first = tinyreason("distil", "--config", "r.yaml", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "requests   40" in first.stdout
    traces = tmp_path / "run" / "traces"
    assert artifacts.verify(traces, "traces", 1, rebuild="x").meta == {"rows": 40}
    # Killed or not, a rerun asks nothing again: every reply is in the cache.
    again = tinyreason("distil", "--config", "r.yaml", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "requests   0" in again.stdout
    chosen = tinyreason("select", "--config", "r.yaml", "--selectors.1.k", "5", cwd=tmp_path)
    assert chosen.returncode == 0, chosen.stderr
    from tinyreason.selection.base import Selection

    selection = Selection.load(tmp_path / "run" / "selection")
    assert len(selection.kept) == 5 and [s.name for s in selection.stages] == [
        "quality",
        "diversity",
    ]


def test_errors_are_one_line_name_the_file_and_key_and_exit_non_zero(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(RECIPE.replace("output: run/selection", "ouput: x"))
    done = tinyreason("select", "--config", "r.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "r.yaml: select.ouput is not a key of select (did you mean 'output'?)" in done.stderr
    debug = tinyreason("select", "--config", "r.yaml", "--debug", cwd=tmp_path)
    assert debug.returncode != 0 and "Traceback" in debug.stderr


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--distil.teacher.error_rate", "lots"], "error_rate must be a number"),
        (["--distil.teacher.name", "gemni"], "did you mean 'gemini'"),
        (["--distil.limit", "ten"], "distil.limit must be a whole number or None"),
        (["--distil.nope", "1"], "distil.nope is not a key of distil"),
        (["--teacher", "x"], "unknown teacher 'x'"),  # under distil, --teacher is distil.teacher
        (["stray"], "unknown argument 'stray'"),
    ],
)
def test_a_wrong_override_is_caught_before_anything_runs(
    tmp_path: Path, args: list[str], says: str
) -> None:
    (tmp_path / "r.yaml").write_text(RECIPE)
    done = tinyreason("distil", "--config", "r.yaml", *args, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert says in done.stderr
    assert not (tmp_path / "run").exists()  # nothing ran, nothing was written


def test_a_folder_the_user_owns_is_refused_before_any_request(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(RECIPE)
    mine = tmp_path / "run" / "traces"
    mine.mkdir(parents=True)
    (mine / "thesis.tex").write_text("do not touch")
    before = hashlib.sha256((mine / "thesis.tex").read_bytes()).hexdigest()
    done = tinyreason("distil", "--config", "r.yaml", cwd=tmp_path)
    assert done.returncode == 2 and "--overwrite" in done.stderr
    assert not (tmp_path / "run" / "cache.sqlite").exists()  # no teacher call was made
    assert sorted(p.name for p in mine.iterdir()) == ["thesis.tex"]
    assert hashlib.sha256((mine / "thesis.tex").read_bytes()).hexdigest() == before


def test_a_recipe_is_checked_whole_not_first_error_only() -> None:
    text = textwrap.dedent(
        """
        distil: {problems: p.jsonl, teacher: arithmetic, output: o, limit: -x}
        selekt: {}
        train: {data: d, base: b, resume: 3}
        """
    )
    with pytest.raises(ConfigError) as err:
        Recipe.from_text(text, "r.yaml")
    joined = "\n".join(err.value.problems)
    assert "'selekt' is not a section (did you mean 'select'?)" in joined
    assert "distil.limit" in joined and "train.resume" in joined
    assert all(p.startswith("r.yaml") for p in err.value.problems)


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text("distil:\n  problems: [a, b\n  teacher: x\n")
    with pytest.raises(ConfigError, match=r"r\.yaml line \d+ is not valid YAML"):
        Recipe.load(tmp_path / "r.yaml")
