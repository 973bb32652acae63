"""tr.evaluate over a scripted backend: every number in the report can be worked out by hand."""

import json
import math
from dataclasses import dataclass, field

import pytest

import tinyreason as tr
from tinyreason.evaluation.metrics import bootstrap_interval, s1_metrics


def _cap(control):
    """The thinking cap a fake backend obeys: a number, else none ("auto" or None)."""
    cap = getattr(control, "max_thinking", None)
    return cap if isinstance(cap, int) else 10**9


@dataclass
class ScriptedBackend:
    """Problem i needs ``need[question]`` thinking tokens; with fewer it answers wrong."""

    need: dict
    format: object = field(default_factory=lambda: tr.chat_format("think-tags"))
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
            cap = _cap(control)
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
    # A cap the scaler sizes per prompt (s1's "auto") binds nothing that can be checked here.
    assert s1_metrics([5, 9], [10.0, 20.0], bounds=[(0, "auto"), (0, 8)]).control == 0.5


def test_bootstrap_interval_brackets_the_mean_and_is_seeded():
    outcomes = [1.0] * 60 + [0.0] * 40
    lo, hi = bootstrap_interval(outcomes, seed=1)
    assert lo < 60 < hi and hi - lo < 25
    assert bootstrap_interval(outcomes, seed=1) == (lo, hi)


# -- one pool of samples per budget: pass@k, maj@k ----------------------------------------------


@dataclass
class PoolBackend:
    """Sample i of question q answers ``replies[q][i]`` (None: it answers nothing)."""

    replies: dict
    thinking: int = 5
    format: object = field(default_factory=lambda: tr.chat_format("think-tags"))
    calls: list = field(default_factory=list)

    def prompt(self, question):
        return question

    def generate(
        self, prompts, *, n=1, temperature=0.0, max_new_tokens=1024, control=None, seed=None
    ):
        self.calls.append({"prompts": list(prompts), "n": n, "temperature": temperature})
        cap = _cap(control)
        used = min(cap, self.thinking)
        out = []
        for q in prompts:
            gens = []
            for reply in self.replies[q][:n]:
                answer = f"\\boxed{{{reply}}}" if reply is not None else "no idea"
                gens.append(
                    tr.Generation(
                        text=f"{'x' * used}</think>{answer}",
                        thinking="x" * used,
                        answer_text=answer,
                        thinking_tokens=used,
                        answer_tokens=3,
                    )
                )
            out.append(gens)
        return out


# Four samples each; references 1, 2, 3, 4. Right samples c = 4, 2, 1, 1.
REPLIES = {
    "q0": ["1", "1", "1", "1"],  # always right
    "q1": ["7", "2", "2", "8"],  # majority right only over all four
    "q2": ["3", "9", "9", "9"],  # first right, majority wrong
    "q3": ["4", "5", "5", "5"],  # likewise
}
POOL_PROBLEMS = [tr.Problem(f"p{i}", f"q{i}", answer=str(i + 1)) for i in range(4)]


def _pass_at_k(n, c, k):  # Chen et al. 2021, written out independently of the library
    return 1 - math.comb(n - c, k) / math.comb(n, k)


def test_samples_draw_one_pool_per_budget_and_report_pass_and_maj_at_k():
    backend = PoolBackend(REPLIES)
    report = tr.evaluate(backend, POOL_PROBLEMS, budgets=[3, 10], samples=4, progress=False)
    # One batched call per budget, 4 samples of every problem, sampled (not greedy).
    assert [(len(c["prompts"]), c["n"], c["temperature"]) for c in backend.calls] == [
        (4, 4, 0.7),
        (4, 4, 0.7),
    ]
    low, high = report.table()
    assert (low["thinking_tokens"], high["thinking_tokens"]) == (3.0, 5.0)
    assert report.metrics.control == 1.0
    row = high
    assert row["samples"] == 4
    assert row["pass@1"] == row["sample_accuracy"] == 100 * 8 / 16
    counts = [4, 2, 1, 1]
    for k in (2, 4):
        expected = 100 * sum(_pass_at_k(4, c, k) for c in counts) / 4
        assert row[f"pass@{k}"] == pytest.approx(expected, abs=0.005)
    assert row["pass@2"] == pytest.approx(100 * (1 + 5 / 6 + 1 / 2 + 1 / 2) / 4, abs=0.005)
    assert row["pass@4"] == 100.0
    # maj@1: first samples 1 7 3 4; maj@2: ties go to the first (1 7 3 4); maj@4: 1 2 9 5.
    assert (row["maj@1"], row["maj@2"], row["maj@4"]) == (75.0, 75.0, 50.0)
    assert row["accuracy"] == row["maj@4"]  # budget forcing was wrapped in a majority vote
    assert "pass@3" not in row and "maj@8" not in row
    assert json.loads(report.rows["sample_answers"][1]) == ["7", "2", "2", "8"]
    text = repr(report)
    assert "pass@4" in text and "maj@4" in text
    saved = report.to_dict()
    assert saved["manifest"]["samples"] == 4
    assert json.loads(json.dumps(saved, default=str))["table"][1]["maj@4"] == 50.0


