"""s1's difficulty stage: keep the questions that every solver fails.

s1 asked Qwen2.5-7B-Instruct and Qwen2.5-32B-Instruct every question, had Claude grade each
attempt against the reference (``data/grading.txt``: the last line of the reply is Yes or No) and
dropped any question either model solved (51,581 -> 24,496). The second difficulty signal, trace
length in the student's tokenizer, was recorded for the diversity stage.

:class:`DifficultySelector` does the same with any solvers (teachers by name or object, or local
backends) and a pluggable judge: math-verify against the reference answer (:class:`MathVerifyJudge`,
the default, free) or an LLM through any teacher (:class:`LLMJudge`, with a fixed grading prompt).
Solver and judge calls go through the teacher engine, so they are cached and cost-capped.

Everything it learns is written into the kept rows, and reused on the next run without a call:

* ``difficulty_judgments``: per solver, ``{solver, judge, answer, extracted, correct}``;
* ``teacher_correct``: whether the row's own trace (its ``attempt``) is right, by the same judge
  (s1's include-first rules need it);
* ``trace_tokens``: the thinking's length in the student's tokenizer (``tokenizer=``, s1's
  ``gemini_length``); without one a stored count is kept, else characters / 4 estimate it
  (``length="billed"``: the teacher's billed thinking tokens). The stage's ``info`` says which.

Stored verdicts can also come from boolean columns (``solved_columns``): s1's featurised data has
``isqwen7bcorrect`` and ``isqwen32bcorrect``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, DataError
from ..interfaces import Teacher
from ._calls import Reply, ask, is_backend, label_of, resolve_teacher, solve_with_backend
from ._columns import (
    TRACE_TOKENS,
    add_columns,
    arrow_column,
    check_length,
    column_list,
    count_tokens,
    trace_lengths,
)
from ._judgments import _Plan, _Stored
from .base import Composable, Selection, Stage, require_columns, selection_from_decisions
from .judges import (  # the judges lived here before judges.py: still importable from here
    GRADING_PROMPT,  # noqa: F401
    Judge,
    JudgeItem,
    LLMJudge,
    MathVerifyJudge,
    grading_prompt,  # noqa: F401
)

if TYPE_CHECKING:
    from datasets import Dataset

__all__ = ["DifficultySelector", "count_tokens"]

JUDGMENTS = "difficulty_judgments"
TEACHER_CORRECT = "teacher_correct"


@dataclass(frozen=True)
class DifficultySelector(Composable):
    """Drop questions any solver answers correctly; record judgments and trace lengths.

    Args:
        solvers: Who tries the questions: teacher names (``"local:Qwen/Qwen2.5-7B-Instruct"``,
            ``"anthropic"``), teacher objects, or backends (``tr.backend(...)``, solved through
            ``backend_scaler``), as a list or as ``{label: solver}``. A solver given as a name is
            only built if a row has no stored judgment for it.
        judge: ``"math-verify"`` (default), a teacher or teacher name (an :class:`LLMJudge`), or
            any :class:`Judge`.
        solved_columns: Boolean columns of stored verdicts (True: that solver solved it), e.g.
            s1's ``isqwen7bcorrect``, ``isqwen32bcorrect``.
        judge_teacher: Also judge the row's own trace into ``teacher_correct`` (for the kept rows).
        tokenizer: The student's tokenizer for ``trace_tokens`` (an object, a name or folder, or
            a function from a text to its count): s1's length rule, the thinking's tokens.
        length: ``"tokenizer"`` (default): ``trace_tokens`` counts the thinking with ``tokenizer``;
            without one a stored ``trace_tokens`` is kept, else characters / 4 estimate it.
            ``"billed"``: the teacher's ``usage.thinking_tokens`` (the earlier default).
        answer_kind: How answers are extracted for math-verify (``"auto"``, ``"integer"``...).
        unjudged: ``"drop"`` (default, as s1, whose featurisation dropped such rows) or
            ``"keep"`` a row that no solver solved but some solver could not be judged on (no
            reference, a failed call, an unparsable verdict).
        backend_scaler: How backends solve (default: budget forcing, 8,192 thinking tokens).
        cache: The teacher cache for solver and judge calls (None: the shared default).
        max_cost_usd: Spending cap for this stage's solver and judge calls together.
        progress: Show the engine's progress bars.

    Example:
        >>> import tinyreason as tr
        >>> sel = tr.selector("difficulty", solvers=["local:Qwen/Qwen2.5-7B-Instruct"])
        >>> sel.labels, sel.judge_label
        (['local:Qwen/Qwen2.5-7B-Instruct'], 'math-verify')
    """

    solvers: Sequence[Any] | Mapping[str, Any] = ()
    judge: Any = "math-verify"
    solved_columns: Sequence[str] = ()
    judge_teacher: bool = True
    tokenizer: Any = None
    length: str = "tokenizer"
    answer_kind: str = "auto"
    unjudged: str = "drop"
    backend_scaler: Any = None
    cache: Any = None
    max_cost_usd: float | None = None
    progress: bool = True
    name: str = "difficulty"

    def __post_init__(self) -> None:
        from ..answers import ANSWER_KINDS

        problems = []
        if isinstance(self.solvers, Mapping):
            pairs = [(str(k), v) for k, v in self.solvers.items()]
        elif isinstance(self.solvers, (str, bytes)) or not isinstance(self.solvers, Sequence):
            pairs = []
            problems.append(
                "solvers must be a list (or {label: solver} mapping) of teacher names, teachers "
                f"or backends, got {self.solvers!r}"
            )
        else:
            pairs = [(label_of(s), s) for s in self.solvers]
        for _, solver in pairs:
            if not (isinstance(solver, (str, Teacher)) or is_backend(solver)):
                problems.append(
                    f"solver {solver!r} is neither a teacher name, a teacher nor a backend."
                )
        labels = [label for label, _ in pairs]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            problems.append(
                f"solver labels repeat: {repeated}; pass solvers={{label: solver}} to name them."
            )
        if isinstance(self.solved_columns, str):
            problems.append("solved_columns must be a list of column names, not one string.")
        if not pairs and not self.solved_columns:
            problems.append(
                "difficulty needs solvers=[...] (s1: Qwen2.5-7B and 32B) or solved_columns=[...] "
                "(stored verdicts)."
            )
        if self.answer_kind not in ANSWER_KINDS:
            problems.append(f"answer_kind must be one of {ANSWER_KINDS}, got {self.answer_kind!r}")
        if self.unjudged not in ("drop", "keep"):
            problems.append(f"unjudged must be 'drop' or 'keep', got {self.unjudged!r}")
        problems.extend(check_length(self.length, self.tokenizer))
        judge: Any = None
        if self.judge == "math-verify":
            judge = MathVerifyJudge(answer_kind=self.answer_kind)
        elif isinstance(self.judge, Judge):
            judge = self.judge
        elif isinstance(self.judge, (str, Teacher)):
            judge = LLMJudge(self.judge, self.cache, self.max_cost_usd, self.progress)
        else:
            problems.append(
                "judge must be 'math-verify', a teacher (or its name) for an LLM judge, or an "
                f"object with label and judge(items), got {type(self.judge).__name__}"
            )
        if problems:
            raise ConfigError(problems)
        object.__setattr__(self, "_pairs", pairs)
        object.__setattr__(self, "_judge", judge)

    @property
    def labels(self) -> list[str]:
        """The solvers' labels (as stored in ``difficulty_judgments``)."""
        return [label for label, _ in self._pairs]  # type: ignore[attr-defined]

    @property
    def judge_label(self) -> str:
        """The judge's label (stored with each verdict)."""
        return str(self._judge.label)  # type: ignore[attr-defined]

    # -- helpers ---------------------------------------------------------------------------------

    def _references(self, dataset: Dataset) -> list[str | None]:
        """Each row's reference: ``answer``, else the ``solution`` (its box for math-verify)."""
        from ..answers import last_boxed

        names = dataset.column_names
        n = len(dataset)
        answers = column_list(dataset, "answer") if "answer" in names else [None] * n
        solutions = column_list(dataset, "solution") if "solution" in names else [None] * n
        llm = isinstance(self._judge, LLMJudge)  # type: ignore[attr-defined]
        refs: list[str | None] = []
        for answer, solution in zip(answers, solutions, strict=True):
            if answer is not None and str(answer).strip():
                refs.append(str(answer))
            elif solution and str(solution).strip():
                refs.append(str(solution) if llm else last_boxed(str(solution)))
            else:
                refs.append(None)
        return refs

    def _spend(self, spent: float) -> float | None:
        return None if self.max_cost_usd is None else max(0.0, self.max_cost_usd - spent)

    def _solve(self, solver: Any, items: list[tuple[str, str]], spent: float) -> list[Reply]:
        if is_backend(solver):
            scaler = self.backend_scaler
            if scaler is None:
                from ..registry import build

                # By name through the plugin manager: selection never imports scaling.
                scaler = build(
                    "scaler", "budget-forcing", max_thinking=8192, answer_kind=self.answer_kind
                )
            return solve_with_backend(solver, items, scaler)
        return ask(
            solver, items, cache=self.cache, max_cost_usd=self._spend(spent), progress=self.progress
        )

    def _judge_items(self, items: list[JudgeItem], spent: float) -> tuple[list[bool | None], float]:
        """The verdicts, and what they cost (an LLM judge's calls count toward the cap)."""
        judge = self._judge  # type: ignore[attr-defined]
        if not items:
            return [], 0.0
        cost = 0.0
        if isinstance(judge, LLMJudge):
            if self.max_cost_usd is not None:
                judge = LLMJudge(judge.teacher, judge.cache, self._spend(spent), judge.progress)
            verdicts, cost = judge.judge_with_cost(items)
        else:
            verdicts = judge.judge(items)
        if len(verdicts) != len(items):
            raise DataError(f"the judge returned {len(verdicts)} verdicts for {len(items)} items.")
        return list(verdicts), cost

    def _stored(self, dataset: Dataset) -> _Stored:
        """The stored judgments, column-wise."""
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if JUDGMENTS not in dataset.column_names:
            return _Stored.empty(len(dataset))
        array = arrow_column(dataset, JUDGMENTS)
        if pa.types.is_null(array.type) or (
            pa.types.is_list(array.type) and pa.types.is_null(array.type.value_type)
        ):
            return _Stored.empty(len(dataset))  # every row's list is empty
        if not pa.types.is_list(array.type) or not pa.types.is_struct(array.type.value_type):
            raise DataError(
                f"the {JUDGMENTS!r} column must hold lists of {{solver, judge, answer, "
                f"extracted, correct}} records, not {array.type}; remove it to judge afresh."
            )
        flat = pc.list_flatten(array)
        names = {f.name for f in flat.type}
        missing = sorted({"solver", "judge", "correct"} - names)
        if missing:
            raise DataError(
                f"the {JUDGMENTS!r} records lack the field(s) {missing}; remove the column to "
                "judge afresh."
            )

        def field(name: str) -> pa.Array:
            return flat.field(name) if name in names else pa.nulls(len(flat), pa.string())

        return _Stored(
            rows=len(dataset),
            parents=pc.list_parent_indices(array).to_numpy().astype(np.int64),
            solver=field("solver").cast(pa.string()),
            judge=field("judge").cast(pa.string()),
            correct=field("correct"),
            answer=field("answer"),
            extracted=field("extracted"),
        )

    # -- the stage -------------------------------------------------------------------------------

    def select(self, dataset: Dataset) -> Selection:
        """Drop the rows any solver solved (judging each solver, reusing stored verdicts)."""
        require_columns(dataset, self.name, ["question"], "load problems first.")
        require_columns(
            dataset,
            self.name,
            list(self.solved_columns),
            "solved_columns name stored verdicts (s1: isqwen7bcorrect); drop the option to "
            "judge with solvers instead.",
        )
        n = len(dataset)
        stored = self._stored(dataset)
        judge_label = self.judge_label
        pairs = self._pairs  # type: ignore[attr-defined]
        spent = 0.0
        # Per solver: where its stored records are, its verdicts (1 solved, 0 failed, -1 unknown),
        # the rows still to judge, and the records this run adds.
        plans = {label: stored.lookup(label, judge_label) for label, _ in pairs}
        records: dict[str, dict[int, dict[str, Any]]] = {label: {} for label, _ in pairs}
        references: list[str | None] = [None] * n
        questions: list[str | None] = [None] * n
        if any(len(plan.pending) for plan in plans.values()):
            require_columns(
                dataset,
                self.name,
                [c for c in ("answer", "solution") if c in dataset.column_names] or ["answer"],
                "judging needs reference answers: load problems with an 'answer' (or "
                "'solution') column.",
            )
            references = self._references(dataset)
            questions = column_list(dataset, "question")

        for label, solver in pairs:
            plan = plans[label]
            if not len(plan.pending):
                continue
            replies: dict[int, Reply] = {}
            ask_rows = []
            for i in plan.pending.tolist():
                j = int(plan.record[i])
                if j >= 0:  # judged by another judge: judge the stored answer again
                    replies[i] = Reply(
                        stored.text("answer", j), "", extracted=stored.extracted_at(j)
                    )
                else:
                    ask_rows.append(i)
            if ask_rows:
                resolved = resolve_teacher(solver, f"solver {label!r}")
                items = [(f"row-{i}", questions[i] or "") for i in ask_rows]
                for i, reply in zip(ask_rows, self._solve(resolved, items, spent), strict=True):
                    replies[i] = reply
                    spent += reply.cost_usd or 0.0
            answered = [i for i in sorted(replies) if replies[i].error is None]
            judged, cost = self._judge_items(
                [
                    JudgeItem(
                        f"row-{i}|{label}",
                        questions[i] or "",
                        replies[i].answer,
                        references[i],
                        replies[i].extracted,
                    )
                    for i in answered
                ],
                spent,
            )
            spent += cost
            for i, verdict in zip(answered, judged, strict=True):
                extracted = replies[i].extracted
                if extracted is None:
                    from ..answers import extract_answer

                    extracted = extract_answer(replies[i].answer or "", kind=self.answer_kind)
                # A failed call is not stored: the next run asks again (the cache decides).
                records[label][i] = {
                    "solver": label,
                    "judge": judge_label,
                    "answer": replies[i].answer,
                    "extracted": extracted,
                    "correct": verdict,
                }
                plan.verdict[i] = -1 if verdict is None else int(verdict)

        decisions, details = self._decide(dataset, stored, plans, records)
        info = {
            "solvers": self.labels,
            "solved_columns": list(self.solved_columns),
            "judge": judge_label,
            "unjudged": self.unjudged,
        }
        selection = selection_from_decisions(
            dataset, self.name, decisions, details=details, info=info
        )
        kept_rows = [i for i, d in enumerate(decisions) if d is None]
        rewrite = any(records.values()) or JUDGMENTS not in dataset.column_names
        judgments = stored.records_for(kept_rows, records) if rewrite else None
        columns, counted = self._kept_columns(selection.kept, judgments, spent)
        stage = selection.stages[0]
        stages = (Stage(stage.name, stage.rows_in, stage.rows_out, info | {TRACE_TOKENS: counted}),)
        kept = add_columns(selection.kept, columns) if columns else selection.kept
        return Selection(kept, selection.drops, stages)

    def _decide(
        self,
        dataset: Dataset,
        stored: _Stored,
        plans: Mapping[str, _Plan],
        records: Mapping[str, Mapping[int, Mapping[str, Any]]],
    ) -> tuple[list[str | None], list[str]]:
        """Per row: the reason it is dropped (None: kept), and the audit detail."""
        import numpy as np

        n = len(dataset)
        labels = self.labels
        names = labels + list(self.solved_columns)
        solved_bits = np.zeros(n, dtype=np.int64)
        unknown_bits = np.zeros(n, dtype=np.int64)
        for b, label in enumerate(labels):
            solved_bits |= (plans[label].verdict == 1).astype(np.int64) << b
            unknown_bits |= (plans[label].verdict < 0).astype(np.int64) << b
        for b, column in enumerate(self.solved_columns, start=len(labels)):
            flags = np.array([bool(v) for v in column_list(dataset, column)], dtype=bool)
            solved_bits |= flags.astype(np.int64) << b
        reasons = {
            bits: "solved:" + "+".join(m for b, m in enumerate(names) if bits >> b & 1)
            for bits in np.unique(solved_bits).tolist()
        }
        decisions: list[str | None] = [None] * n
        details = [""] * n
        for i in np.flatnonzero(solved_bits).tolist():
            bits = int(solved_bits[i])
            decisions[i] = reasons[bits]
            said = []
            for b, label in enumerate(labels):
                if bits >> b & 1:
                    record = records[label].get(i)
                    answer = (
                        record["extracted"]
                        if record is not None
                        else stored.extracted_at(int(plans[label].record[i]))
                    )
                    said.append(f"{label} answered {answer!r}")
            details[i] = "; ".join(said)
        if self.unjudged == "drop":
            for i in np.flatnonzero((solved_bits == 0) & (unknown_bits != 0)).tolist():
                bits = int(unknown_bits[i])
                decisions[i] = "unjudged:" + "+".join(
                    m for b, m in enumerate(labels) if bits >> b & 1
                )
                details[i] = "no verdict: no reference, a failed call or an unclear reply"
        return decisions, details

    def _kept_columns(
        self, kept: Dataset, judgments: list[list[dict[str, Any]]] | None, spent: float
    ) -> tuple[dict[str, Any], str]:
        """The columns to (re)write on the kept rows, and which count ``trace_tokens`` holds.

        Judgments, ``teacher_correct`` and ``trace_tokens``.
        """
        names = kept.column_names
        columns: dict[str, Any] = {}
        if judgments is not None and self._pairs:  # type: ignore[attr-defined]
            columns[JUDGMENTS] = judgments
        if self.judge_teacher and len(kept):
            previous = column_list(kept, TEACHER_CORRECT) if TEACHER_CORRECT in names else None
            todo = [i for i in range(len(kept)) if previous is None or previous[i] is None]
            if todo and "attempt" in names:
                references = self._references(kept)
                attempts = column_list(kept, "attempt")
                questions = column_list(kept, "question")
                items = [
                    JudgeItem(
                        f"row-{i}|teacher", questions[i] or "", attempts[i] or "", references[i]
                    )
                    for i in todo
                ]
                verdicts, _ = self._judge_items(items, spent)
                values = list(previous) if previous is not None else [None] * len(kept)
                for i, verdict in zip(todo, verdicts, strict=True):
                    values[i] = verdict
                columns[TEACHER_CORRECT] = values
        if self.tokenizer is None and self.length != "billed" and TRACE_TOKENS in names:
            return columns, TRACE_TOKENS  # stored: kept as it is
        try:
            lengths, counted = trace_lengths(kept, length=self.length, tokenizer=self.tokenizer)
        except DataError:
            if self.tokenizer is not None:
                raise
            return columns, "none"  # no traces yet (a problems pool): nothing to count
        if counted == "characters":  # a stored count is on the tokens' scale (s1's 5,600 rule)
            lengths, counted = -(-lengths // 4), "characters/4"
        columns[TRACE_TOKENS] = lengths
        return columns, counted
