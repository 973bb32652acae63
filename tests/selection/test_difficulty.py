import pytest
from datasets import Dataset

import tinyreason as tr
from tinyreason.records import Generation, Usage
from tinyreason.selection.difficulty import LLMJudge, MathVerifyJudge, grading_prompt
from tinyreason.teachers.base import TeacherReply


def _pool(n=6, **extra):
    rows = []
    for i in range(1, n + 1):
        rows.append(
            {
                "id": f"p{i}",
                "question": f"What is {i} times 7?",
                "answer": str(7 * i),
                "solution": "",
                "thinking_trajectories": [f"{i} sevens are {7 * i}. " * i],
                "attempt": f"\\boxed{{{7 * i}}}",
                "usage": {"input_tokens": 5, "output_tokens": 3, "thinking_tokens": 10 * i},
                "cot_type": "math",
                "source_type": "toy",
            }
            | extra
        )
    return Dataset.from_list(rows)


def _solver(right=(), **options):
    """A fake-api teacher that answers questions 'right' correctly and the others with 0."""
    replies = {}
    for i in range(1, 13):
        answer = 7 * i if i in right else 0
        replies[f"What is {i} times 7?"] = TeacherReply(
            "thinking...", f"The answer is {answer}.", "raw", usage=Usage(5, 4, 2)
        )
    return tr.teacher("fake-api", replies=replies, **options)


class NeverCalled:
    """A teacher that fails the test if anyone asks it anything."""

    name = "never"
    model = "m"

    def distill(self, problems, **options):
        raise AssertionError("this solver must not be called: its judgments are stored")


