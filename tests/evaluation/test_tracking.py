"""tr.evaluate logs its per-budget numbers, s1's metrics and its plot to tensorboard (read back with
tensorboard's own EventAccumulator); tracker mistakes are refused before any generation."""

import pytest
from seeded_backend import SETTINGS, SeededBackend, problems
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import tinyreason as tr
from tinyreason.evaluation import tracking
from tinyreason.evaluation.report import Report


def _events(folder):
    acc = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def _series(acc, tag):
    return [(e.step, e.value) for e in acc.Scalars(tag)]


def test_evaluate_logs_each_budget_and_the_plot_to_tensorboard(tmp_path):
    logs = tmp_path / "tb" / "eval"
    backend = SeededBackend()
    report = tr.evaluate(
        backend,
        problems(4),
        **SETTINGS,
        report_to="tensorboard",
        logging_dir=logs,
        run_name="tiny-eval",
    )
    acc = _events(logs)
    tag = f"eval/{report.benchmark}"
    table = report.table()
    budgets = [row["budget"] for row in table]
    assert budgets == [6, 12]
    # Every number of every table row, at step = the budget, as the report has it.
    for key in ("accuracy", "sample_accuracy", "pass@1", "pass@2", "maj@3", "thinking_tokens"):
        assert _series(acc, f"{tag}/{key}") == [
            (b, pytest.approx(row[key])) for b, row in zip(budgets, table, strict=True)
        ], key
    assert _series(acc, f"{tag}/ci95_low") == [
        (b, pytest.approx(row["ci95"][0])) for b, row in zip(budgets, table, strict=True)
    ]
    # The scaling curve in the tracker's own chart: accuracy at step = mean thinking tokens.
    assert _series(acc, f"{tag}/accuracy_vs_thinking_tokens") == [
        (round(row["thinking_tokens"]), pytest.approx(row["accuracy"])) for row in table
    ]
    assert _series(acc, f"{tag}/performance") == [(0, pytest.approx(report.metrics.performance))]
    assert _series(acc, f"{tag}/control") == [(0, pytest.approx(report.metrics.control))]
    # The plot, as a PNG image, and the text table.
    (image,) = acc.Images(f"{tag}/scaling")
    assert image.encoded_image_string[:8] == b"\x89PNG\r\n\x1a\n" and image.width > 100
    text = acc.Tensors(f"{tag}/report/text_summary")[0].tensor_proto.string_val[0].decode()
    assert "tiny-eval" in text and "budget=12" in text


def test_a_saved_report_logs_the_same_numbers(tmp_path):
    report = tr.evaluate(SeededBackend(), problems(4), **SETTINGS)
    loaded = Report.load(report.save(tmp_path / "report"))
    where = tracking.log_report(loaded, "tensorboard", logging_dir=tmp_path / "tb")
    assert where == {"tensorboard": str(tmp_path / "tb")}
    acc = _events(tmp_path / "tb")
    tag = f"eval/{report.benchmark}"
    assert [v for _, v in _series(acc, f"{tag}/accuracy")] == [
        pytest.approx(row["accuracy"]) for row in report.table()
    ]


def test_without_numeric_budgets_the_steps_are_the_settings_order():
    report = tr.evaluate(SeededBackend(), problems(4), budgets=[None, 6], progress=False)
    steps = [step for step, _ in tracking.report_scalars(report)]
    assert steps == [0, 1]
    _, values = tracking.report_scalars(report)[1]
    assert values[f"eval/{report.benchmark}/budget"] == 6.0


def test_tracker_mistakes_are_refused_before_any_generation(monkeypatch, tmp_path):
    backend = SeededBackend()
    with pytest.raises(tr.ConfigError, match=r"did you mean 'tensorboard'\?"):
        tr.evaluate(backend, problems(2), report_to="tensorbord", progress=False)
    with pytest.raises(tr.ConfigError, match="add report_to='tensorboard'"):
        tr.evaluate(backend, problems(2), logging_dir=tmp_path, progress=False)
    with pytest.raises(tr.ConfigError, match="report_to must be"):
        tr.evaluate(backend, problems(2), report_to=3, progress=False)
    # A tracker that is not installed is named with its install command.
    monkeypatch.setitem(tracking._MODULES, "wandb", "no_such_module_for_this_test")
    with pytest.raises(tr.ConfigError, match="'wandb' is not installed: pip install wandb"):
        tr.evaluate(backend, problems(2), report_to=["tensorboard", "wandb"], progress=False)
    assert backend.calls == 0 and not list(tmp_path.iterdir())
    # "all" is every tracker installed; "none" and None are none.
    assert "wandb" not in tracking.tracker_names("all")
    assert "tensorboard" in tracking.tracker_names("all")
    assert tracking.tracker_names("none") == tracking.tracker_names(None) == []


def test_a_tracker_failing_after_the_run_does_not_lose_the_report(monkeypatch, tmp_path):
    def down(report, logging_dir, run_name):
        raise ConnectionError("tracker server down, token sk-abcdefghijklmnop")

    monkeypatch.setattr(tracking, "_tensorboard", down)
    with pytest.warns(tracking.TrackerWarning, match="log it again") as caught:
        report = tr.evaluate(
            SeededBackend(), problems(2), **SETTINGS, report_to="tensorboard", logging_dir=tmp_path
        )
    assert report.table()[0]["problems"] == 2
    assert "sk-abcdefghijklmnop" not in str(caught[0].message)  # scrubbed like every message
    with pytest.raises(ConnectionError):  # log_report itself raises unless told not to
        tracking.log_report(report, "tensorboard", logging_dir=tmp_path)
