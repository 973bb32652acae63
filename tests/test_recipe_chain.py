"""A recipe file runs the whole demo through the CLI, stage by stage, and every stage resumes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinyreason import artifacts

pytestmark = pytest.mark.slow  # four subprocesses and a tiny training: about 30 s on 2 cores

RECIPE = """\
distil:
  problems: {benchmark: arithmetic, n: 60, seed: 0}
  teacher: {name: arithmetic, error_rate: 0.05, seed: 0}
  cache: run/cache.sqlite
  output: run/traces
select:
  traces: run/traces
  selectors:
    - {name: quality, require_correct: true}
    - {name: diversity, k: 24, seed: 0, tokenizer: {object: "tinyreason.demo.task:count_tokens"}}
  output: run/selection
  plot: false
train:
  data: run/selection
  base: {call: "tinyreason.demo.model:build_student", path: run/base, seed: 0, hidden_size: 32,
         num_layers: 1}
  trainer:
    name: full
    format: {chat_format: think-tags, answer_separator: "\\n"}
    max_steps: 3
    batch_size: 8
    per_device_batch_size: 8
    learning_rate: 0.003
    logging_steps: 1
    save_steps: 1
    report_to: tensorboard
  output: run/student
evaluate:
  model: run/student
  benchmarks: [{benchmark: arithmetic, n: 6}]
  scaler: {name: budget-forcing, final_answer_text: null, max_answer_tokens: 4}
  budgets: [0, 16]
  commit_every: 2
  output: run/eval
"""


def stage(folder: Path, *args: str, config: str = "r.yaml") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TQDM_DISABLE": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "tinyreason", *args, "--config", config],
        capture_output=True,
        text=True,
        cwd=folder,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return done


def test_the_demo_recipe_runs_stage_by_stage_and_each_stage_resumes(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(RECIPE)
    run = tmp_path / "run"
    assert "requests   60" in stage(tmp_path, "distil").stdout
    stage(tmp_path, "select")
    trained = stage(tmp_path, "train")
    metrics = json.loads(trained.stdout.strip().splitlines()[-1])["metrics"]
    assert metrics["steps"] == 3
    stage(tmp_path, "evaluate")

    # Every stage's folder is whole and verifies.
    artifacts.verify(run / "traces", "traces", 1, rebuild="x")
    artifacts.verify(run / "selection", "selection", 1, rebuild="x")
    artifacts.verify(run / "student", "trained-student", 1, rebuild="x")
    artifacts.verify(run / "eval" / "arithmetic", "evaluation-run", 1, rebuild="x")
    from huggingface_hub import ModelCard

    assert list((run / "student").glob("runs/*/events.out.tfevents.*")), "no tensorboard logs"
    card = ModelCard((run / "student" / "README.md").read_text())
    assert card.data.library_name == "transformers"
    from tinyreason.evaluation.report import Report

    report = Report.load(run / "eval" / "arithmetic")
    assert [row["budget"] for row in report.table()] == [0, 16]

    # Run again, each stage resumes: the teacher is asked nothing, the evaluation generates
    # nothing (its results log does not grow), training continues from its verified checkpoint.
    assert "requests   0" in stage(tmp_path, "distil").stdout
    results = (run / "eval" / "arithmetic" / "results.jsonl").read_bytes()
    stage(tmp_path, "evaluate")
    assert (run / "eval" / "arithmetic" / "results.jsonl").read_bytes() == results
    assert Report.load(run / "eval" / "arithmetic").table() == report.table()
    resumed = stage(tmp_path, "train", "--resume", "auto")
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["metrics"]["resumed_from_step"] == 3

    # The same student, several methods compared from the command line (s1's Table 3).
    methods = '{"forcing": ["budget-forcing", [0, 16]], "tcc": ["token-conditional", [16]]}'
    compared = stage(
        tmp_path, "evaluate", "--methods", methods, "--output", "run/compare", "--budgets", "null"
    )
    assert "forcing" in compared.stdout and "tcc" in compared.stdout
    table = json.loads((run / "compare" / "arithmetic.comparison.json").read_text())
    assert table and (run / "compare" / "arithmetic.comparison.png").stat().st_size > 0
