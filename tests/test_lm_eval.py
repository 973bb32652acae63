"""lm-evaluation-harness both ways, with the real lm-eval, offline, on local tasks and a tiny model.

The tiny model is random but not degenerate (its weights are drawn wider than ``tiny_model``'s,
whose greedy output repeats the prompt's last token), so lm-eval's ``hf`` model and ours have
varied text, stray special tokens and broken UTF-8 to agree on. The tasks are
``tests/fixtures/lm_eval``'s YAML files with their data paths made absolute.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("lm_eval")
torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

import lm_eval  # noqa: E402
from lm_eval.api.instance import Instance  # noqa: E402
from lm_eval.api.registry import get_model  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

import tinyreason as tr  # noqa: E402
import tinyreason.lm_eval as tle  # noqa: E402
from tinyreason.answers import extract_answer  # noqa: E402
from tinyreason.errors import ConfigError  # noqa: E402
from tinyreason.scaling import BudgetForcing  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "lm_eval"
ARITH = "tinyreason_arith"
CHOICE = "tinyreason_choice"
QWEN_END = "<|im_start|>answer"


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    # Tiny models gain nothing from threads; on a shared 2-core machine they lose a lot.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from tinyreason.testing.tiny import save_random_model, tiny_tokenizer

    tokenizer = tiny_tokenizer()
    config = Qwen2Config(
        vocab_size=len(tokenizer),
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        initializer_range=0.2,  # wide enough that the layers, not the last token, decide
    )
    folder = tmp_path_factory.mktemp("lm-eval") / "tiny"
    return save_random_model(folder, tokenizer, Qwen2ForCausalLM, config, seed=0)


@pytest.fixture(scope="module")
def task_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture tasks, their data paths made absolute (the YAML holds repo-relative ones)."""
    folder = tmp_path_factory.mktemp("tasks")
    for yaml in FIXTURES.glob("*.yaml"):
        text = yaml.read_text().replace("tests/fixtures/lm_eval/", f"{FIXTURES}/")
        (folder / yaml.name).write_text(text)
    return folder


@pytest.fixture(scope="module")
def manager(task_dir: Path) -> TaskManager:
    return TaskManager(include_path=str(task_dir), include_defaults=False)


def run(model: str, model_args: str, task: str, manager: TaskManager, **kw: Any) -> dict:
    results = lm_eval.simple_evaluate(
        model=model,
        model_args=model_args,
        tasks=[task],
        task_manager=manager,
        device="cpu",
        batch_size=kw.pop("batch_size", 1),
        **kw,
    )
    assert results is not None
    return results


def responses(results: dict, task: str = ARITH) -> list[Any]:
    return [s["resps"][0][0] for s in sorted(results["samples"][task], key=lambda s: s["doc_id"])]


def contexts(results: dict, task: str = ARITH) -> list[str]:
    samples = sorted(results["samples"][task], key=lambda s: s["doc_id"])
    return [s["arguments"][0][0] for s in samples]  # in memory: a list of (context, gen_kwargs)


# -- registration --------------------------------------------------------------------------------


