"""Reading lm-eval's results files (no lm-eval needed: the files are written here by hand).

The end-to-end check, lm-eval writing the files that are read, is in tests/test_lm_eval.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import tinyreason as tr
from tinyreason.evaluation.report import Report, SettingResult
from tinyreason.lm_eval.results import LMEvalResults, read_results, side_by_side

DATE_OLD = "2026-01-01T10-00-00.000001"
DATE_NEW = "2026-02-01T10-00-00.000001"


def results_json(value: float) -> dict[str, Any]:
    return {
        "results": {
            "gsm8k": {
                "alias": "gsm8k",
                "exact_match,strict-match": value,
                "exact_match_stderr,strict-match": 0.1,
                "exact_match,flexible-extract": 0.75,
                "exact_match_stderr,flexible-extract": "N/A",
            },
            "arith": {"alias": "arith", "acc,none": 0.5, "acc_stderr,none": 0.25},
        },
        "higher_is_better": {"gsm8k": {"exact_match": True}, "arith": {"acc": True}},
        "n-samples": {"gsm8k": {"original": 1319, "effective": 4}, "arith": {"effective": 2}},
        "config": {"model": "tinyreason", "model_args": {"pretrained": "out/s1"}},
        "lm_eval_version": "0.4.11",
    }


def sample(doc_id: int, response: str, correct: float) -> dict[str, Any]:
    return {
        "doc_id": doc_id,
        "doc": {"question": f"q{doc_id}"},
        "target": "4",
        "arguments": {"gen_args_0": {"arg_0": f"Question: q{doc_id}\nAnswer:", "arg_1": {}}},
        "resps": [[response]],
        "filtered_resps": [response.strip()],
        "filter": "strict-match",
        "metrics": ["exact_match"],
        "exact_match": correct,
    }


@pytest.fixture
def output_path(tmp_path: Path) -> Path:
    """lm-eval's layout: <output_path>/<model>/results_<date>.json and samples beside it."""
    folder = tmp_path / "out__s1"
    folder.mkdir()
    (folder / f"results_{DATE_OLD}.json").write_text(json.dumps(results_json(0.0)))
    (folder / f"results_{DATE_NEW}.json").write_text(json.dumps(results_json(0.25)))
    rows = [sample(0, " 4", 1.0), sample(1, " 5", 0.0)]
    text = "\n".join(json.dumps(r) for r in rows) + "\n"
    (folder / f"samples_gsm8k_{DATE_NEW}.jsonl").write_text(text)
    (folder / f"samples_gsm8k_{DATE_OLD}.jsonl").write_text(json.dumps(sample(9, "x", 0.0)))
    return tmp_path


def test_a_folder_reads_its_newest_results_with_their_samples(output_path: Path) -> None:
    results = read_results(output_path)
    assert results.path is not None and results.path.name == f"results_{DATE_NEW}.json"
    assert results.model == "tinyreason" and results.lm_eval_version == "0.4.11"
    assert results.tasks == ["gsm8k", "arith"]
    assert results.score("gsm8k", "exact_match", "strict-match") == 0.25
    assert results.score("arith") == 0.5
    flexible = results._find("gsm8k", "exact_match", "flexible-extract")
    assert (flexible.value, flexible.stderr, flexible.samples) == (0.75, None, 4)
    [samples] = results.samples.values()
    assert [(s.doc_id, s.response, s.filtered) for s in samples] == [(0, " 4", "4"), (1, " 5", "5")]
    assert samples[0].prompt == "Question: q0\nAnswer:"
    assert samples[0].metrics == {"exact_match": 1.0}
    assert results.rows[1] | {} == {
        "task": "gsm8k",
        "doc_id": 1,
        "filter": "strict-match",
        "prompt": "Question: q1\nAnswer:",
        "target": "4",
        "response": " 5",
        "filtered": "5",
        "exact_match": 0.0,
    }