def test_drops_what_a_solver_solves_and_records_judgments_and_lengths():
    solver = _solver(right={2, 4})
    sel = tr.select(_pool(), tr.selector("difficulty", solvers=[solver], progress=False))
    assert list(sel.kept["id"]) == ["p1", "p3", "p5", "p6"]
    assert sel.reasons() == {("difficulty", "solved:fake-api:fake-reasoner"): 2}
    assert set(sel.dropped["detail"]) == {
        "fake-api:fake-reasoner answered '14'",
        "fake-api:fake-reasoner answered '28'",
    }
    judgments = sel.kept["difficulty_judgments"][0]
    assert judgments == [
        {
            "solver": "fake-api:fake-reasoner",
            "judge": "math-verify",
            "answer": "The answer is 0.",
            "extracted": "0",
            "correct": False,
        }
    ]
    assert list(sel.kept["teacher_correct"]) == [True] * 4
    # No tokenizer: the thinking's characters / 4, rounded up (the report says so).
    thinking = {r["id"]: r["thinking_trajectories"][0] for r in _pool()}
    estimate = [-(-len(thinking[i]) // 4) for i in sel.kept["id"]]
    assert list(sel.kept["trace_tokens"]) == estimate == [4, 13, 22, 26]
    assert sel.stages[0].info["trace_tokens"] == "characters/4"
    assert sel.stages[0].info["judge"] == "math-verify"
    billed = tr.select(
        _pool(), tr.selector("difficulty", solvers=[solver], length="billed", progress=False)
    )
    assert list(billed.kept["trace_tokens"]) == [10, 30, 50, 60]  # the teacher's thinking tokens
    assert billed.stages[0].info["trace_tokens"] == "usage.thinking_tokens"


def test_every_solver_must_fail_and_reasons_name_who_solved():
    # Another model: the cache keys replies by provider, model and question.
    b = _solver(right={2, 3}, model="m2", prices={"m2": {"input": 1, "output": 1, "thinking": 1}})
    a = _solver(right={1, 2})
    sel = tr.select(_pool(), tr.selector("difficulty", solvers={"a": a, "b": b}, progress=False))
    assert list(sel.kept["id"]) == ["p4", "p5", "p6"]
    assert sel.reasons() == {
        ("difficulty", "solved:a"): 1,
        ("difficulty", "solved:a+b"): 1,
        ("difficulty", "solved:b"): 1,
    }
    assert len(sel.kept) + len(sel.dropped) == 6


def test_stored_judgments_are_reused_without_any_call():
    first = tr.select(_pool(), tr.selector("difficulty", solvers={"s": _solver()}, progress=False))
    again = tr.select(
        first.kept, tr.selector("difficulty", solvers={"s": NeverCalled()}, progress=False)
    )
    assert list(again.kept["id"]) == list(first.kept["id"])
    assert again.kept["difficulty_judgments"] == first.kept["difficulty_judgments"]


def test_a_named_solver_is_only_built_when_a_row_lacks_its_judgment():
    stored = [
        [
            {
                "solver": "local:qwen-7b",
                "judge": "math-verify",
                "answer": "7",
                "extracted": "7",
                "correct": i == 1,
            }
        ]
        for i in range(1, 4)
    ]
    pool = _pool(3).add_column("difficulty_judgments", stored)
    sel = tr.select(pool, tr.selector("difficulty", solvers=["local:qwen-7b"], progress=False))
    assert list(sel.kept["id"]) == ["p2", "p3"]
    assert sel.dropped["reason"] == ["solved:local:qwen-7b"]
    assert sel.dropped["detail"] == ["local:qwen-7b answered '7'"]


def test_solved_columns_read_s1_style_verdicts():
    pool = _pool(4).add_column("isqwen7bcorrect", [True, False, None, False])
    pool = pool.add_column("isqwen32bcorrect", [False, False, False, True])
    sel = tr.select(
        pool,
        tr.selector("difficulty", solved_columns=["isqwen7bcorrect", "isqwen32bcorrect"]),
    )
    assert list(sel.kept["id"]) == ["p2", "p3"]
    assert sel.reasons() == {
        ("difficulty", "solved:isqwen7bcorrect"): 1,
        ("difficulty", "solved:isqwen32bcorrect"): 1,
    }


def test_llm_judge_and_solver_calls_are_cached_zero_calls_on_a_second_run(tmp_path):
    pool = _pool(4)
    solver = _solver(right={1})
    verdicts = {}
    for i in range(1, 5):
        answer = 7 if i == 1 else 0
        prompt = grading_prompt(f"What is {i} times 7?", f"The answer is {answer}.", str(7 * i))
        verdicts[prompt] = TeacherReply("", f"Compared.\n{'Yes' if i == 1 else 'No'}", "raw")
    # The teacher's own attempts are judged too (teacher_correct).
    for i in range(2, 5):
        prompt = grading_prompt(f"What is {i} times 7?", f"\\boxed{{{7 * i}}}", str(7 * i))
        verdicts[prompt] = TeacherReply("", "Right.\n**Yes**", "raw")
    judge = tr.teacher(
        "fake-api",
        replies=verdicts,
        model="judge-model",
        prices={"judge-model": {"input": 1.0, "output": 1.0, "thinking": 1.0}},
    )
    cache = tmp_path / "calls.sqlite"
    selector = tr.selector(
        "difficulty", solvers=[solver], judge=judge, cache=cache, max_cost_usd=1.0, progress=False
    )
    first = tr.select(pool, selector)
    assert list(first.kept["id"]) == ["p2", "p3", "p4"]
    assert first.stages[0].info["judge"] == "llm:fake-api:judge-model"
    assert list(first.kept["teacher_correct"]) == [True, True, True]
    calls = (solver.stats.total, judge.stats.total)
    assert calls == (4, 7)
    second = tr.select(pool, selector)
    assert (solver.stats.total, judge.stats.total) == calls  # every reply came from the cache
    assert list(second.kept["id"]) == list(first.kept["id"])


def test_another_judge_regrades_stored_answers_without_asking_the_solver():
    first = tr.select(_pool(3), tr.selector("difficulty", solvers={"s": _solver()}, progress=False))
    judge = tr.testing.FakeTeacher()
    for _ in range(len(first.kept)):
        judge.enqueue("", "Close enough.\nYes")  # the solver's stored answer "0" is "right"
    regraded = tr.select(
        first.kept,
        tr.selector(
            "difficulty",
            solvers={"s": NeverCalled()},
            judge=judge,
            judge_teacher=False,
            progress=False,
        ),
    )
    assert len(regraded.kept) == 0
    assert set(regraded.dropped["reason"]) == {"solved:s"}
    assert len(judge.history) == 1


def test_unjudged_rows_are_dropped_or_kept():
    pool = _pool(2).remove_columns(["answer"])  # no reference at all
    dropped = tr.select(pool, tr.selector("difficulty", solvers={"s": _solver()}, progress=False))
    assert len(dropped.kept) == 0 and set(dropped.dropped["reason"]) == {"unjudged:s"}
    kept = tr.select(
        pool, tr.selector("difficulty", solvers={"s": _solver()}, unjudged="keep", progress=False)
    )
    assert len(kept.kept) == 2
    assert list(kept.kept["teacher_correct"]) == [None, None]


def test_trace_tokens_in_a_students_tokenizer():
    def words(text):
        return len(text.split())

    sel = tr.select(
        _pool(2),
        tr.selector("difficulty", solvers={"s": _solver()}, tokenizer=words, progress=False),
    )
    assert list(sel.kept["trace_tokens"]) == [4, 8]
    assert sel.stages[0].info["trace_tokens"] == "tokenizer:words"
    assert "trace_tokens (tokenizer:words)" in repr(sel)
    with pytest.raises(tr.ConfigError, match="tokenizer= only applies to length='tokenizer'"):
        tr.selector("difficulty", solvers=["x"], tokenizer=words, length="billed")
    with pytest.raises(tr.ConfigError, match="length must be one of 'tokenizer', 'billed'"):
        tr.selector("difficulty", solvers=["x"], length="tokens")


def test_trace_tokens_with_a_hugging_face_tokenizer():
    from tinyreason.testing import tiny_tokenizer

    tokenizer = tiny_tokenizer()
    pool = _pool(2)
    sel = tr.select(
        pool,
        tr.selector("difficulty", solvers={"s": _solver()}, tokenizer=tokenizer, progress=False),
    )
    expected = [
        len(tokenizer.encode(t[0], add_special_tokens=False)) for t in pool["thinking_trajectories"]
    ]
    assert list(sel.kept["trace_tokens"]) == expected


class EchoBackend:
    """A backend whose model answers 'What is i times 7?' with 7*i for even i, else 1."""

    format = tr.chat_format("think-tags")

    def prompt(self, question):
        return question

    def generate(
        self, prompts, *, n=1, temperature=0.0, max_new_tokens=1024, control=None, seed=None
    ):
        out = []
        for prompt in prompts:
            i = int(prompt.split()[2])
            answer = 7 * i if i % 2 == 0 else 1
            text = f"hmm</think>The answer is \\boxed{{{answer}}}"
            out.append([Generation(text, "hmm", f"\\boxed{{{answer}}}", 1, 3)])
        return out


def test_a_local_backend_can_be_a_solver():
    sel = tr.select(
        _pool(4), tr.selector("difficulty", solvers={"local": EchoBackend()}, progress=False)
    )
    assert list(sel.kept["id"]) == ["p1", "p3"]
    assert sel.kept["difficulty_judgments"][0][0]["extracted"] == "1"


def test_judges_parse_and_compare():
    assert LLMJudge.parse("Reasoning...\nNo.") is False
    assert LLMJudge.parse("The answer is yes\n") is True
    assert LLMJudge.parse("") is None
    judge = MathVerifyJudge()
    from tinyreason.selection.difficulty import JudgeItem

    items = [
        JudgeItem("a", "q", "so \\boxed{\\frac{1}{2}}", "0.5"),
        JudgeItem("b", "q", "Answer: 3", "4"),
        JudgeItem("c", "q", "Answer: 3", None),
    ]
    assert judge.judge(items) == [True, False, None]


def test_bad_options_and_inputs():
    with pytest.raises(tr.ConfigError, match="needs solvers"):
        tr.selector("difficulty")
    with pytest.raises(tr.ConfigError, match="unjudged must be"):
        tr.selector("difficulty", solvers=["a"], unjudged="maybe")
    with pytest.raises(tr.ConfigError, match="judge must be"):
        tr.selector("difficulty", solvers=["a"], judge=42)
    with pytest.raises(tr.ConfigError, match="labels repeat"):
        tr.selector("difficulty", solvers=["a", "a"])
    with pytest.raises(tr.ConfigError, match="solvers must be a list"):
        tr.selector("difficulty", solvers="qwen")
    pool = _pool(2).remove_columns(["answer", "solution"])
    with pytest.raises(tr.DataError, match=r"'difficulty' needs the column\(s\) \['answer'\]"):
        tr.select(pool, tr.selector("difficulty", solvers={"s": _solver()}, progress=False))
    with pytest.raises(tr.DataError, match=r"isqwen7bcorrect.*stored verdicts"):
        tr.select(_pool(2), tr.selector("difficulty", solved_columns=["isqwen7bcorrect"]))
    with pytest.raises(tr.DataError, match="difficulty_judgments"):
        tr.select(
            _pool(2).add_column("difficulty_judgments", ["x", "y"]),
            tr.selector("difficulty", solvers=["s"]),
        )