def test_registering_keeps_lm_evals_own_models_and_import_tinyreason_stays_light() -> None:
    # A fresh interpreter: ours registered before anything imported lm_eval.models, the order
    # that hides lm-eval's built-in models when done naively.
    script = (
        "import sys, json\n"
        "import tinyreason\n"
        "tinyreason.plugins()\n"
        "light = 'lm_eval' not in sys.modules\n"
        "import tinyreason.lm_eval\n"
        "from lm_eval.api.registry import MODEL_REGISTRY, get_model\n"
        "ours = get_model('tinyreason').__name__\n"
        "torch = 'torch' in sys.modules\n"
        "print(json.dumps([light, ours, get_model('hf').__name__, 'vllm' in MODEL_REGISTRY,"
        " torch]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    light, ours, hf, vllm, torch_loaded = json.loads(out.stdout.strip().splitlines()[-1])
    assert light, "import tinyreason imported lm_eval"
    assert (ours, hf, vllm) == ("TinyReasonLM", "HFLM", True)
    assert not torch_loaded, "registering the model imported torch"


def test_register_is_idempotent() -> None:
    tle.register()
    tle.register()
    assert get_model("tinyreason") is tle.TinyReasonLM


# -- generation ----------------------------------------------------------------------------------


def test_plain_generation_gives_exactly_what_lm_evals_hf_model_gives(
    model_dir: Path, manager: TaskManager
) -> None:
    plain = f"pretrained={model_dir},scaler=none,prompt=raw,output=full,skip_special_tokens=true"
    ours = run("tinyreason", plain, ARITH, manager)
    uncut = responses(ours)
    assert len(set(uncut)) == len(uncut), "the tiny model should say something different per doc"
    # A stop string from the middle of the first answer, so `until` really cuts one of them.
    stop = uncut[0][5:8]
    kwargs = {"gen_kwargs": {"until": [stop], "max_gen_toks": 24}}
    hf = run("hf", f"pretrained={model_dir}", ARITH, manager, **kwargs)
    ours = run("tinyreason", plain, ARITH, manager, **kwargs)
    assert responses(ours) == responses(hf)
    assert responses(hf)[0] == uncut[0].split(stop)[0] != uncut[0]
    assert ours["results"][ARITH] == hf["results"][ARITH]


def test_budget_forcing_through_lm_eval_is_our_own_budget_forcing(
    model_dir: Path, manager: TaskManager
) -> None:
    args = f"pretrained={model_dir},format=qwen-s1,max_thinking=8,waits=1,output=full"
    full = run("tinyreason", args, ARITH, manager)
    answers = run("tinyreason", args.replace("output=full", "output=answer"), ARITH, manager)
    # The same problems through tinyreason's own API: the adapter adds and changes nothing.
    backend = tr.backend(
        "transformers", model=str(model_dir), format="qwen-s1", device="cpu", batch_size=1
    )
    problems = [tr.Problem(f"q{i}", c) for i, c in enumerate(contexts(full))]
    solutions = BudgetForcing(max_thinking=8, waits=1, max_new_tokens=24).solve(backend, problems)
    generations = [s.generations[0] for s in solutions]
    assert all(g.thinking_tokens <= 8 and g.forced_end for g in generations)
    assert all("\n\n" not in g.answer_text for g in generations)  # the task's stop never fires
    assert responses(full) == [g.text for g in generations]
    assert responses(answers) == [t.split(QWEN_END)[-1].lstrip() for t in responses(full)]
    assert all(a.startswith("Final Answer:") for a in responses(answers))
    # lm-eval rendering the chat turns itself (--apply_chat_template) prompts the same way.
    chat = run("tinyreason", args, ARITH, manager, apply_chat_template=True)
    assert contexts(chat)[0].endswith("<|im_start|>assistant\n")
    assert responses(chat) == responses(full)
    config = full["config"]
    assert config["tinyreason_backend"]["format"] == "qwen-s1"
    assert "BudgetForcing(max_thinking=8, waits=1" in config["tinyreason_scaler"]


def test_stop_strings_cut_the_answer_and_never_the_thinking(model_dir: Path) -> None:
    lm = get_model("tinyreason")(
        pretrained=str(model_dir), format="qwen-s1", max_thinking=12, output="full", device="cpu"
    )
    context = "Question: What is 6 times 7?\nAnswer:"

    def generate(until: list[str]) -> str:
        request = Instance("generate_until", {}, (context, {"until": until, "max_gen_toks": 16}), 0)
        [text] = lm.generate_until([request])
        return text

    whole = generate([])
    head, _, rest = whole.partition(QWEN_END)
    # A forced end appends a lead-in; a natural one (this model stops early) appends none.
    lead = "\nFinal Answer:" if rest.startswith("\nFinal Answer:") else ""
    answer = rest[len(lead) :]
    assert head and answer, whole
    thinking_char = head[len(head) // 2]  # a character the thinking holds
    cut = generate([thinking_char])
    assert cut == head + QWEN_END + lead + answer.split(thinking_char)[0]


def test_model_args_are_parsed_and_checked_before_any_model_loads(model_dir: Path) -> None:
    cls = get_model("tinyreason")
    with pytest.raises(ConfigError, match=r"no option 'waitz' \(did you mean 'waits'\?\)"):
        cls.create_from_arg_string(f"pretrained={model_dir},waitz=2")
    with pytest.raises(ConfigError, match="waits must be a whole number, got str 'two'"):
        cls.create_from_arg_string(f"pretrained={model_dir},waits=two")
    with pytest.raises(ConfigError, match="output must be one of 'answer', 'full'"):
        cls.create_from_arg_string(f"pretrained={model_dir},output=thinking")
    with pytest.raises(ConfigError, match="needs pretrained=MODEL"):
        cls.create_from_arg_string("format=qwen-s1")
    with pytest.raises(tr.TinyReasonError, match="unknown scaler 'budget-forcin'"):
        cls.create_from_arg_string(f"pretrained={model_dir},scaler=budget-forcin")
    lm = cls.create_from_arg_string(
        f"pretrained={model_dir},format=qwen-s1,max_thinking=auto,waits=2,wait_text=Hmm,"
        "final_answer_text=none,dtype=float32,backend.batch_size=2",
        {"device": "cuda:0", "batch_size": 1},  # lm-eval's CLI defaults on a CPU machine
    )
    assert (lm.scaler.max_thinking, lm.scaler.waits, lm.scaler.wait_text) == ("auto", 2, "Hmm")
    assert lm.scaler.final_answer_text is None
    assert (lm.student_backend.batch_size, str(lm.student_backend.device)) == (2, "cpu")


def test_majority_vote_returns_a_generation_that_gives_the_chosen_answer(model_dir: Path) -> None:
    lm = get_model("tinyreason")(
        pretrained=str(model_dir),
        format="qwen-s1",
        scaler="majority-vote",
        output="full",
        n=3,
        temperature=1.0,
        **{"inner.max_thinking": 4, "inner.temperature": 1.0},
        device="cpu",
    )
    assert lm.scaler.inner.max_thinking == 4
    request = Instance("generate_until", {}, ("What is 2 + 3?", {"max_gen_toks": 8}), 0)
    [text] = lm.generate_until([request])
    # The same vote by hand (same seed, same prompt): lm-eval gets the voted sample's text.
    scaler = lm.scaler.with_generation_budget(8)
    problem = tr.Problem("request-0", "What is 2 + 3?")
    [solution] = scaler.solve(lm.student_backend, [problem], seed=0)
    texts = [g.text for g in solution.generations]
    assert text in texts
    voted = [t for t in texts if extract_answer(t, think_end=QWEN_END) == solution.answer]
    assert text == voted[0]


class _TextBackend:
    """A backend with no token ids and no model: what a text-only server gives."""

    def __init__(self) -> None:
        self.format = tr.chat_format("think-tags")
        self.prompts: list[str] = []

    def prompt(self, question: str) -> str:
        return f"<user>{question}</user><think>"

    def generate(self, prompts: list[str], **options: Any) -> list[list[tr.Generation]]:
        self.prompts += prompts
        text = "thinking\n</think>\n\n the answer is 5. Question: more"
        g = tr.Generation(text, "thinking", "the answer is 5. Question: more", 1, 8)
        return [[g] for _ in prompts]


def test_a_backend_without_ids_or_model_generates_and_refuses_scoring() -> None:
    backend = _TextBackend()
    lm = tle.TinyReasonLM(backend=backend, scaler=BudgetForcing(max_thinking=4))
    request = Instance("generate_until", {}, ("What is 2 + 3?", {"until": ["Question:"]}), 0)
    assert lm.generate_until([request]) == ["the answer is 5. "]
    assert backend.prompts == ["<user>What is 2 + 3?</user><think>"]
    score = Instance("loglikelihood", {}, ("What is 2 + 3?", " 5"), 0)
    with pytest.raises(tle.UnsupportedRequestError, match="only generates"):
        lm.loglikelihood([score])


# -- scoring -------------------------------------------------------------------------------------


def test_loglikelihood_and_rolling_match_lm_evals_hf_model(
    model_dir: Path, manager: TaskManager
) -> None:
    hf = run("hf", f"pretrained={model_dir}", CHOICE, manager)
    ours = run("tinyreason", f"pretrained={model_dir}", CHOICE, manager, batch_size=4)
    for a, b in zip(hf["samples"][CHOICE], ours["samples"][CHOICE], strict=True):
        assert [r[0][1] for r in a["resps"]] == [r[0][1] for r in b["resps"]]
        assert [r[0][0] for r in a["resps"]] == pytest.approx([r[0][0] for r in b["resps"]], 1e-5)
    assert ours["results"][CHOICE]["acc,none"] == hf["results"][CHOICE]["acc,none"]

    long_text = "What is 6 times 7? Let me think step by step. " * 30
    requests = [Instance("loglikelihood_rolling", {}, (t,), i) for i, t in enumerate([long_text])]
    hf_lm = get_model("hf")(pretrained=str(model_dir), device="cpu", max_length=64)
    our_lm = get_model("tinyreason")(pretrained=str(model_dir), device="cpu", batch_size=3)
    our_lm.student_backend.context_window = 64  # several windows, as hf's max_length=64
    assert our_lm.loglikelihood_rolling(requests) == pytest.approx(
        hf_lm.loglikelihood_rolling(requests), 1e-5
    )


# -- the command line and the results files ------------------------------------------------------


def test_the_command_writes_results_that_the_reader_reads(
    model_dir: Path, task_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = f"pretrained={model_dir},format=qwen-s1,max_thinking=8,waits=1"
    status = tle.main(
        ["--model", "tinyreason", "--model_args", args, "--include_path", str(task_dir),
         "--tasks", ARITH, "--device", "cpu", "--output_path", str(tmp_path), "--log_samples"]
    )  # fmt: skip
    assert status == 0, capsys.readouterr().err
    results = tle.read_results(tmp_path)
    assert results.model == "tinyreason"
    assert results.tasks == [ARITH]
    score = results.score(ARITH, "exact_match", "none")
    samples = results.samples[ARITH]
    assert len(samples) == 4
    assert score == pytest.approx(sum(s.metrics["exact_match"] for s in samples) / 4)
    assert all(s.filtered.startswith("Final Answer:") for s in samples)
    assert samples[0].prompt == "Question: What is 6 times 7?\nAnswer:"
    assert "BudgetForcing(max_thinking=8" in results.config["tinyreason_scaler"]
    assert results.table()[0]["problems"] == 4


def test_the_command_reports_a_bad_option_in_one_line(
    model_dir: Path, task_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = tle.main(
        ["--model", "tinyreason", "--model_args", f"pretrained={model_dir},wait=2",
         "--include_path", str(task_dir), "--tasks", ARITH, "--device", "cpu"]
    )  # fmt: skip
    assert status == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: model 'tinyreason' has no option 'wait'")


def test_evaluate_task_runs_by_name_and_sits_beside_a_report(
    model_dir: Path, task_dir: Path, tmp_path: Path
) -> None:
    scaler = BudgetForcing(max_thinking=8, max_new_tokens=24)
    backend = tr.backend("transformers", model=str(model_dir), format="qwen-s1", device="cpu")
    results = tle.evaluate_task(
        backend, ARITH, scaler=scaler, include_path=task_dir, output_path=tmp_path
    )
    assert results.path is not None and results.path.is_file()
    assert tle.read_results(tmp_path).scores == results.scores
    rows = [json.loads(line) for line in (FIXTURES / "arith.jsonl").read_text().splitlines()]
    problems = [tr.Problem(f"a{i}", r["question"], answer=r["answer"]) for i, r in enumerate(rows)]
    report = tr.evaluate(backend, problems, scaler=scaler, progress=False)
    table = tle.side_by_side(report, results, metric="exact_match")
    assert [r["source"] for r in table] == ["tinyreason", "lm-eval"]
    assert table[1]["benchmark"] == ARITH and table[1]["problems"] == 4
    assert table[1]["accuracy"] == 100 * results.score(ARITH, "exact_match", "none")
