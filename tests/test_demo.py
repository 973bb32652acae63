"""The walking skeleton: every stage of the recipe, for real, at smoke-test size."""

import json

import pytest

from tinyreason.cli import main


@pytest.mark.slow
def test_quick_demo_runs_every_stage_and_writes_its_report(tmp_path, capsys):
    run_dir = tmp_path / "demo"
    assert main(["demo", "--quick", "--run-dir", str(run_dir)]) == 0
    out = capsys.readouterr().out
    for stage in ("[1/5] distil", "[2/5] select", "[3/5] train", "[4/5] budget", "[5/5] majority"):
        assert stage in out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["selection"]["kept"] == 80
    funnel = [s[0] for s in summary["selection"]["funnel"]]
    assert funnel == ["decontaminate", "quality", "diversity"]
    assert "Preflight:" in out  # the trainer's check is shown before training
    card = (run_dir / "student" / "README.md").read_text()
    assert "decontaminate 240->" in card and "loss_curve" not in card  # the funnel, no curve
    assert summary["training"]["steps"] == 30
    table = summary["budget_forcing"]["table"]
    assert [row["budget"] for row in table] == [0, 16, 64]
    # Budget forcing caps thinking exactly: no setting thinks more than its budget.
    assert all(row["thinking_tokens"] <= row["budget"] for row in table)
    assert table[0]["thinking_tokens"] == 0
    assert summary["majority_vote"]["table"][0]["samples"] == 4
    for name in (
        "report.md",
        "scaling.png",
        "student/tinyreason.json",
        "budget-forcing/rows.jsonl",
    ):
        assert (run_dir / name).exists(), name


def test_demo_rejects_a_selection_larger_than_the_pool(tmp_path):
    import tinyreason as tr
    from tinyreason.demo import DemoConfig, run_demo

    with pytest.raises(tr.ConfigError, match="cannot exceed the pool"):
        run_demo(DemoConfig(pool=10, k=20), run_dir=tmp_path)


def test_arithmetic_benchmark_checks_limit_like_every_benchmark():
    import tinyreason as tr

    assert len(tr.benchmark("arithmetic", n=20, limit=5).problems()) == 5
    for bad in (0, -1):
        with pytest.raises(tr.ConfigError, match="limit must be a whole number >= 1"):
            tr.benchmark("arithmetic", limit=bad)
    # A float is caught by the annotation check every getter runs, before the benchmark's own.
    with pytest.raises(tr.ConfigError, match="limit must be a whole number or None, got float"):
        tr.benchmark("arithmetic", limit=2.5)
