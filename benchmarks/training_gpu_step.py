"""A real-size training step on one GPU: tokens per second and model FLOPs utilisation (MFU).

Builds a Qwen2.5-shaped decoder locally with random weights (``--shape 0.5b`` or ``1.5b``: Qwen2.5's
widths, depths, heads and vocabulary; the tokenizer is tinyreason's small test one, so only the
first 512 embedding rows are used) and trains it with tinyreason's trainers as a user would on a
GPU: bf16 and gradient checkpointing on (the s1 preset's GPU defaults), sdpa attention. Rows are
synthetic traces with lengths spread over ``--min-tokens``..``--max-tokens``.

MFU = 6 N T / (step time x peak): ``N`` every parameter (the tied embedding is also the output
head, which costs its matmul), ``T`` real tokens per step, peak the GPU's dense bf16 TFLOP/s from
``tinyreason.training.GPU_PEAK_TFLOPS``. Gradient checkpointing recomputes the forward pass (8NT
hardware FLOPs), which MFU does not count. LoRA rows use 4NT (no weight gradients).

Run (GPU): ``python benchmarks/training_gpu_step.py --shape 0.5b``; ``--shape tiny`` checks the
script on a CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
import warnings
from pathlib import Path

import torch

import tinyreason as tr
from tinyreason.training import GPU_PEAK_TFLOPS
from tinyreason.training.estimate import gpu_key

SHAPES = {  # Qwen2.5 configs (hidden, intermediate, layers, heads, kv heads, vocabulary)
    "tiny": (64, 128, 2, 4, 2, 512),
    "0.5b": (896, 4864, 24, 14, 2, 151936),
    "1.5b": (1536, 8960, 28, 12, 2, 151936),
}


def build(shape: str, folder: Path) -> Path:
    from transformers import Qwen2Config, Qwen2ForCausalLM

    hidden, inter, layers, heads, kv, vocab = SHAPES[shape]
    tokenizer = tr.testing.tiny_tokenizer()
    config = Qwen2Config(
        vocab_size=max(vocab, len(tokenizer)),
        hidden_size=hidden,
        intermediate_size=inter,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=kv,
        max_position_embeddings=32768,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def traces(rows: int, low: int, high: int):
    import random

    rng = random.Random(0)
    teacher = tr.testing.FakeTeacher()
    problems = [tr.Problem(f"p{i}", f"Add {i} and {i + 1}.", answer="x") for i in range(rows)]
    for _ in range(rows):
        steps = rng.randint(low, high) // 4  # about 4 tokens per "a + b" step here
        sums = " ".join(f"{rng.randint(1, 9)} + {rng.randint(1, 9)}" for _ in range(steps))
        teacher.enqueue(sums, "x")
    return teacher.distill(problems)


def run(base: Path, data, kind: str, args: argparse.Namespace, **options) -> dict:
    from transformers import TrainerCallback

    extra = {"lora_r": 16} if kind == "lora" else {}
    batch, per_device = options.pop("batch", args.batch), options.pop("per_device", args.batch)
    trainer = tr.trainer(
        kind,
        base=str(base),
        format="think-tags",
        output_dir=str(base.parent / f"{kind}-{len(options)}"),
        max_steps=args.steps,
        batch_size=batch,
        per_device_batch_size=per_device,
        block_size=args.block,
        learning_rate=1e-5,
        progress=False,
        **extra,
        **options,
    )
    sft = trainer.sft_trainer(data)
    times: list[float] = []
    tokens: list[int] = []

    class Clock(TrainerCallback):
        # The Trainer collates a step's batches before on_step_begin, so a step's tokens are what
        # the collator counted since the previous step ended.
        counted = 0

        def on_step_begin(self, *a, **k):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.start = time.perf_counter()

        def on_step_end(self, *a, **k):
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            times.append(time.perf_counter() - self.start)
            tokens.append(sft.data_collator.tokens - self.counted)
            self.counted = sft.data_collator.tokens

    sft.add_callback(Clock())
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        sft.train()
    n = sum(p.numel() for p in sft.model.parameters())
    keep = slice(2, None)  # the first steps warm up kernels and the allocator
    step = statistics.median(times[keep])
    per_s = sum(tokens[keep]) / sum(times[keep])
    peak = GPU_PEAK_TFLOPS[args.gpu] * 1e12
    flops = (4 if kind == "lora" else 6) * n * per_s
    return {
        "kind": kind,
        "batching": "packed" if options.get("packing") else "padded",
        "parameters": n,
        "step_s": step,
        "tokens_per_step": statistics.median(tokens[keep]),
        "tokens_per_s": per_s,
        "mfu": flops / peak,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0,
        "bf16": bool(sft.args.bf16),
        "checkpointing": bool(sft.args.activation_checkpointing),
        # Full fine-tuning keeps float32 master weights under bf16 autocast (see SFTTrainerBase).
        "weights": str(next(p for p in sft.model.parameters() if p.requires_grad).dtype),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", default="0.5b", choices=list(SHAPES))
    parser.add_argument("--rows", type=int, default=64)
    parser.add_argument("--min-tokens", type=int, default=512)
    parser.add_argument("--max-tokens", type=int, default=4096)
    parser.add_argument("--batch", type=int, default=8, help="rows per padded batch (one GPU)")
    parser.add_argument("--block", type=int, default=8192, help="block size; packed block")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--runs", default="full,lora,full-packed")
    parser.add_argument("--gpu", default=None, help="GPU type for MFU (default: this one)")
    args = parser.parse_args()
    if args.gpu is None:
        name = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "H100"
        args.gpu = gpu_key(name)
    base = build(args.shape, Path(tempfile.mkdtemp(prefix="tinyreason-gpu-")) / "base")
    data = traces(args.rows, args.min_tokens, args.max_tokens)
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"
    print(
        f"{args.shape} shape on {device} (MFU against {args.gpu} peak), torch {torch.__version__}"
    )
    results = []
    for name in args.runs.split(","):
        kind, _, variant = name.partition("-")
        options = {"packing": True, "batch": 1, "per_device": 1} if variant == "packed" else {}
        results.append(run(base, data, kind, args, **options))
        r = results[-1]
        print(
            f"{name:<12} {r['parameters'] / 1e6:7.1f}M  step {r['step_s']:.3f} s  "
            f"{r['tokens_per_step']:>7.0f} tok/step  {r['tokens_per_s']:>9.0f} tok/s  "
            f"MFU {r['mfu']:.1%}  peak {r['peak_gib']:.1f} GiB  bf16={r['bf16']} "
            f"checkpointing={r['checkpointing']} trained weights {r['weights']}",
            flush=True,
        )
    print(json.dumps(results))


if __name__ == "__main__":
    main()