def test_samples_and_temperature_reach_an_existing_sampler():
    vote = tr.scaler("majority-vote", n=3, temperature=0.5, inner=tr.scaler("budget-forcing"))
    backend = PoolBackend(REPLIES)
    report = tr.evaluate(backend, POOL_PROBLEMS, scaler=vote, progress=False)
    assert backend.calls[-1]["n"] == 3 and report.table()[0]["samples"] == 3  # its own n
    assert set(report.table()[0]) >= {"pass@1", "pass@2", "pass@3", "maj@3"}
    tr.evaluate(backend, POOL_PROBLEMS, scaler=vote, samples=4, temperature=1.0, progress=False)
    assert (backend.calls[-1]["n"], backend.calls[-1]["temperature"]) == (4, 1.0)
    # Best-of-n keeps its own choice (here the largest answer); the pool numbers are the same.
    largest = tr.scaler("best-of-n", n=2, scorer=lambda p, g: float(g.answer_text[7:-1]))
    row = tr.evaluate(backend, POOL_PROBLEMS, scaler=largest, samples=4, progress=False).table()[0]
    assert row["accuracy"] == 25.0  # it picks 1, 8, 9, 5: only the first is right
    assert (row["pass@4"], row["maj@4"]) == (100.0, 50.0)


def test_one_sample_is_the_default_and_greedy():
    backend = PoolBackend(REPLIES)
    row = tr.evaluate(backend, POOL_PROBLEMS, progress=False).table()[0]
    assert backend.calls[0]["n"] == 1 and backend.calls[0]["temperature"] == 0.0
    assert row["accuracy"] == row["pass@1"] == row["maj@1"] == 75.0
    assert "pass@2" not in row


@pytest.mark.parametrize("samples", [0, -1, 2.5, True, "4"])
def test_bad_samples_are_explained(samples):
    with pytest.raises(tr.ConfigError, match="samples must be a whole number"):
        tr.evaluate(PoolBackend(REPLIES), POOL_PROBLEMS, samples=samples, progress=False)


def test_samples_need_a_scaler_that_can_sample():
    class OneShot:
        def solve(self, backend, problems, *, seed=None):
            return []

    with pytest.raises(tr.ConfigError, match="samples=2 needs a scaler"):
        tr.evaluate(PoolBackend(REPLIES), POOL_PROBLEMS, scaler=OneShot(), samples=2)
    with pytest.raises(tr.ConfigError, match="temperature must be"):
        tr.evaluate(PoolBackend(REPLIES), POOL_PROBLEMS, temperature=-1.0, progress=False)
    with pytest.raises(tr.ConfigError, match="answer_kind must be one of"):
        tr.evaluate(PoolBackend(REPLIES), POOL_PROBLEMS, answer_kind="letters", progress=False)


def test_pass_at_k_matches_the_formula():
    from tinyreason.evaluation.metrics import k_values, pass_at_k

    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                expected = 1.0 if n - c < k else _pass_at_k(n, c, k)
                assert pass_at_k(n, c, k) == pytest.approx(expected)
    assert pass_at_k(64, 1, 1) == pytest.approx(1 / 64)
    assert k_values(64) == [1, 2, 4, 8, 16, 32, 64]
    with pytest.raises(tr.ConfigError, match="k cannot exceed"):
        pass_at_k(4, 1, 5)
    with pytest.raises(tr.ConfigError, match="whole numbers"):
        pass_at_k(4, 1.0, 1)


# -- benchmarks: answer kind, names, manifest ---------------------------------------------------


@dataclass
class Letters:
    """Answers every question with a bold letter and no box, as chat models often do."""

    letter: str = "C"
    format: object = field(default_factory=lambda: tr.chat_format("think-tags"))
    device: str = "cuda:0"

    def prompt(self, question):
        return question

    def describe(self):
        return {"backend": "letters", "device": self.device, "dtype": "torch.bfloat16"}

    def generate(
        self, prompts, *, n=1, temperature=0.0, max_new_tokens=1024, control=None, seed=None
    ):
        text = f"x</think>I pick **{self.letter}**"
        gen = tr.Generation(text, "x", f"I pick **{self.letter}**", 1, 3)
        return [[gen] * n for _ in prompts]


def test_the_benchmark_answer_kind_is_the_default(fixtures_dir):
    gpqa = tr.benchmark("gpqa-diamond", path=fixtures_dir / "benchmarks" / "gpqa_diamond.csv")
    report = tr.evaluate(Letters("C"), gpqa, progress=False)
    # s1's rule finds no letter A-D in "I pick **C**": unparsed, graded wrong.
    assert report.table()[0]["accuracy"] == 0.0 and report.table()[0]["unparsed"] == 100.0
    assert report.manifest["answer_kind"] == "s1-multiple_choice"
    assert report.manifest["benchmark_source"]["name"] == "gpqa-diamond"
    # The device and dtype come from the backend's describe() (tinyreason.interfaces.Describes).
    assert (report.manifest["device"], report.manifest["dtype"]) == ("cuda:0", "torch.bfloat16")
    ours = tr.evaluate(Letters("C"), gpqa, answer_kind="multiple_choice", progress=False)
    assert ours.table()[0]["accuracy"] == 25.0  # our rule reads "**C**"; the first answer is C
    assert ours.table()[0]["unparsed"] == 0.0
    overridden = tr.evaluate(Letters("C"), gpqa, answer_kind="auto", progress=False)
    assert overridden.table()[0]["accuracy"] == 0.0  # "auto" finds no answer in "**C**"


