"""tinyreason's own plugins, registered through the same hooks as third-party ones.

Factories are ``"module:attribute"`` strings, so nothing heavy is imported until a user asks for it.
"""

from __future__ import annotations

from .hookspecs import Register, hookimpl


@hookimpl
def register_teachers(register: Register) -> None:
    register("fake", "tinyreason.testing.fakes:FakeTeacher")
    register("arithmetic", "tinyreason.demo.task:ArithmeticTeacher")
    register("fake-api", "tinyreason.testing.fake_provider:FakeProviderTeacher")
    register("gemini", "tinyreason.teachers.gemini:GeminiTeacher")
    register("deepseek", "tinyreason.teachers.deepseek:DeepSeekTeacher")
    register("anthropic", "tinyreason.teachers.anthropic:AnthropicTeacher")
    register("openai-compatible", "tinyreason.teachers.openai_compatible:OpenAICompatibleTeacher")
    register("local", "tinyreason.teachers.local:LocalTeacher")


@hookimpl
def register_students(register: Register) -> None:
    register("qwen-s1", "tinyreason.students.formats:qwen_s1")
    register("think-tags", "tinyreason.students.formats:think_tags")


@hookimpl
def register_trainers(register: Register) -> None:
    register("full", "tinyreason.training.sft:FullTrainer")
    register("lora", "tinyreason.training.lora:LoraTrainer")


@hookimpl
def register_benchmarks(register: Register) -> None:
    register("arithmetic", "tinyreason.demo.task:ArithmeticBenchmark")
    register("aime24", "tinyreason.evaluation.benchmarks:AIME24")
    register("aime25", "tinyreason.evaluation.benchmarks:AIME25")
    register("math500", "tinyreason.evaluation.benchmarks:MATH500")
    register("gpqa-diamond", "tinyreason.evaluation.benchmarks:GPQADiamond")
    register("amc23", "tinyreason.evaluation.benchmarks:AMC23")
    register("minerva-math", "tinyreason.evaluation.benchmarks:MinervaMath")
    # lm-evaluation-harness's tasks: tr.evaluate(model, "lm-eval:TASK") or
    # tr.benchmark("lm-eval", task="gsm8k"); needs the lm-eval extra only when used.
    register("lm-eval", "tinyreason.lm_eval.benchmark:LMEvalBenchmark")


@hookimpl
def register_selectors(register: Register) -> None:
    register("quality", "tinyreason.selection.quality:QualitySelector")
    register("diversity", "tinyreason.selection.diversity:DiversitySelector")
    register("difficulty", "tinyreason.selection.difficulty:DifficultySelector")
    register("embedding-diversity", "tinyreason.selection.embedding:EmbeddingDiversitySelector")
    register("decontaminate", "tinyreason.selection.decontaminate:DecontaminateSelector")
    register("dedup", "tinyreason.selection.dedup:DedupSelector")


@hookimpl
def register_scalers(register: Register) -> None:
    register("budget-forcing", "tinyreason.scaling.budget_forcing:BudgetForcing")
    register("majority-vote", "tinyreason.scaling.voting:MajorityVote")
    register("best-of-n", "tinyreason.scaling.voting:BestOfN")
    register("token-conditional", "tinyreason.scaling.conditional:TokenConditional")
    register("step-conditional", "tinyreason.scaling.conditional:StepConditional")
    register("class-conditional", "tinyreason.scaling.conditional:ClassConditional")
    register("rejection-sampling", "tinyreason.scaling.rejection:RejectionSampling")
    # Search with a process reward model (tr.reward_model): docs/scaling.md.
    register("prm-best-of-n", "tinyreason.scaling.search:PRMBestOfN")
    register("weighted-majority-vote", "tinyreason.scaling.search:WeightedMajorityVote")
    register("beam-search", "tinyreason.scaling.search_tree:BeamSearch")
    register("dvts", "tinyreason.scaling.search_tree:DVTS")
    register("rebase", "tinyreason.scaling.search_rebase:REBASE")


@hookimpl
def register_backends(register: Register) -> None:
    register("transformers", "tinyreason.scaling.transformers_backend:TransformersBackend")
    register("openai-server", "tinyreason.scaling.openai_backend:OpenAIServerBackend")
    register("vllm", "tinyreason.scaling.vllm_backend:VLLMBackend")


@hookimpl
def register_reward_models(register: Register) -> None:
    register("qwen-prm", "tinyreason.scaling.reward:QwenPRM")
    register("math-shepherd", "tinyreason.scaling.reward:MathShepherdPRM")
