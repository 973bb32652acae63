"""How many GPU-hours a training run needs: model FLOPs over a GPU's peak at an assumed utilisation.

The estimate is the usual one for dense decoders: ``6 * N * T`` FLOPs per epoch for full
fine-tuning (forward 2NT, backward 4NT) and ``4 * N * T`` with LoRA (the frozen weights need no
weight gradients), ``N`` parameters, ``T`` tokens per epoch. Attention's own FLOPs, the
recomputation of gradient checkpointing and padding are not counted: they are why model FLOPs
utilisation (MFU) stays well under 100%. At the default MFU of 0.35, 32.8B parameters and 45M
tokens (1,000 rows of 9,000 tokens, 5 epochs) come to 7.1 H100-hours, the order of s1's reported 7
(s1K's exact token count is not in our references: a plausibility check, not a calibration).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError

__all__ = ["DEFAULT_MFU", "GPU_PEAK_TFLOPS", "GpuEstimate", "estimate_gpu_hours", "gpu_key"]

#: Peak dense (no sparsity) bf16 tensor TFLOP/s from the vendors' datasheets.
GPU_PEAK_TFLOPS = MappingProxyType(
    {
        "A100": 312.0,
        "H100": 989.0,  # SXM; the PCIe card is H100-PCIE
        "H100-PCIE": 756.0,
        "H200": 989.0,
        "B200": 2250.0,
        "L40S": 362.0,
        "L4": 121.0,
        "RTX4090": 165.2,  # with fp32 accumulation, as training uses
        "RTX3090": 71.0,
        "MI300X": 1307.0,
    }
)

#: Assumed model FLOPs utilisation when none is given.
DEFAULT_MFU = 0.35


def gpu_key(name: str) -> str:
    """The table key for a GPU name as users or ``torch.cuda.get_device_name()`` write it.

    Example:
        >>> gpu_key("NVIDIA H100 80GB HBM3"), gpu_key("rtx 4090"), gpu_key("h100 pcie")
        ('H100', 'RTX4090', 'H100-PCIE')
    """
    text = name.upper().replace("NVIDIA", "").replace("GEFORCE", "").replace("_", " ")
    squashed = text.replace(" ", "").replace("-", "")
    if "H100" in squashed and "PCIE" in squashed:
        return "H100-PCIE"
    for key in sorted(GPU_PEAK_TFLOPS, key=len, reverse=True):
        if key.replace("-", "") in squashed:
            return key
    raise ConfigError(
        f"unknown GPU type {name!r} for the GPU-hours estimate; known: {', '.join(GPU_PEAK_TFLOPS)}"
    )


@dataclass(frozen=True)
class GpuEstimate:
    """A GPU-hours estimate and every number it came from.

    Attributes:
        gpu: The GPU type (a key of :data:`GPU_PEAK_TFLOPS`).
        peak_tflops: Its peak dense bf16 TFLOP/s.
        mfu: The assumed model FLOPs utilisation.
        parameters: Model parameters ``N``.
        tokens: Tokens processed over the whole run (every epoch).
        flops: Model FLOPs of the run (``6NT``, or ``4NT`` with LoRA).
        gpu_hours: ``flops / (peak * mfu) / 3600``.

    Example:
        >>> e = estimate_gpu_hours(32_800_000_000, 45_000_000, gpu="H100")
        >>> round(e.gpu_hours, 1)
        7.1
    """

    gpu: str
    peak_tflops: float
    mfu: float
    parameters: int
    tokens: int
    flops: float
    gpu_hours: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly copy."""
        return asdict(self)

    def __str__(self) -> str:
        return (
            f"{self.gpu_hours:,.2f} {self.gpu}-hours ({self.flops:.3g} FLOPs at "
            f"{self.mfu:.0%} of {self.peak_tflops:g} TFLOP/s)"
        )


def estimate_gpu_hours(
    parameters: int,
    tokens: int,
    *,
    gpu: str = "H100",
    mfu: float = DEFAULT_MFU,
    lora: bool = False,
) -> GpuEstimate:
    """GPU-hours to train ``parameters`` on ``tokens`` (all epochs together) on one ``gpu``.

    Args:
        parameters: Model parameters.
        tokens: Tokens over the whole run: tokens per epoch times epochs.
        gpu: A GPU type (``"H100"``, ``"A100"``, ``"RTX4090"``... see :data:`GPU_PEAK_TFLOPS`).
        mfu: Assumed model FLOPs utilisation, in (0, 1].
        lora: Count ``4NT`` instead of ``6NT`` (no weight gradients for frozen weights).

    Raises:
        ConfigError: unknown GPU type or an MFU outside (0, 1].
    """
    if not 0 < mfu <= 1:
        raise ConfigError(f"mfu must be in (0, 1], got {mfu}")
    key = gpu_key(gpu)
    peak = GPU_PEAK_TFLOPS[key]
    flops = (4 if lora else 6) * float(parameters) * float(tokens)
    hours = flops / (peak * 1e12 * mfu) / 3600
    return GpuEstimate(key, peak, mfu, int(parameters), int(tokens), flops, hours)
