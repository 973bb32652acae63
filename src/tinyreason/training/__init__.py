"""Training: fine-tune a student on reasoning traces over TRL (full or LoRA), s1's recipe.

``tr.trainer("full", base=..., format="qwen-s1").train(traces)`` checks the data (preflight), trains
and saves a student folder with a model card; ``tinyreason train`` does the same from the command
line under ``torchrun`` or ``accelerate launch``. docs/training.md has the details.

Importing this package is cheap: torch, transformers, TRL and peft load when training starts.
"""

from .base import TrainedStudent, UnverifiedStudentWarning
from .card import data_manifest, fingerprint, write_model_card
from .checkpoints import ResumeWarning, seal_checkpoint, verify_checkpoint
from .config import gradient_accumulation
from .estimate import DEFAULT_MFU, GPU_PEAK_TFLOPS, GpuEstimate, estimate_gpu_hours
from .inputs import load_traces
from .launch import accelerate_config
from .lora import LoraTrainer, merge_adapter
from .preflight import TRUNCATION_WARN_FRACTION, PreflightReport, TruncationWarning
from .presets import PRESETS, preset
from .sft import FullTrainer, SFTTrainerBase

__all__ = [
    "DEFAULT_MFU",
    "GPU_PEAK_TFLOPS",
    "PRESETS",
    "TRUNCATION_WARN_FRACTION",
    "FullTrainer",
    "GpuEstimate",
    "LoraTrainer",
    "PreflightReport",
    "ResumeWarning",
    "SFTTrainerBase",
    "TrainedStudent",
    "TruncationWarning",
    "UnverifiedStudentWarning",
    "accelerate_config",
    "data_manifest",
    "estimate_gpu_hours",
    "fingerprint",
    "gradient_accumulation",
    "load_traces",
    "merge_adapter",
    "preset",
    "seal_checkpoint",
    "verify_checkpoint",
    "write_model_card",
]
