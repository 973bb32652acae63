"""Token-, step- and class-conditional control (s1's TCC, SCC, CCC) on real backends.

Scripted models (conftest: a real Qwen2 whose next token depends only on the last one) make every
thinking length known in advance, so each count below is checked by hand. Every method runs on the
transformers backend and on the OpenAI-compatible backend against the loopback completions server.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

import tinyreason as tr
from tinyreason.scaling import BudgetForcing, OpenAIServerBackend, TransformersBackend
from tinyreason.scaling.conditional import ClassConditional, StepConditional, TokenConditional
from tinyreason.testing import CompletionsServer
from tinyreason.testing.tiny import tiny_tokenizer

from .conftest import chain_table, scripted_lm

MakeBackend = Callable[..., Any]

#: Step separators the step tokenizer holds as single tokens, so a bigram script can chain steps.
STEP_TEXTS = ["step one.\n\nstep two:\n\nstep three\n\n\nfour)\n\nfive\n\n"] * 20


@pytest.fixture(params=["transformers", "server"])
def make_backend(request: pytest.FixtureRequest) -> Iterator[MakeBackend]:
    """Build a backend over a model: in process, or over HTTP through the completions server."""
    servers: list[CompletionsServer] = []

    def make(model: Any, tokenizer: Any, fmt: str = "think-tags") -> Any:
        if request.param == "transformers":
            return TransformersBackend(model, tokenizer=tokenizer, format=fmt, progress=False)
        server = CompletionsServer(model, tokenizer).start()
        servers.append(server)
        return OpenAIServerBackend(
            server.base_url, "tiny", tokenizer, format=fmt, max_retries=0, progress=False
        )

    yield make
    for server in servers:
        server.stop()


class Recording:
    """A Backend that records the prompts and controls of every call, then delegates."""

    def __init__(self, backend: Any):
        self.backend = backend
        self.format = backend.format
        self.tokenizer = backend.tokenizer
        self.calls: list[dict[str, Any]] = []

    def prompt(self, question: str) -> str:
        return str(self.backend.prompt(question))

    def generate(self, prompts: Sequence[str], **options: Any) -> list[list[tr.Generation]]:
        self.calls.append({"prompts": list(prompts), **options})
        result: list[list[tr.Generation]] = self.backend.generate(prompts, **options)
        return result


def steps_table() -> dict[str, dict[str, float]]:
    """Think five steps (``5``, ``6:``, ``7.``, ``8)``, ``9``) between blank lines; answer 42."""
    chain = ["<think>", "5", "ĊĊ", "6", ":ĊĊ", "7", ".ĊĊ", "8", ")ĊĊ", "9", "</think>", "Ċ", "4"]
    table = {a: {b: 30.0} for a, b in itertools.pairwise(chain)}
    return table | {":": {"4": 30.0}, "4": {"2": 30.0}, "2": {"<|im_end|>": 30.0}}


@pytest.fixture(scope="module")
def step_tokenizer() -> Any:
    return tiny_tokenizer(STEP_TEXTS)


PROBLEMS = [tr.Problem("p0", "What is 6*7?", answer="42"), tr.Problem("p1", "q", answer="7")]
STEPS_THINKING = "5\n\n6:\n\n7.\n\n8)\n\n9"


# -- prompts carry s1's instructions, word for word ----------------------------------------------


def test_each_scaler_asks_with_s1s_words() -> None:
    assert TokenConditional(tokens=2048).question("Q") == "Q\n\nThink for up to 2048 tokens."
    assert StepConditional(steps=16).question("Q") == "Q\n\nThink for up to 16 steps."
    assert ClassConditional("short").question("Q") == (
        "Q\n\nAnswer after a short amount of thinking. Do not spend excessive time "
        "double-checking your work."
    )
    assert ClassConditional("long").question("Q") == (
        "Q\n\nAnswer after a long amount of thinking. If you feel like you are finished early, "
        "spend the extra time trying to double-check your work until you are absolutely sure "
        "that you have the correct answer."
    )
    assert TokenConditional().question("Q") == StepConditional().question("Q") == "Q"


def test_the_scalers_are_registered_and_checked() -> None:
    assert isinstance(tr.scaler("token-conditional", tokens=64, forcing=True), TokenConditional)
    assert isinstance(tr.scaler("step-conditional", steps=4), StepConditional)
    assert isinstance(tr.scaler("class-conditional", thinking="long"), ClassConditional)
    for scaler in (TokenConditional(), StepConditional(), ClassConditional()):
        assert isinstance(scaler, tr.TestTimeScaler)
    with pytest.raises(tr.ConfigError) as err:
        TokenConditional(tokens=0, forcing="yes", inner="bf")  # type: ignore[arg-type]
    assert len(err.value.problems) == 3
    with pytest.raises(tr.ConfigError, match="separator"):
        StepConditional(separator="")
    with pytest.raises(tr.ConfigError, match="thinking must be one of 'short', 'long'"):
        ClassConditional("medium")  # type: ignore[arg-type]
    with pytest.raises(tr.ConfigError, match="bounds must map"):
        ClassConditional(bounds={"short": (0, "many")})  # type: ignore[dict-item]


def test_budgets_sweep_what_each_method_asks_for() -> None:
    tcc = TokenConditional(forcing=True).with_budget(256)
    assert (tcc.tokens, tcc.control.max_thinking, tcc.compute_bounds()) == (256, 256, (0.0, 256.0))
    # Without forcing, TCC asks but does not cap: s1's max_thinking="auto".
    assert TokenConditional(tokens=256).control.max_thinking == "auto"
    assert StepConditional().with_budget(8).compute_bounds() == (0.0, 8.0)
    ccc = ClassConditional(bounds={"short": (0, 100)})
    assert ccc.with_budget("short").compute_bounds() == (0.0, 100.0)
    assert ccc.with_budget("long").compute_bounds() == (0.0, None)
    # tr.evaluate's setup reaches the inner budget forcing through these scalers.
    from tinyreason.evaluation.scaler_setup import with_answer_kind, with_generation_budget

    scc = with_answer_kind(with_generation_budget(StepConditional(), 512), "integer")
    assert (scc.inner.max_new_tokens, scc.inner.answer_kind) == (512, "integer")


# -- on the backends -------------------------------------------------------------------------------


def test_tcc_asks_and_tcc_bf_also_caps(
    make_backend: MakeBackend, scripted: Any, tokenizer: Any
) -> None:
    backend = Recording(make_backend(scripted(chain_table(5)), tokenizer))
    asked = TokenConditional(tokens=4).solve(backend, PROBLEMS, seed=0)
    capped = TokenConditional(tokens=4, forcing=True).solve(backend, PROBLEMS, seed=0)
    first, second = backend.calls
    assert first["prompts"] == [
        backend.prompt("What is 6*7?\n\nThink for up to 4 tokens."),
        backend.prompt("q\n\nThink for up to 4 tokens."),
    ]
    assert len(first["prompts"]) == 2  # every problem in one call
    # The model ignores the request (5 thinking tokens, over the 4 asked); forcing cuts it to 4.
    assert [s.generations[0].thinking_tokens for s in asked] == [5, 5]
    assert [s.generations[0].thinking for s in asked] == ["56789", "56789"]
    assert [s.generations[0].thinking_tokens for s in capped] == [4, 4]
    assert [s.generations[0].forced_end for s in capped] == [True, True]
    assert second["control"].max_thinking == 4 and first["control"].max_thinking == "auto"
    assert [s.answer for s in asked + capped] == ["42"] * 4
    assert [s.problem_id for s in asked] == ["p0", "p1"]


def test_scc_counts_steps_and_scc_bf_ends_after_the_last_one(
    make_backend: MakeBackend, step_tokenizer: Any
) -> None:
    assert step_tokenizer.tokenize(STEPS_THINKING) == [
        *("5", "ĊĊ", "6", ":ĊĊ", "7", ".ĊĊ", "8", ")ĊĊ", "9"),
    ]
    model = scripted_lm(step_tokenizer, steps_table())
    backend = Recording(make_backend(model, step_tokenizer))
    free = StepConditional(steps=2)
    [asked] = free.solve(backend, PROBLEMS[:1], seed=0)
    g = asked.generations[0]
    assert (g.thinking, g.thinking_tokens, free.compute_used(g)) == (STEPS_THINKING, 9, 5.0)
    forced = StepConditional(steps=2, forcing=True)
    [cut] = forced.solve(backend, PROBLEMS[:1], seed=0)
    g = cut.generations[0]
    # Two steps kept ("5", "6:"): 4 tokens (5, ĊĊ, 6, :); the end of thinking and the answer after.
    assert g.thinking == "5\n\n6:" and forced.compute_used(g) == 2.0
    assert g.thinking_tokens == len(step_tokenizer.tokenize("5\n\n6:")) == 4
    assert g.text == "5\n\n6:\n</think>\n42" and cut.answer == "42"
    assert (g.answer_tokens, g.finish_reason) == (3, "stop")  # Ċ 4 2, as budget forcing counts
    # One call asked with the instruction, then one continuation from the cut thinking.
    prompt = backend.prompt("What is 6*7?\n\nThink for up to 2 steps.")
    assert [c["prompts"] for c in backend.calls[1:]] == [[prompt], [prompt + "5\n\n6:\n</think>"]]
    assert backend.calls[-1]["control"] is None
    # Within its steps, forcing changes nothing (and costs no extra call).
    [kept] = StepConditional(steps=8, forcing=True).solve(backend, PROBLEMS[:1], seed=0)
    assert kept.generations[0] == asked.generations[0] and len(backend.calls) == 4


def test_ccc_is_two_settings_of_one_scaler(
    make_backend: MakeBackend, scripted: Any, tokenizer: Any
) -> None:
    backend = Recording(make_backend(scripted(chain_table(3)), tokenizer))
    ccc = ClassConditional(inner=BudgetForcing(max_new_tokens=512))
    for thinking in ("short", "long"):
        [solution] = ccc.with_budget(thinking).solve(backend, PROBLEMS[:1], seed=0)
        assert (solution.answer, solution.generations[0].thinking_tokens) == ("42", 3)
    short, long = (c["prompts"][0] for c in backend.calls)
    assert "short amount of thinking" in short and "long amount of thinking" in long
    assert backend.calls[0]["max_new_tokens"] == 512
