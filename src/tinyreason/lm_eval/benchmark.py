"""An lm-eval task as a tinyreason benchmark: ``tr.evaluate(model, "lm-eval:TASK")``.

lm-evaluation-harness holds hundreds of tasks. This benchmark reads one task's evaluation
documents through lm-eval's own ``TaskManager`` and turns each into a
:class:`~tinyreason.Problem`: the question is the task's own prompt (``doc_to_text``), the
reference its target (``doc_to_target``; for a multiple-choice task, the text of the right
choice). tinyreason then runs it with its scalers and grades it with its graders, and
:func:`~tinyreason.lm_eval.side_by_side` puts lm-eval's own numbers for the task beside.

Example:
    >>> import tinyreason as tr  # doctest: +SKIP
    >>> report = tr.evaluate(backend, "lm-eval:gsm8k", budgets=[512, 2048])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, DataError
from ..records import Problem

__all__ = ["LMEvalBenchmark"]


@dataclass(frozen=True)
class LMEvalBenchmark:
    """The evaluation documents of one lm-eval task, as problems with reference answers.

    Args:
        task: The lm-eval task's name (``"gsm8k"``, or one of ``include_path``'s).
        include_path: Folders of extra task YAML files.
        limit: Keep the first ``limit`` documents.

    Example:
        >>> bench = LMEvalBenchmark("tinyreason_arith",  # doctest: +SKIP
        ...                         include_path=("tests/fixtures/lm_eval",))
        >>> bench.problems()[0].answer  # doctest: +SKIP
        '42'
    """

    task: str
    include_path: Sequence[str] = field(default_factory=tuple)
    limit: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.task, str) or not self.task.strip():
            raise ConfigError(f"an lm-eval task is named by a string, got {self.task!r}")
        if self.limit is not None and (isinstance(self.limit, bool) or self.limit < 1):
            raise ConfigError(f"limit must be a whole number >= 1, got {self.limit!r}")

    @property
    def name(self) -> str:
        """``lm-eval:<task>``."""
        return f"lm-eval:{self.task}"

    def describe(self) -> Mapping[str, object]:
        """What the fingerprint of a run records: the task, where its YAML was looked up."""
        return {"name": self.name, "limit": self.limit}

    def problems(self) -> list[Problem]:
        """The task's evaluation documents as problems (lm-eval's prompt; its target).

        Raises:
            ConfigError: lm-eval is not installed, or it has no such task.
            DataError: a document has no target.
        """
        try:
            from lm_eval.tasks import TaskManager, get_task_dict
        except ImportError:
            raise ConfigError(
                "lm-eval tasks need lm-evaluation-harness: pip install 'tinyreason[lm-eval]'"
            ) from None
        paths = [str(Path(p)) for p in self.include_path] or None
        manager = TaskManager(include_path=paths)
        if self.task not in manager.all_tasks:
            import difflib

            hint = difflib.get_close_matches(self.task, manager.all_tasks, n=1)
            raise ConfigError(
                f"lm-eval has no task {self.task!r}"
                + (f" (did you mean {hint[0]!r}?)" if hint else "")
                + "; pass include_path= for tasks of your own"
            )
        task = get_task_dict([self.task], manager)[self.task]
        problems = []
        for index, doc in enumerate(task.eval_docs):
            if self.limit is not None and index >= self.limit:
                break
            target = task.doc_to_target(doc)
            if task.config.doc_to_choice and isinstance(target, int):
                target = task.doc_to_choice(doc)[target]
            if target is None or str(target).strip() == "":
                raise DataError(f"lm-eval task {self.task!r} document {index} has no target")
            problems.append(
                Problem(
                    f"{self.task}-{index}",
                    str(task.doc_to_text(doc)),
                    answer=str(target).strip(),
                    source=self.name,
                )
            )
        return problems
