import json
import subprocess
import sys

import numpy as np
import pytest
from datasets import Dataset

import tinyreason as tr
from tinyreason.selection import Selection, s1_include_first

SOLVERS = ["local:qwen-7b", "local:qwen-32b"]


def _pool(n=400, seed=0):
    """A small featurised pool with every column s1's pipeline reads (judgments stored)."""
    rng = np.random.default_rng(seed)
    sources = ["qq8933/AIME_1983_2024", "Idavidrein/gpqa", "qfq/openaimath", "numina"]
    domains = ["Number theory", "Geometry", "Combinatorics", "Algebraic geometry", "Real functions"]
    questions, errors, judgments = [], [], []
    for i in range(n):
        question = f"Find the value of expression number {i % 170}?"  # repeats: for dedup
        if i % 50 == 7:
            question = "Look at [asy] draw(); [/asy] " + question
        questions.append(question)
        errors.append("HTTP 500" if i % 40 == 3 else None)
        judgments.append(
            [
                {"solver": s, "judge": "math-verify", "answer": "0", "extracted": "0",
                 "correct": bool(rng.random() < p)}
                for s, p in zip(SOLVERS, (0.3, 0.5), strict=True)
            ]
        )  # fmt: skip
    return Dataset.from_dict(
        {
            "id": [f"r{i}" for i in range(n)],
            "question": questions,
            "answer": ["1"] * n,
            "thinking_trajectories": [["Thinking."] for _ in range(n)],
            "attempt": ["Answer: 1"] * n,
            "finish_reason": ["stop"] * n,
            "error": errors,
            "source_type": [sources[i % 4] for i in range(n)],
            "domain": [domains[i % 5] for i in range(n)],
            "trace_tokens": rng.integers(200, 9000, size=n).tolist(),
            "teacher_correct": (rng.random(n) < 0.5).tolist(),
            "difficulty_judgments": judgments,
        }
    )


def _pipeline(k=40, seed=0):
    return (
        tr.selector("decontaminate", benchmarks={"bench": ["Find the value of expression "
                                                           "number 5?"]})
        >> tr.selector("dedup")
        >> tr.selector("quality")
        >> tr.selector("difficulty", solvers=SOLVERS, progress=False)
        >> tr.selector("diversity", k=k, seed=seed, domain_column="domain",
                       include_first=s1_include_first(), switch_after=30)
    )  # fmt: skip


def test_the_whole_s1_pipeline_audits_every_row_once():
    pool = _pool()
    sel = _pipeline().select(pool)
    assert len(sel.kept) == 40
    assert [s.name for s in sel.stages] == [
        "decontaminate", "dedup", "quality", "difficulty", "diversity"
    ]  # fmt: skip
    for before, after in zip(sel.stages, sel.stages[1:], strict=False):
        assert before.rows_out == after.rows_in
    dropped = list(sel.dropped["id"])
    assert len(dropped) == len(set(dropped))
    assert sorted(dropped + list(sel.kept["id"])) == sorted(pool["id"])
    reasons = sel.reasons()
    clean = [q for q in pool["question"] if q != "Find the value of expression number 5?"]
    assert reasons[("decontaminate", "contaminated:bench")] == 400 - len(clean) == 3
    assert reasons[("dedup", "duplicate")] == len(clean) - len(set(clean))
    assert ("quality", "api_error") in reasons and ("quality", "format:asymptote") in reasons
    assert any(r.startswith("solved:") for s, r in reasons if s == "difficulty")
    assert set(sel.dropped["stage"]) == {s.name for s in sel.stages}
    again = _pipeline().select(pool)
    other = _pipeline(seed=1).select(pool)
    assert list(again.kept["id"]) == list(sel.kept["id"])
    assert list(other.kept["id"]) != list(sel.kept["id"])


def test_summary_is_json_friendly_with_domains_and_lengths():
    sel = _pipeline().select(_pool())
    summary = json.loads(json.dumps(sel.summary()))
    assert summary["kept"] == 40
    assert summary["domain_column"] == "domain"
    assert sum(summary["domains"].values()) == 40
    assert summary["lengths"]["count"] == 40
    assert sum(summary["lengths"]["histogram"]["counts"]) == 40
    assert summary["stages"][-1]["name"] == "diversity"
    assert summary["stages"][-1]["length"] == "trace_tokens"
    assert summary["stages"][3]["solvers"] == SOLVERS
    assert sel.domains() == {k: v for k, v in summary["domains"].items()}
    assert len(sel.lengths()) == 40


def test_plot_save_and_load(tmp_path):
    sel = _pipeline().select(_pool())
    figure = sel.plot()
    assert len(figure.axes) == 3
    png = sel.plot(tmp_path / "plots" / "selection.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
    folder = sel.save(tmp_path / "run")
    for name in ("kept", "dropped.parquet", "selection.json", "selection.png"):
        assert (folder / name).exists(), name
    loaded = Selection.load(folder)
    assert list(loaded.kept["id"]) == list(sel.kept["id"])
    assert loaded.reasons() == sel.reasons()
    assert loaded.stages == sel.stages
    assert list(loaded.dropped["detail"]) == list(sel.dropped["detail"])
    with pytest.raises(tr.DataError, match="holds no saved Selection"):
        Selection.load(tmp_path / "nothing")
    # A selection that dropped nothing writes an empty audit table, and still loads.
    nothing_dropped = tr.select(sel.kept, tr.selector("dedup")).save(tmp_path / "all", plot=False)
    again = Selection.load(nothing_dropped)
    assert len(again.kept) == len(sel.kept) and len(again.dropped) == 0


def test_new_selectors_are_registered_and_compose():
    names = tr.available("selector")
    for name in ("quality", "diversity", "difficulty", "embedding-diversity", "decontaminate",
                 "dedup"):  # fmt: skip
        assert name in names
        assert isinstance(tr.selector(name, **_minimal(name)), tr.Selector)
    chain = tr.selector("dedup") >> tr.selector("quality") >> tr.selector("diversity", k=5)
    assert [type(s).__name__ for s in chain.selectors] == [
        "DedupSelector", "QualitySelector", "DiversitySelector"
    ]  # fmt: skip


def _minimal(name):
    return {"difficulty": {"solvers": ["x"]}, "decontaminate": {"benchmarks": {"b": ["q"]}}}.get(
        name, {}
    )


def test_importing_selection_stays_light():
    code = (
        "import sys, tinyreason, tinyreason.selection as s; s.__dir__();"
        "print([m for m in ('numpy', 'datasets', 'sentence_transformers', 'matplotlib') "
        "if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "sentence_transformers" not in out.stdout and "datasets" not in out.stdout
