"""Every Protocol, implemented from interfaces.py alone, runs through its stage end to end.

Each plugin below is a plain class: no base class, no inheritance, no member the Protocol does not
declare. These are the examples docs/plugins.md shows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import tinyreason as tr
from tinyreason.interfaces import RewardModel
from tinyreason.records import AUDIT_COLUMNS, Selection, Stage, TrainedStudent

# -- the plugins -----------------------------------------------------------------------------------


class EchoTeacher:
    """Teacher: ``distill(problems, **options) -> Dataset`` in the s1K schema."""

    def distill(self, problems: Any, **options: Any) -> Any:
        problems = tr.as_problems(problems)
        traces = [
            tr.Trace(p.id, "echo", "v1", thinking=f"{p.question} is easy.", answer_text="4")
            for p in problems
        ]
        return tr.to_dataset(problems, traces)


class ShortestFirst:
    """Selector: ``select(dataset) -> Selection`` built from records alone."""

    def __init__(self, k: int) -> None:
        self.k = k

    def select(self, dataset: Any) -> Selection:
        from datasets import Dataset

        order = sorted(range(len(dataset)), key=lambda i: len(dataset[i]["question"]))
        keep, drop = order[: self.k], order[self.k :]
        audit = Dataset.from_dict(
            {
                "id": [dataset[i]["id"] for i in drop],
                "question": [dataset[i]["question"] for i in drop],
                "stage": ["shortest-first"] * len(drop),
                "reason": ["longer"] * len(drop),
                "detail": [""] * len(drop),
            }
        )
        assert tuple(audit.column_names) == AUDIT_COLUMNS
        stage = Stage("shortest-first", len(dataset), len(keep), {"k": self.k})
        return Selection(dataset.select(sorted(keep)), (audit,), (stage,))


class CopyTrainer:
    """Trainer: ``train(dataset) -> TrainedStudent`` (here: the tiny model, as if trained)."""

    def __init__(self, folder: Path, fmt: Any) -> None:
        self.folder, self.fmt = folder, fmt

    def train(self, dataset: Any) -> TrainedStudent:
        return TrainedStudent(self.folder, self.fmt, "tiny", {"rows": float(len(dataset))})


class Tags:
    """StudentFormat: delimiters, prompt, trained text, parse."""

    name, think_start, think_end = "plain-tags", "<think>", "</think>"

    def prompt(self, tokenizer: Any, question: str) -> str:
        return (
            tokenizer.apply_chat_template(
                [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
            )
            + self.think_start
        )

    def completion(self, thinking: str, answer: str, tokenizer: Any) -> str:
        return f"{self.think_start}\n{thinking}\n{self.think_end}\n{answer}{tokenizer.eos_token}"

    def parse(self, text: str) -> tuple[str, str]:
        thinking, _, answer = text.partition(self.think_end)
        return thinking.strip(), answer.strip()


class Canned:
    """Backend: ``format``, ``prompt``, ``generate`` (a canned answer, thinking counted)."""

    def __init__(self, fmt: Any, tokenizer: Any) -> None:
        self.format, self.tokenizer = fmt, tokenizer

    def prompt(self, question: str) -> str:
        return self.format.prompt(self.tokenizer, question)

    def generate(
        self,
        prompts: Any,
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int | None = None,
        control: Any = None,
        seed: int | None = None,
    ) -> list[list[tr.Generation]]:
        cap = control.max_thinking if control is not None else None
        thinking = 8 if not isinstance(cap, int) else min(8, cap)
        text = "x" * thinking + "</think>\n4"
        g = tr.Generation(text, "x" * thinking, "4", thinking_tokens=thinking, answer_tokens=1)
        return [[g] * n for _ in prompts]


class FirstSample:
    """TestTimeScaler: ``solve(backend, problems, seed=) -> list[Solution]``."""

    def solve(self, backend: Any, problems: Any, *, seed: int | None = None) -> list[tr.Solution]:
        results = backend.generate([backend.prompt(p.question) for p in problems], n=1)
        pairs = zip(problems, results, strict=True)
        return [tr.Solution(p.id, g[0].answer_text, (g[0],)) for p, g in pairs]


class Exact:
    """Grader: ``grade(predicted, reference) -> bool``."""

    def grade(self, predicted: str | None, reference: str) -> bool:
        return predicted is not None and predicted.strip() == reference.strip()


class TwoPlusTwo:
    """Benchmark: ``name`` and ``problems()``."""

    name = "two-plus-two"

    def problems(self) -> list[tr.Problem]:
        return [tr.Problem(f"q{i}", f"What is 2 + 2? ({i})", answer="4") for i in range(3)]


class ShorterSteps:
    """RewardModel: ``score(question, steps)`` (one score per step) and ``score_batch(items)``."""

    def score(self, question: str, steps: Any) -> list[float]:
        return [1.0 / (1 + len(step)) for step in steps]

    def score_batch(self, items: Any) -> list[list[float]]:
        return [self.score(question, steps) for question, steps in items]


# -- each through its stage ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tr.testing.tiny_model(tmp_path_factory.mktemp("protocols") / "tiny")


def test_every_plugin_is_its_protocol() -> None:
    pairs = [
        (EchoTeacher(), tr.Teacher),
        (ShortestFirst(1), tr.Selector),
        (CopyTrainer(Path("."), Tags()), tr.Trainer),
        (Tags(), tr.StudentFormat),
        (FirstSample(), tr.TestTimeScaler),
        (Exact(), tr.Grader),
        (TwoPlusTwo(), tr.Benchmark),
        (ShorterSteps(), RewardModel),
    ]
    for plugin, protocol in pairs:
        assert isinstance(plugin, protocol), (plugin, protocol)


def test_a_teacher_and_a_selector_through_distill_and_select() -> None:
    problems = [tr.Problem(f"p{i}", "Q" * (i + 1) + "?", answer="4") for i in range(5)]
    traces = EchoTeacher().distill(problems)
    selection = tr.select(traces, ShortestFirst(3), tr.selector("quality"))
    assert [s.name for s in selection.stages] == ["shortest-first", "quality"]
    assert selection.summary()["funnel"][0] == ["shortest-first", 5, 3]
    assert selection.reasons()[("shortest-first", "longer")] == 2
    # Composition without inheriting: ours >> yours and yours >> ours both chain.
    chained = tr.select(traces, ShortestFirst(4) >> tr.selector("quality"))
    assert [s.name for s in chained.stages] == ["shortest-first", "quality"]
    chained = tr.select(traces, tr.selector("quality") >> ShortestFirst(2))
    assert [s.name for s in chained.stages] == ["quality", "shortest-first"]


def test_a_format_through_training_rows_and_budget_forcing(tiny: Path) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny)
    trainer = tr.trainer("full", base=str(tiny), format=Tags())
    traces = EchoTeacher().distill([tr.Problem("p", "What is 2 + 2?", answer="4")])
    [row] = trainer.examples(traces, tokenizer)
    assert row["prompt"] + row["completion"] == (
        Tags().prompt(tokenizer, "What is 2 + 2?").removesuffix("<think>")
        + Tags().completion("What is 2 + 2? is easy.", "4", tokenizer)
    )
    backend = tr.backend("transformers", model=str(tiny), format=Tags(), progress=False)
    forcing = tr.scaler("budget-forcing", max_thinking=6, max_new_tokens=20)
    [solution] = forcing.solve(backend, [tr.Problem("p", "What is 2 + 2?", answer="4")])
    assert solution.generations[0].thinking_tokens == 6 and solution.generations[0].forced_end
    vote = tr.scaler("majority-vote", n=3, temperature=1.0, inner=forcing)
    [voted] = vote.solve(backend, [tr.Problem("p", "What is 2 + 2?", answer="4")], seed=0)
    assert len(voted.generations) == 3


def test_a_backend_scaler_benchmark_and_grader_through_evaluate(tiny: Path) -> None:
    from transformers import AutoTokenizer

    backend = Canned(Tags(), AutoTokenizer.from_pretrained(tiny))
    assert isinstance(backend, tr.Backend)
    report = tr.evaluate(backend, TwoPlusTwo(), scaler=FirstSample(), grader=Exact())
    assert report.table()[0]["accuracy"] == 100.0
    # The budget sweep of the built-in budget forcing runs on the plugin backend too.
    swept = tr.evaluate(backend, TwoPlusTwo(), budgets=[2, 8], grader=Exact(), progress=False)
    assert [round(r["thinking_tokens"]) for r in swept.table()] == [2, 8]


def test_a_reward_model_guides_the_verifier_scalers(tiny: Path) -> None:
    backend = tr.backend("transformers", model=str(tiny), format=Tags(), progress=False)
    problem = tr.Problem("p", "What is 2 + 2?", answer="4")
    searches = {
        "weighted-majority-vote": {"max_new_tokens": 8},
        "beam-search": {"beam_width": 2, "max_steps": 2, "max_step_tokens": 4},
        "rebase": {"max_steps": 2, "max_step_tokens": 4},
    }
    for name, options in searches.items():
        scaler = tr.scaler(name, reward_model=ShorterSteps(), n=2, temperature=1.0, **options)
        [solution] = scaler.solve(backend, [problem], seed=0)
        assert len(solution.scores) == len(solution.generations) >= 1
        assert all(0 < score <= 1 for score in solution.scores), name


def test_a_trainer_hands_evaluation_a_record(tiny: Path) -> None:
    student = CopyTrainer(tiny, Tags()).train(EchoTeacher().distill(TwoPlusTwo().problems()))
    report = tr.evaluate(
        student,
        TwoPlusTwo(),
        scaler=tr.scaler("budget-forcing", max_thinking=4, max_new_tokens=12),
        grader=Exact(),
        progress=False,
    )
    assert len(report.table()) == 1


def test_a_backend_and_a_format_teach_through_the_local_provider(tiny: Path) -> None:
    """The local teacher drives a plugin backend; a system prompt it cannot render is refused."""
    import asyncio

    from transformers import AutoTokenizer

    from tinyreason.teachers.base import ProviderError, TeacherRequest
    from tinyreason.teachers.local import LocalProvider

    provider = LocalProvider(Canned(Tags(), AutoTokenizer.from_pretrained(tiny)))
    reply = asyncio.run(provider.complete(TeacherRequest("p", "What is 2 + 2?", "canned")))
    assert (reply.answer, reply.thinking_kind, reply.usage.thinking_tokens) == ("4", "raw", 8)
    # A plugin's format renders its own prompt: the teacher's system prompt has nowhere to go.
    asking = TeacherRequest("p", "What is 2 + 2?", "canned", system="Answer briefly.")
    with pytest.raises(ProviderError, match="cannot take a system prompt") as refused:
        asyncio.run(provider.complete(asking))
    assert (refused.value.reason, refused.value.retryable) == ("bad_request", False)
