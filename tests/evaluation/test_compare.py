"""``compare``: methods as named scalers, Table 3 from hand-computed cases, views, resume."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import tinyreason as tr
from tinyreason.evaluation.compare import compare, method_settings
from tinyreason.evaluation.compare_report import Comparison


@dataclass
class NeedBackend:
    """A fake student: a question ``"... needs N"`` is answered right iff it may think N tokens."""

    format: Any = field(default_factory=lambda: tr.chat_format("think-tags"))
    calls: int = 0

    def prompt(self, question: str) -> str:
        return question

    def describe(self) -> dict[str, Any]:
        return {"backend": "need-fake", "format": "think-tags"}

    def generate(self, prompts: list[str], **options: Any) -> list[list[tr.Generation]]:
        self.calls += 1
        control, n = options.get("control"), options.get("n", 1)
        cap = getattr(control, "max_thinking", None)
        cap = cap if isinstance(cap, int) else 10**6
        out = []
        for prompt in prompts:
            need = int(re.search(r"needs (\d+)", prompt).group(1))  # type: ignore[union-attr]
            used = min(cap, need)
            reply = "1" if used >= need else "0"
            g = tr.Generation(
                text=f"{'x' * used}</think>\\boxed{{{reply}}}",
                thinking="x" * used,
                answer_text=f"\\boxed{{{reply}}}",
                thinking_tokens=used,
                answer_tokens=3,
                forced_end=used < need,
            )
            out.append([g] * n)
        return out


class FirstTry:
    """A scaler with no budget to sweep: one greedy sample, its answer."""

    def solve(self, backend: Any, problems: Any, *, seed: int | None = None) -> Any:
        results = backend.generate([backend.prompt(p.question) for p in problems])
        return [
            tr.Solution(p.id, r[0].answer_text.strip("\\boxed{}"), (r[0],))
            for p, r in zip(problems, results, strict=True)
        ]


PROBLEMS = [tr.Problem(f"p{n}", f"question needs {n}", answer="1") for n in (4, 8, 12, 16)]


def test_table_3_by_hand() -> None:
    bf = tr.scaler("budget-forcing")
    comparison = compare(NeedBackend(), PROBLEMS, {"BF": bf}, budgets=[4, 8, 16], progress=False)
    [row] = comparison.table()
    # Budget 4: every problem thinks 4 (mean 4), only p4 is right (25%); budget 8: 4, 8, 8, 8
    # (mean 7), 50%; budget 16: 4, 8, 12, 16 (mean 10), 100%. The pairwise slopes: 25 / 3,
    # 75 / 6 and 50 / 3 points per token, 12.5 on average.
    assert row["thinking_tokens"] == [4.0, 7.0, 10.0]
    assert [s["accuracy"] for s in comparison.settings_table()] == [25.0, 50.0, 100.0]
    assert row["control"] == 100.0 and row["performance"] == 100.0
    assert math.isclose(row["scaling"], 12.5)
    assert row["performance_ci95"] == (100.0, 100.0)  # every problem right at the best
    lo, hi = comparison.settings_table()[1]["ci95"]
    assert lo < 50.0 < hi
    assert [s["setting"] for s in comparison.settings_table()] == [
        "4 tokens",
        "8 tokens",
        "16 tokens",
    ]
    assert "tries_per_kept" not in row  # budget forcing draws one sample, no tries


def test_methods_are_named_scalers_with_their_own_settings() -> None:
    backend = NeedBackend()
    methods = {
        "wide": ("budget-forcing", [8, 16]),  # a registered name
        "narrow": tr.scaler("budget-forcing"),  # the shared budgets
        "first": FirstTry(),  # any scaler; with no budget to set, it runs once, as given
    }
    comparison = compare(backend, PROBLEMS, methods, budgets=[4], progress=False)
    table = {r["method"]: r for r in comparison.table()}
    assert [table[m]["settings"] for m in methods] == [2, 1, 1]
    assert table["first"]["thinking_tokens"] == [10.0] and table["first"]["performance"] == 100
    labels = [(s["method"], s["setting"]) for s in comparison.settings_table()]
    assert labels == [
        ("wide", "8 tokens"),
        ("wide", "16 tokens"),
        ("narrow", "4 tokens"),
        ("first", "as given"),
    ]
    assert backend.calls == 4  # one call per (method, setting): every problem at once


def test_bad_methods_are_refused_with_every_problem_at_once() -> None:
    with pytest.raises(tr.ConfigError) as err:
        method_settings(
            {
                "a": (FirstTry(), [8]),
                "b": 42,
                "c": ("budget-forcing", "512"),
                "d": ("budget-forcing", []),
            },
            budgets=[8],
        )
    problems = "\n".join(err.value.problems)
    assert "'a': FirstTry has no with_budget()" in problems  # settings given to it: refused
    assert "'b' is a int, not a test-time scaler" in problems
    assert "'c': its settings must be a list" in problems
    assert "'d' has no settings" in problems
    with pytest.raises(tr.UnknownPluginError):
        method_settings({"x": "no-such-scaler"})
    with pytest.raises(tr.ConfigError, match="non-empty dict"):
        method_settings({})
    with pytest.raises(tr.ConfigError, match="no format="):
        compare("some/folder", PROBLEMS, {"BF": "budget-forcing"}, progress=False)


def test_views_plot_and_json(tmp_path: Path) -> None:
    methods = {"BF": "budget-forcing", "TCC": "token-conditional"}
    comparison = compare(NeedBackend(), PROBLEMS, methods, budgets=[4, 16], progress=False)
    text = repr(comparison)
    assert text.splitlines()[0] == "Comparison: custom (2 methods, seed 0)"
    assert re.search(r"^BF\s+100\.0%", text, re.M)
    # This fake ignores the request: TCC thinks 10 on average at 4 asked, so Control is 50%.
    assert re.search(r"^TCC\s+50\.0%", text, re.M)
    html = comparison._repr_html_()
    assert html.count("<tr>") == 3 and "TCC" in html
    json.dumps(comparison.to_dict())
    figure = comparison.plot(tmp_path / "methods.png")
    assert (tmp_path / "methods.png").stat().st_size > 0
    assert [t.get_text() for t in figure.axes[0].get_legend().get_texts()] == ["BF", "TCC"]
    rows = comparison.rows
    assert len(rows) == 2 * 2 * 4 and set(rows["method"]) == {"BF", "TCC"}
    assert rows.filter(lambda r: r["method"] == "TCC")["used"][:4] == [4.0, 8.0, 12.0, 16.0]


def test_run_dir_resumes_without_generating_again(tmp_path: Path) -> None:
    methods = {"BF": "budget-forcing", "CCC": ("class-conditional", ["short", "long"])}
    first = NeedBackend()
    before = compare(first, PROBLEMS, methods, budgets=[4, 8], run_dir=tmp_path, progress=False)
    assert first.calls == 4 and (tmp_path / "BF" / "4" / "report").is_dir()
    again = NeedBackend()
    after = compare(again, PROBLEMS, methods, budgets=[4, 8], run_dir=tmp_path, progress=False)
    assert again.calls == 0
    assert after.table() == before.table()
    assert isinstance(after, Comparison) and (tmp_path / "CCC" / "short").is_dir()
