"""What budget forcing costs on top of plain generation, and what restarting would cost instead.

Three ways to produce the same number of tokens for a batch of prompts, on one local model:

* plain: ``model.generate`` with no processor, ``min_new_tokens = max_new_tokens = T``;
* forced: tinyreason's :class:`TransformersBackend` with a :class:`ThinkingControl` that makes the
  model think exactly ``T - tail`` tokens (``min_thinking = max_thinking``) then closes thinking and
  answers for the rest: one ``generate`` call with the logits processor;
* restart: the s1-script way on an engine without a processor: generate a segment, stop, append
  the wait text, call ``generate`` again on the whole text so far (re-prefill, no KV cache reuse),
  ``waits + 1`` segments in all.

Reported as ratios of seconds per generated token against plain, measured in the same run
(median of ``--repeats`` interleaved runs). Target: forced / plain <= 1.05.

Run: ``.venv/bin/python benchmarks/budget_forcing_overhead.py``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

import tinyreason as tr
from tinyreason.scaling import TransformersBackend
from tinyreason.testing import tiny_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tokens", type=int, default=256, help="tokens generated per row (T)")
    parser.add_argument("--batch", type=int, default=16, help="prompts per batch")
    parser.add_argument("--waits", type=int, default=3, help="restarts for the restart baseline")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=128, help="model width (the demo's: 128)")
    parser.add_argument("--layers", type=int, default=3)
    args = parser.parse_args()
    torch.manual_seed(0)

    folder = tiny_model(
        Path(tempfile.mkdtemp()) / "model", hidden_size=args.hidden, num_layers=args.layers
    )
    backend = TransformersBackend(
        folder, format="think-tags", batch_size=args.batch, progress=False
    )
    model, tokenizer = backend.model, backend.tokenizer
    prompts = [
        backend.prompt(f"What is {i} times {i + 3}? Think it through.") for i in range(args.batch)
    ]
    T = args.tokens
    tail = 8  # forced delimiter + a short answer
    control = tr.ThinkingControl(
        max_thinking=T - tail, min_thinking=T - tail, final_answer_text=None, max_answer_tokens=4
    )

    def plain() -> int:
        enc = tokenizer(prompts, return_tensors="pt", padding=True, padding_side="left")
        with torch.inference_mode():
            out = model.generate(
                **enc,
                do_sample=False,
                max_new_tokens=T,
                min_new_tokens=T,
                pad_token_id=tokenizer.pad_token_id,
            )
        return (out.shape[1] - enc["input_ids"].shape[1]) * len(prompts)

    def forced() -> int:
        gens = backend.generate(prompts, control=control, max_new_tokens=T + 16)
        # Tokens each row actually generated: thinking, the forced text, the answer, the end.
        return sum(
            g[0].thinking_tokens
            + g[0].answer_tokens
            + len(tokenizer.encode(backend.format.forced_end(None), add_special_tokens=False))
            + 1
            for g in gens
        )

    def restart() -> int:
        texts = list(prompts)
        segment = T // (args.waits + 1)
        generated = 0
        for i in range(args.waits + 1):
            enc = tokenizer(texts, return_tensors="pt", padding=True, padding_side="left")
            with torch.inference_mode():
                out = model.generate(
                    **enc,
                    do_sample=False,
                    max_new_tokens=segment,
                    min_new_tokens=segment,
                    pad_token_id=tokenizer.pad_token_id,
                )
            new = out[:, enc["input_ids"].shape[1] :]
            generated += new.numel()
            pieces = tokenizer.batch_decode(new, skip_special_tokens=False)
            texts = [
                t + p + ("Wait" if i < args.waits else "")
                for t, p in zip(texts, pieces, strict=True)
            ]
        return generated

    runs: dict[str, list[float]] = {"plain": [], "forced": [], "restart": []}
    for fn in (plain, forced, restart):
        fn()  # warm-up
    for _ in range(args.repeats):
        for name, fn in (("plain", plain), ("forced", forced), ("restart", restart)):
            start = time.perf_counter()
            tokens = fn()
            runs[name].append((time.perf_counter() - start) / tokens)

    per_token = {name: statistics.median(times) for name, times in runs.items()}
    print(
        f"model: {sum(p.numel() for p in model.parameters()):,} parameters, "
        f"{torch.get_num_threads()} threads; batch {args.batch}, {T} tokens per row, "
        f"restart baseline in {args.waits + 1} segments; median of {args.repeats}"
    )
    for name in ("plain", "forced", "restart"):
        print(
            f"{name:>8}: {1e6 * per_token[name]:8.1f} us/token   "
            f"ratio to plain {per_token[name] / per_token['plain']:.3f}"
        )
    print(f"forced / plain  = {per_token['forced'] / per_token['plain']:.3f}  (target <= 1.05)")
    print(f"restart / forced = {per_token['restart'] / per_token['forced']:.3f}")


if __name__ == "__main__":
    main()
