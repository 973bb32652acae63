"""The checks an SFT trainer runs before compute: render, plan the output folder, preflight.

:class:`SFTChecks` is the half of :class:`~tinyreason.training.sft.SFTTrainerBase` that runs
before any model loads: it renders traces into TRL prompt/completion rows through the student
format, checks the output folder and the checkpoint to resume from, and runs the preflight
(:mod:`tinyreason.training.preflight`). The training half lives in :mod:`tinyreason.training.sft`.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any, ClassVar, Literal

from ..errors import ConfigError, DataError
from ..students.formats import ThinkFormat
from .basemodel import check_base, load_tokenizer
from .checkpoints import ResumePlan, checkpoint_folders, plan_resume
from .config import rank
from .estimate import DEFAULT_MFU, gpu_key
from .inputs import training_data
from .output import check_output_folder, estimate_output_bytes
from .preflight import (
    PreflightReport,
    TruncationWarning,
    count_parameters,
    run_preflight,
    token_lengths,
    tokenized_rows,
)

__all__ = ["SFTChecks"]


class SFTChecks:
    """Every check of an SFT trainer before compute; a base of :class:`SFTTrainerBase`.

    The methods read the trainer's options (``base``, ``output_dir``, ``conditioning``...) from
    the dataclass that inherits them; nothing here loads a model.

    Example:
        >>> from tinyreason.training.sft import FullTrainer
        >>> issubclass(FullTrainer, SFTChecks)
        True
    """

    # The options read here, set by the dataclass that inherits them (annotations only).
    base: str | Path
    output_dir: str | Path | None
    epochs: float | None
    max_steps: int | None
    batch_size: int | None
    conditioning: Literal["tokens", "steps"] | None
    resume_from_checkpoint: bool | str | Path | None
    overwrite: bool
    _format: ThinkFormat
    name: ClassVar[str]

    def _output_dir(self) -> Path:
        # Named after the trainer, so a full and a LoRA run of one base do not overwrite each other.
        return Path(self.output_dir or Path("runs") / f"{Path(str(self.base)).name}-{self.name}")

    # -- data --------------------------------------------------------------------------------

    def examples(self, dataset: Any, tokenizer: Any) -> Any:
        """Render a traces Dataset into TRL prompt/completion rows through the student format.

        Raises:
            DataError: rows lack thinking or an answer (the message names the first ones).
        """
        from datasets import Dataset

        dataset, _ = training_data(dataset)
        if self.conditioning is not None:  # s1's TCC / SCC training text, on request
            from ..students.conditioning import conditioned

            dataset = conditioned(dataset, self.conditioning, tokenizer=tokenizer)
        missing = [
            c
            for c in ("question", "thinking_trajectories", "attempt")
            if c not in dataset.column_names
        ]
        if missing:
            raise DataError(
                f"the training Dataset lacks {missing}; it needs traces: distil with a teacher "
                "(tr.teacher(...).distill) or load a traces set such as s1K."
            )
        rows, empty = [], []
        for i, row in enumerate(dataset):
            thinking = row["thinking_trajectories"]
            thinking = "\n".join(thinking) if isinstance(thinking, list) else (thinking or "")
            answer = row["attempt"] or ""
            if not thinking.strip() or not answer.strip():
                empty.append(i)
                continue
            rows.append(self._format.training_example(tokenizer, row["question"], thinking, answer))
        if empty:
            raise DataError(
                f"{len(empty)} row(s) have no thinking or no answer (first: {empty[:5]}); "
                "drop them first, e.g. tr.select(ds, tr.selector('quality'))."
            )
        if not rows:
            raise DataError("the training Dataset holds no rows.")
        return Dataset.from_list(rows)

    # -- checks ------------------------------------------------------------------------------

    def _check_runtime(self, on_gpu: bool) -> None:
        """Settings that depend on the machine (subclasses add theirs)."""

    def _plan(self, dataset: Any, data: str) -> ResumePlan:
        """The output folder and the resume point, checked; nothing is written (rank 0 warns)."""
        output_dir = self._output_dir()
        base = Path(str(self.base)).expanduser()
        if base.exists() and base.resolve() == output_dir.expanduser().resolve():
            raise ConfigError(
                f"output_dir {str(output_dir)!r} is the base model's folder; write the student "
                "to another folder."
            )
        # Ownership and writability first: they need no estimate and say the most.
        check_output_folder(output_dir, overwrite=self.overwrite)
        plan = plan_resume(
            output_dir,
            self.resume_from_checkpoint,
            overwrite=self.overwrite,
            trainer=self.name,
            base=str(self.base),
            data=data,
        )
        kept = len(checkpoint_folders(output_dir)) - len(plan.remove)
        need = estimate_output_bytes(
            self, self._total_steps(len(dataset)), resume_step=plan.step, kept=kept
        )
        if need:
            check_output_folder(output_dir, overwrite=self.overwrite, need_bytes=need)
        if rank() == 0:
            plan.warn()
        return plan

    def _total_steps(self, rows: int) -> int:
        """Optimiser steps of the run (an upper bound with packing), as :func:`sft_config`."""
        if self.max_steps is not None:
            return self.max_steps
        assert self.epochs is not None and self.batch_size is not None  # from the preset
        return math.ceil(self.epochs * math.ceil(rows / self.batch_size))

    def _prepare(self, dataset: Any, gpu: str | None, mfu: float, on_gpu: bool) -> _Prepared:
        """Every check before compute, in order of cost; the model is not loaded."""
        from .card import fingerprint

        dataset, _ = training_data(dataset)
        self._check_runtime(on_gpu)
        check_base(self.base)
        data = fingerprint(dataset)
        plan = self._plan(dataset, data)
        tokenizer = load_tokenizer(self.base)
        self._format.tokens(tokenizer)  # delimiters must fit the tokenizer: fail before compute
        examples = self.examples(dataset, tokenizer)
        parameters = count_parameters(str(self.base)) if gpu else None
        tokens = token_lengths(tokenizer, examples)
        with warnings.catch_warnings():
            if rank() != 0:  # one warning per run, not one per process
                warnings.simplefilter("ignore", TruncationWarning)
            report = run_preflight(
                self,
                examples,
                tokenizer,
                on_gpu=on_gpu,
                parameters=parameters,
                gpu=gpu,
                mfu=mfu,
                tokens=tokens,
            )
        rows = tokenized_rows(tokens[0], tokens[3])
        return _Prepared(tokenizer, examples, report, rows, plan, data)

    def preflight(
        self, dataset: Any, *, gpu: str | None = None, mfu: float = DEFAULT_MFU
    ) -> PreflightReport:
        """Check a traces Dataset (or Selection) against these settings, without training.

        Args:
            dataset: The traces to train on.
            gpu: GPU type for the GPU-hours estimate; None uses this machine's GPU, or H100.
            mfu: Assumed model FLOPs utilisation for the estimate.

        Raises:
            DataError: rows lack thinking or answers, or would train on nothing; a file of the
                data or the base model is missing or damaged.
            ConfigError: the format does not fit the tokenizer, the block size is shorter than
                every row, the end of turn is not trained, or batching breaks the masking; the
                base cannot be found; nothing to resume from.
            FolderNotOursError: ``output_dir`` holds files tinyreason did not write.
            ArtifactError: ``output_dir`` cannot be written or its disk is too full, or the
                checkpoint to resume from is damaged.
        """
        import torch

        on_gpu = torch.cuda.is_available()
        return self._prepare(dataset, gpu or _local_gpu(on_gpu), mfu, on_gpu).report


class _Prepared:
    """What the checks before compute produce."""

    def __init__(
        self,
        tokenizer: Any,
        examples: Any,
        report: PreflightReport,
        rows: Any,
        plan: ResumePlan,
        fingerprint: str,
    ) -> None:
        self.tokenizer, self.examples, self.report = tokenizer, examples, report
        self.rows, self.plan, self.fingerprint = rows, plan, fingerprint


def _local_gpu(on_gpu: bool) -> str:
    """The table key of this machine's GPU, or H100 (s1's GPU) when none or unknown."""
    if on_gpu:
        import torch

        try:
            return gpu_key(torch.cuda.get_device_name(0))
        except ConfigError:
            pass
    return "H100"
