"""Curator's side of ``benchmarks/teacher_rate_limits.py``: the same questions, the same server.

Run in Curator's own interpreter (``$CURATOR_PYTHON``, a venv with bespokelabs-curator 0.1.31 and
not tinyreason), by the benchmark, which starts the server and reads the one JSON line printed
here. Curator runs as a user would run it offline: its OpenAI backend against the server's
``base_url``, ``max_concurrent_requests`` set and its per-minute limits out of the way (the
server sends no rate-limit headers), its other settings (retries, pauses) at their defaults, with

* telemetry off (``TELEMETRY_ENABLED=false``) and no viewer (``CURATOR_VIEWER`` unset);
* litellm's cost map read from the copy it ships (``LITELLM_LOCAL_MODEL_COST_MAP=True``), not
  downloaded;
* tiktoken's ``cl100k_base`` read from the copy litellm ships (``TIKTOKEN_CACHE_DIR`` pointed at
  litellm's tokenizers folder, which holds it under tiktoken's cache name), not downloaded;
* its cache in a fresh folder (``CURATOR_CACHE_DIR``), so the first run calls the server for every
  question and the second one reads them all back.

Only the ``llm(questions)`` calls are timed, not the imports.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def offline_settings(cache_dir: str) -> None:
    """Curator's environment for a machine without the internet (before it is imported)."""
    os.environ["TELEMETRY_ENABLED"] = "false"
    os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    os.environ["CURATOR_CACHE_DIR"] = cache_dir
    os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark")
    os.environ.pop("CURATOR_VIEWER", None)
    import importlib.util

    spec = importlib.util.find_spec("litellm")
    if spec is not None and spec.origin is not None:
        tokenizers = Path(spec.origin).parent / "litellm_core_utils" / "tokenizers"
        if tokenizers.is_dir():
            os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(tokenizers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--problems", type=int, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--cache-dir", required=True)
    parser.add_argument("--prefix", default="Question")
    parser.add_argument("--model", default="bench-reasoner")
    parser.add_argument("--no-rerun", action="store_true")
    args = parser.parse_args()
    offline_settings(args.cache_dir)

    import logging

    from bespokelabs import curator

    logging.getLogger("bespokelabs.curator").setLevel(logging.ERROR)
    questions = [f"{args.prefix} {i}: what is {i} squared?" for i in range(args.problems)]
    llm = curator.LLM(
        model_name=args.model,
        backend="openai",
        backend_params={
            "base_url": args.base_url,
            "api_key": "sk-benchmark",
            "max_concurrent_requests": args.concurrency,
            # The server sends no rate-limit headers: without these Curator would pace itself
            # at its defaults (200 requests / 100,000 tokens a minute), not at the concurrency.
            "max_requests_per_minute": 10_000_000,
            "max_tokens_per_minute": 10_000_000_000,
            "require_all_responses": False,
        },
    )
    start, cpu = time.perf_counter(), time.process_time()
    first = llm(questions)
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    rows = first.dataset if hasattr(first, "dataset") else first
    done = sum(1 for r in rows if r.get("response"))
    result = {"elapsed": elapsed, "cpu": cpu, "rows": len(rows), "done": done}
    if not args.no_rerun:
        start = time.perf_counter()
        llm(questions)
        result["cached_elapsed"] = time.perf_counter() - start
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
