"""The ``lora`` trainer: low-rank adapters over peft, QLoRA through bitsandbytes on a GPU.

The s1 recipe on one consumer GPU: the base stays frozen (in 4-bit with ``qlora=True``), only the
adapters train, so optimiser state and gradients shrink to a few percent of full fine-tuning's.
By default the student folder holds the adapter; ``merge=True`` merges it into a standalone model
(the adapter is kept in ``adapter/``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from .. import artifacts
from ..errors import ConfigError, DataError
from .output import OVERWRITE_OPTION, STUDENT_KIND, STUDENT_VERSION
from .ranges import Range
from .sft import SFTTrainerBase

__all__ = ["LoraTrainer", "merge_adapter"]


@dataclass(frozen=True)
class LoraTrainer(SFTTrainerBase):
    """Fine-tune low-rank adapters on every linear layer of a causal LM.

    Takes every option of :class:`~tinyreason.training.sft.SFTTrainerBase` (the default preset is
    ``s1-lora``: s1's schedule at lr 1e-4), plus:

    Args:
        lora_r: Adapter rank.
        lora_alpha: Adapter scale numerator (the update is scaled by ``lora_alpha / lora_r``).
        lora_dropout: Dropout on the adapter's input.
        target_modules: ``"all-linear"`` (every linear layer but the output head) or module names.
        merge: Merge the adapter into a standalone model after training.
        qlora: Load the frozen base in 4-bit NF4 (bitsandbytes, CUDA only).

    Example:
        >>> import tinyreason as tr
        >>> t = tr.trainer("lora", base="Qwen/Qwen2.5-0.5B-Instruct", lora_r=8)
        >>> t.lora_r, t.learning_rate, t.target_modules
        (8, 0.0001, 'all-linear')
        >>> student = t.train(traces)  # doctest: +SKIP
    """

    preset: str = "s1-lora"
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: str | tuple[str, ...] = "all-linear"
    merge: bool = False
    qlora: bool = False

    name: ClassVar[str] = "lora"
    is_lora: ClassVar[bool] = True
    RANGES: ClassVar[Mapping[str, Range]] = {
        **SFTTrainerBase.RANGES,
        "lora_r": Range(1),
        "lora_alpha": Range(0, low_open=True),
        "lora_dropout": Range(0, 1, high_open=True),
    }

    def _normalise(self) -> None:
        super()._normalise()
        if isinstance(self.target_modules, list):  # from JSON or the command line
            object.__setattr__(self, "target_modules", tuple(self.target_modules))

    def _problems(self) -> list[str]:
        problems = super()._problems()
        if not self.target_modules or any(not str(m).strip() for m in self.target_modules):
            problems.append(
                "target_modules must be 'all-linear' or a list of module names such as "
                f"['q_proj', 'v_proj'], got {self.target_modules!r}"
            )
        return problems

    def _dtype(self, args: Any) -> Any:
        import torch

        if self.model_dtype:
            return getattr(torch, self.model_dtype)
        # The base is frozen: bf16 halves its memory and loses nothing; peft keeps the adapters
        # in float32.
        return torch.bfloat16 if args.bf16 else torch.float32

    def _check_runtime(self, on_gpu: bool) -> None:
        if not self.qlora:
            return
        if not on_gpu:
            raise ConfigError(
                "qlora=True needs a CUDA GPU (bitsandbytes 4-bit kernels); on this machine use "
                "qlora=False (plain LoRA)."
            )
        try:
            import bitsandbytes  # noqa: F401
        except ImportError as exc:
            raise ConfigError(
                "qlora=True needs bitsandbytes: pip install bitsandbytes (or use qlora=False)."
            ) from exc

    def _load_model(self, args: Any, on_gpu: bool) -> Any:
        if not self.qlora:
            return super()._load_model(args, on_gpu)
        import torch
        from transformers import AutoModelForCausalLM, BitsAndBytesConfig

        compute = torch.bfloat16 if args.bf16 else torch.float16
        quantization = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=compute,
        )
        kwargs: dict[str, Any] = {"quantization_config": quantization, "dtype": compute}
        if self.attn_implementation:
            kwargs["attn_implementation"] = self.attn_implementation
        # Each process holds its whole (quantized) model on its own GPU.
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
        return AutoModelForCausalLM.from_pretrained(str(self.base), **kwargs)

    def _peft_config(self) -> Any:
        from peft import LoraConfig

        targets = self.target_modules
        return LoraConfig(
            r=self.lora_r,
            lora_alpha=self.lora_alpha,
            lora_dropout=self.lora_dropout,
            target_modules=targets if isinstance(targets, str) else list(targets),
            bias="none",
            task_type="CAUSAL_LM",
        )

    def _finish(self, trainer: Any, output_dir: Path, args: Any) -> None:
        if not self.merge:
            trainer.save_model(str(output_dir))
            return
        adapter_dir = output_dir / "adapter"
        trainer.save_model(str(adapter_dir))
        if trainer.is_world_process_zero():
            # Merged into the base's own dtype (bf16 compute during training says nothing about
            # how the user keeps their weights); merge_adapter(dtype=...) converts on request.
            # The trainer seals the whole folder afterwards, the adapter with it.
            _merge(adapter_dir, output_dir, base=str(self.base))
            # TRL taught the model's generation config to stop on the format's end of turn.
            model = trainer.accelerator.unwrap_model(trainer.model)
            model.generation_config.save_pretrained(str(output_dir))


def _adapter_base(adapter_dir: Path) -> str:
    config = adapter_dir / "adapter_config.json"
    if not config.is_file():
        raise DataError(
            f"{adapter_dir} holds no adapter_config.json: it is not a LoRA adapter folder (train "
            "one with tr.trainer('lora', ...))."
        )
    try:
        return str(json.loads(config.read_text(encoding="utf-8"))["base_model_name_or_path"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(
            f"{config} is damaged ({type(exc).__name__}: {exc}); pass base=... or train again."
        ) from None


def _merge(adapter_dir: Path, output_dir: Path, *, base: str, dtype: Any = None) -> None:
    """Write the merged model, tokenizer and tinyreason.json into ``output_dir`` (no manifest)."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, dtype=dtype or "auto")
    merged = PeftModel.from_pretrained(model, str(adapter_dir)).merge_and_unload()
    output_dir.mkdir(parents=True, exist_ok=True)
    merged.save_pretrained(str(output_dir))
    source = adapter_dir if (adapter_dir / "tokenizer_config.json").exists() else base
    AutoTokenizer.from_pretrained(str(source)).save_pretrained(str(output_dir))
    manifest = adapter_dir / "tinyreason.json"
    if manifest.exists() and manifest.parent != output_dir:
        artifacts.write_bytes(output_dir / "tinyreason.json", manifest.read_bytes())


def merge_adapter(
    adapter_dir: str | Path,
    output_dir: str | Path,
    *,
    base: str | None = None,
    dtype: Any = None,
    overwrite: bool = False,
) -> Path:
    """Merge a LoRA adapter into its base and save a standalone model (and tokenizer).

    The base is loaded unquantized, so a QLoRA adapter merges into full-precision weights. The
    output folder follows the trainers' rules: a folder holding files tinyreason did not write is
    refused unless ``overwrite=True``, and the merged student is sealed with a manifest, last.

    Args:
        adapter_dir: The adapter folder (``adapter_config.json`` and weights); a student folder
            tinyreason wrote is verified first.
        output_dir: Where to write the merged model; ``AutoModelForCausalLM`` loads it alone.
        base: The base model; None reads it from the adapter's config.
        dtype: Weights' dtype (a ``torch.dtype``); None keeps the base's.
        overwrite: Write into a folder that holds files tinyreason did not write.

    Raises:
        DataError: the adapter folder is missing, damaged, or not an adapter.
        FolderNotOursError: ``output_dir`` holds files tinyreason did not write.

    Example:
        >>> merge_adapter("runs/s/adapter", "runs/s-merged")  # doctest: +SKIP
        PosixPath('runs/s-merged')
    """
    from .output import STUDENT_REBUILD, StudentFolder

    adapter_dir, output_dir = Path(adapter_dir), Path(output_dir)
    if artifacts.is_ours(adapter_dir):
        artifacts.verify(adapter_dir, STUDENT_KIND, STUDENT_VERSION, rebuild=STUDENT_REBUILD)
    recorded = _adapter_base(adapter_dir)  # checks the folder is an adapter, before any load
    base = base or recorded
    artifacts.check_output(output_dir, STUDENT_KIND, overwrite=overwrite, option=OVERWRITE_OPTION)
    folder = StudentFolder(output_dir, overwrite=overwrite)
    folder.open()
    _merge(adapter_dir, output_dir, base=base, dtype=dtype)
    folder.seal({"trainer": "lora", "base": base, "merged_from": str(adapter_dir)})
    return output_dir