@dataclass
class S1Replies:
    """Answers in s1's format: thinking, then ``<|im_start|>answer``, then ``reply``."""

    reply: str
    format: object = field(default_factory=lambda: tr.chat_format("qwen-s1"))

    def prompt(self, question):
        return question

    def generate(
        self, prompts, *, n=1, temperature=0.0, max_new_tokens=1024, control=None, seed=None
    ):
        text = f"\nhmm \\boxed{{A}}\n<|im_start|>answer\n{self.reply}"
        gen = tr.Generation(text, "hmm \\boxed{A}", self.reply, 3, 3)
        return [[gen] * n for _ in prompts]


def test_gpqa_unparsed_answers_are_wrong_never_a(fixtures_dir):
    gpqa = tr.benchmark("gpqa-diamond", path=fixtures_dir / "benchmarks" / "gpqa_diamond.csv")
    assert [p.answer for p in gpqa.problems()] == ["C", "A", "B", "D"]
    # s1 without its judge would take "A" for "None of them" and score the second question.
    report = tr.evaluate(S1Replies("Answer: None of them"), gpqa, progress=False)
    row = report.table()[0]
    assert (row["accuracy"], row["unparsed"]) == (0.0, 100.0)
    assert report.rows["answer"] == [None] * 4  # the box in the thinking is not the answer
    assert "unparsed" in report.evaluation["extraction"]
    assert "never a default letter" in report.evaluation["grader"]
    lower = tr.evaluate(S1Replies("Answer: a"), gpqa, progress=False).table()[0]
    assert (lower["accuracy"], lower["unparsed"]) == (25.0, 0.0)  # "a" is read as "A"


def test_the_report_states_prompt_extraction_and_grader(fixtures_dir):
    aime = tr.benchmark("aime24", path=fixtures_dir / "benchmarks" / "aime24.jsonl")
    report = tr.evaluate(S1Replies("Answer: 025"), aime, progress=False)
    assert report.table()[0]["accuracy"] == 33.33  # only "025" (= 25) is right
    settings = report.manifest["evaluation"]
    assert report.evaluation == settings
    assert (settings["prompt"], settings["prompt_template"]) == ("s1", "{question}")
    assert "system prompt: the template's default" in settings["chat_template"]
    assert settings["answer_kind"] == "s1-integer"
    assert settings["extraction"].startswith(
        "s1 (integer): the text after the last '<|im_start|>answer\\n'"
    )
    assert settings["grader"].startswith("math-verify equivalence")
    assert "s1 used gpt-4o-mini as judge" in settings["grader"]
    assert settings["max_new_tokens"] == 32768
    assert report.manifest["benchmark_source"]["max_new_tokens"] == 32768
    text = repr(report)
    assert 'prompt: s1 "{question}"' in text
    assert "extraction: s1 (integer)" in text and "grader: math-verify equivalence" in text
    assert "gpt-4o-mini" in text and "max_new_tokens: 32768" in text
    page = report._repr_html_()
    assert "<i>grader</i>: math-verify equivalence" in page and "<i>extraction</i>" in page
    saved = json.loads(json.dumps(report.to_dict(), default=str))
    assert saved["manifest"]["evaluation"]["grader"] == settings["grader"]

    # A custom grader is named; a plain list of problems is sent as it is.
    class Exact:
        def grade(self, predicted, reference):
            return predicted == reference

    plain = tr.evaluate(S1Replies("Answer: 1"), PROBLEMS, grader=Exact(), progress=False)
    assert plain.evaluation["grader"] == "Exact (a custom grader)"
    assert plain.evaluation["prompt_template"] == "{question}"
    assert plain.evaluation["extraction"].startswith("tinyreason (auto)")
    assert plain.evaluation["max_new_tokens"] is None


def test_benchmark_names_and_empty_benchmarks(fixtures_dir):
    with pytest.raises(tr.UnknownPluginError, match="unknown benchmark 'aime-24'"):
        tr.evaluate(PoolBackend(REPLIES), "aime-24", progress=False)
    with pytest.raises(tr.DataError, match="from the Hugging Face hub"):  # offline, no path
        tr.evaluate(PoolBackend(REPLIES), "aime24", progress=False)

    @dataclass
    class Empty:
        name: str = "empty"

        def problems(self):
            return []

    with pytest.raises(tr.DataError, match="'empty' has no problems"):
        tr.evaluate(PoolBackend(REPLIES), Empty(), progress=False)
    assert (
        "device" not in tr.evaluate(ScriptedBackend(NEED), PROBLEMS, progress=False).manifest
    )  # nothing to say: nothing said