def test_a_results_file_reads_directly_and_its_table_is_in_percent(output_path: Path) -> None:
    results = read_results(output_path / "out__s1" / f"results_{DATE_OLD}.json")
    assert results.score("gsm8k", "exact_match", "strict-match") == 0.0
    assert [s.doc_id for s in results.samples["gsm8k"]] == [9]
    row = next(r for r in results.table() if r["filter"] == "strict-match")
    assert row | {} == {
        "source": "lm-eval",
        "model": "tinyreason",
        "task": "gsm8k",
        "metric": "exact_match",
        "filter": "strict-match",
        "value": 0.0,
        "stderr": 0.1,
        "accuracy": 0.0,
        "stderr_percent": 10.0,
        "problems": 4,
    }


def test_ambiguous_or_missing_scores_and_foreign_files_are_clear_errors(
    output_path: Path, tmp_path: Path
) -> None:
    results = read_results(output_path)
    with pytest.raises(tr.DataError, match=r"2 scores for task 'gsm8k'.*filter="):
        results.score("gsm8k")
    with pytest.raises(tr.DataError, match="no score for task 'mmlu'"):
        results.score("mmlu")
    foreign = tmp_path / "results_2026.json"
    foreign.write_text(json.dumps({"accuracy": 1}))
    with pytest.raises(tr.DataError, match="not an lm-eval results file"):
        read_results(foreign)
    with pytest.raises(tr.DataError, match=r"no lm-eval results_<date>\.json"):
        read_results(_empty(tmp_path))
    with pytest.raises(tr.DataError, match="does not exist"):
        read_results(tmp_path / "missing")


def _empty(tmp_path: Path) -> Path:
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


def test_older_sample_layouts_and_loglikelihood_responses_are_read() -> None:
    record = {
        "doc_id": 3,
        "target": 1,
        "arguments": [["Question: 2+3?\nAnswer:", " 5"], ["Question: 2+3?\nAnswer:", " 6"]],
        "resps": [[[-1.5, True]], [[-3.0, False]]],
        "filtered_resps": [[-1.5, True], [-3.0, False]],
        "filter": "none",
        "metrics": ["acc"],
        "acc": 1.0,
    }
    data = {"results": {"choice": {"acc,none": 1.0}}, "samples": {"choice": [record]}}
    [s] = LMEvalResults.from_dict(data).samples["choice"]
    assert s.prompt == "Question: 2+3?\nAnswer:"
    assert s.response == [-1.5, True]
    assert s.filtered == [[-1.5, True], [-3.0, False]]
    assert s.metrics == {"acc": 1.0}


def test_side_by_side_puts_a_report_and_lm_evals_scores_in_one_table(output_path: Path) -> None:
    problems = [tr.Problem("p1", "2+2?", "4"), tr.Problem("p2", "2+3?", "5")]
    gens = [tr.Generation("x", "", "4", 3, 1), tr.Generation("y", "", "6", 5, 1)]
    solutions = [tr.Solution("p1", "4", gens[:1]), tr.Solution("p2", "6", gens[1:])]
    setting = SettingResult(
        "budget=8", 8, (0, 8), problems, solutions, [True, False], [[True], [False]]
    )
    report = Report("arith", [setting])
    rows = side_by_side(report, read_results(output_path), metric="exact_match")
    assert [(r["source"], r["benchmark"], r["setting"], r["accuracy"]) for r in rows] == [
        ("tinyreason", "arith", "budget=8", 50.0),
        ("lm-eval", "gsm8k", "tinyreason (strict-match)", 25.0),
        ("lm-eval", "gsm8k", "tinyreason (flexible-extract)", 75.0),
    ]
    assert rows[0]["thinking_tokens"] == 4.0 and rows[1]["stderr"] == 10.0
    only = side_by_side(report, read_results(output_path), tasks=["arith"])
    assert [r["benchmark"] for r in only] == ["arith", "arith"]
