"""What s1's budget forcing costs on top of plain generation, with and without waits.

Three ways to produce about the same number of tokens for a batch of prompts, on one local model:

* plain: ``model.generate`` with no control, ``min_new_tokens = max_new_tokens = T``;
* forced: tinyreason's :class:`TransformersBackend` with ``ThinkingControl(max_thinking=T - tail)``:
  s1's loop with no wait is one thinking round that runs out of budget, the forced end, and one
  answer round (a second ``generate`` call that re-reads prompt and thinking);
* waits: the same loop when the model stops and is sent on ``waits`` times (what
  ``thinking_n_ignore`` does): ``waits + 1`` thinking segments, each a ``generate`` call on the
  whole text so far (re-prefill, no KV cache kept between rounds), as s1's fork drives vLLM. The
  random model never stops by itself, so the segments are cut by length here.

Reported as ratios of seconds per generated token against plain, measured in the same run
(median of ``--repeats`` interleaved runs).

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
    control = tr.ThinkingControl(max_thinking=T - tail, final_answer_text=None, max_answer_tokens=4)

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
        # Tokens each row generated or was given: thinking, the appended end, the answer.
        return sum(len(g[0].token_ids or ()) for g in gens)

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

    runs: dict[str, list[float]] = {"plain": [], "forced": [], "waits": []}
    for fn in (plain, forced, restart):
        fn()  # warm-up
    for _ in range(args.repeats):
        for name, fn in (("plain", plain), ("forced", forced), ("waits", restart)):
            start = time.perf_counter()
            tokens = fn()
            runs[name].append((time.perf_counter() - start) / tokens)

    per_token = {name: statistics.median(times) for name, times in runs.items()}
    print(
        f"model: {sum(p.numel() for p in model.parameters()):,} parameters, "
        f"{torch.get_num_threads()} threads; batch {args.batch}, {T} tokens per row, "
        f"waits run in {args.waits + 1} segments; median of {args.repeats}"
    )
    for name in ("plain", "forced", "waits"):
        print(
            f"{name:>8}: {1e6 * per_token[name]:8.1f} us/token   "
            f"ratio to plain {per_token[name] / per_token['plain']:.3f}"
        )
    print(f"forced / plain = {per_token['forced'] / per_token['plain']:.3f}")
    print(f"waits / plain  = {per_token['waits'] / per_token['plain']:.3f}")


if __name__ == "__main__":
    main()
