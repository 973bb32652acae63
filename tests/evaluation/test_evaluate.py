"""tr.evaluate over a scripted backend: every number in the report can be worked out by hand."""

import json
import math
from dataclasses import dataclass, field

import pytest

import tinyreason as tr
from tinyreason.evaluation.metrics import bootstrap_interval, s1_metrics


@dataclass
class ScriptedBackend:
    """Problem i needs ``need[question]`` thinking tokens; with fewer it answers wrong."""

    need: dict
    format: object = field(default_factory=lambda: tr.student("think-tags"))
    calls: list = field(default_factory=list)

    def prompt(self, question):
        return question

    def generate(
        self, prompts, *, n=1, temperature=0.0, max_new_tokens=1024, control=None, seed=None
    ):
        self.calls.append((list(prompts), n, control))
        out = []
        for q in prompts:
            need, answer = self.need[q]
            cap = control.max_thinking if control and control.max_thinking is not None else 10**9
            used = min(cap, need)
            ok = used >= need
            text_answer = answer if ok else "0"
            gens = []
            for i in range(n):
                # With several samples, a third of them go wrong: voting should still win.
                reply = text_answer if (i % 3 != 2) else "999"
                gens.append(
                    tr.Generation(
                        text=f"{'x' * used}</think>\\boxed{{{reply}}}",
                        thinking="x" * used,
                        answer_text=f"\\boxed{{{reply}}}",
                        thinking_tokens=used,
                        answer_tokens=3,
                        forced_end=used < need,
                    )
                )
            out.append(gens)
        return out


PROBLEMS = [tr.Problem(f"p{i}", f"q{i}", answer=str(i + 1)) for i in range(4)]
NEED = {f"q{i}": (10 * (i + 1), str(i + 1)) for i in range(4)}  # needs 10, 20, 30, 40 tokens


def test_budget_sweep_table_metrics_and_rows():
    backend = ScriptedBackend(NEED)
    report = tr.evaluate(backend, PROBLEMS, budgets=[0, 20, 40], progress=False)
    table = report.table()
    assert [r["accuracy"] for r in table] == [0.0, 50.0, 100.0]
    assert [r["thinking_tokens"] for r in table] == [0.0, (10 + 20 + 20 + 20) / 4, 25.0]
    assert [c.max_thinking for _, _, c in backend.calls] == [0, 20, 40]
    m = report.metrics
    assert m.control == 1.0 and m.performance == 100.0
    assert m.scaling == pytest.approx(s1_metrics([0, 17.5, 25], [0, 50, 100]).scaling)
    rows = report.rows
    assert len(rows) == 12 and rows.column_names[:3] == ["setting", "budget", "problem_id"]
    assert sum(rows["correct"]) == 0 + 2 + 4
    text = repr(report)
    assert "budget=20" in text and "Control 100%" in text
    assert "<table>" in report._repr_html_()


def test_majority_vote_reports_the_vote_and_single_sample_accuracy():
    vote = tr.scaler("majority-vote", n=3, inner=tr.scaler("budget-forcing"))
    report = tr.evaluate(ScriptedBackend(NEED), PROBLEMS, scaler=vote, budgets=[40], progress=False)
    row = report.table()[0]
    assert row["accuracy"] == 100.0  # 2 of 3 samples right on every problem
    assert row["sample_accuracy"] == pytest.approx(100 * 2 / 3, abs=0.01)
    votes = json.loads(report.rows["votes"][0])
    assert votes == {"1": pytest.approx(2 / 3), "999": pytest.approx(1 / 3)}


def test_report_saves_json_rows_and_a_png(tmp_path):
    report = tr.evaluate(ScriptedBackend(NEED), PROBLEMS, budgets=[10, 40], progress=False)
    folder = report.save(tmp_path / "r")
    saved = json.loads((folder / "report.json").read_text())
    assert saved["metrics"]["performance"] == 100.0
    assert saved["manifest"]["budgets"] == [10, 40] and saved["manifest"]["problems"] == 4
    assert (folder / "scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len((folder / "rows.jsonl").read_text().splitlines()) == 8


def test_bad_evaluation_input_is_explained():
    backend = ScriptedBackend(NEED)
    with pytest.raises(tr.DataError, match="no reference answer"):
        tr.evaluate(backend, [tr.Problem("x", "q0")], progress=False)
    with pytest.raises(tr.DataError, match="empty"):
        tr.evaluate(backend, [], progress=False)
    with pytest.raises(tr.ConfigError, match="budgets is empty"):
        tr.evaluate(backend, PROBLEMS, budgets=[], progress=False)
    with pytest.raises(tr.ConfigError, match="format="):
        tr.evaluate("some/model/path", PROBLEMS, progress=False)

    class NoBudget:
        def solve(self, backend, problems, *, seed=None):
            return []

    with pytest.raises(tr.ConfigError, match="no thinking budget"):
        tr.evaluate(backend, PROBLEMS, scaler=NoBudget(), budgets=[5], progress=False)


def test_s1_metrics_follow_the_paper():
    m = s1_metrics([100, 200, 400], [20.0, 30.0, 50.0], bounds=[(0, 100), (0, 150), (0, None)])
    assert m.control == pytest.approx(2 / 3)  # the middle setting overran its 150-token cap
    slopes = [(30 - 20) / 100, (50 - 20) / 300, (50 - 30) / 200]
    assert m.scaling == pytest.approx(sum(slopes) / 3)
    assert m.performance == 50.0
    assert math.isnan(s1_metrics([5], [10.0]).scaling)


def test_bootstrap_interval_brackets_the_mean_and_is_seeded():
    outcomes = [1.0] * 60 + [0.0] * 40
    lo, hi = bootstrap_interval(outcomes, seed=1)
    assert lo < 60 < hi and hi - lo < 25
    assert bootstrap_interval(outcomes, seed=1) == (lo, hi)
