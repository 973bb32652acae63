"""Teacher engine throughput against a fake provider with a fixed latency, and a cached re-run.

1,000 problems at concurrency C against a provider that answers every call after L seconds
should take close to 1000 / C x L (the bound if the engine added nothing). We print the measured
time, that bound and their ratio (target: at most 1.2x at C=64, L=0.2 s), then re-run the same
1,000 problems against the filled cache: it must make zero requests.

Everything the engine does in a real run is included: the SQLite cache in WAL mode with a
durable (fsynced) group commit per batch of replies, cost accounting and the Dataset at the end.

Run: ``.venv/bin/python benchmarks/teacher_throughput.py [--problems 1000] [--concurrency 64]
[--latency 0.2] [--progress]``
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import tinyreason as tr
from tinyreason.testing import FakeProviderTeacher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--progress", action="store_true", help="show the progress bar")
    args = parser.parse_args()
    n, c, latency = args.problems, args.concurrency, args.latency

    problems = [tr.Problem(f"p{i}", f"Question {i}: what is {i} squared?") for i in range(n)]
    # Warm-up (imports datasets, builds the table of prices), not timed.
    FakeProviderTeacher().distill(problems[:2], cache=False, progress=False)

    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder) / "cache.sqlite"
        teacher = FakeProviderTeacher(latency=latency, concurrency=c)
        start = time.perf_counter()
        ds = teacher.distill(problems, cache=cache, progress=args.progress)
        elapsed = time.perf_counter() - start
        assert len(ds) == n and all(e is None for e in ds["error"])

        bound = n / c * latency
        waves = math.ceil(n / c) * latency
        python = sys.version.split()[0]
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {python}")
        print(f"first run: {n:,} problems, concurrency {c}, latency {latency:g} s")
        print(f"  requests made:              {teacher.stats.total:,}")
        print(f"  measured:                   {elapsed:.3f} s")
        print(f"  bound 1000/C x L:           {bound:.3f} s  (ratio {elapsed / bound:.3f}x)")
        print(f"  bound in whole waves:       {waves:.3f} s  (ratio {elapsed / waves:.3f}x)")
        print(f"  max calls in flight:        {teacher.stats.max_in_flight}")

        again = FakeProviderTeacher(latency=latency, concurrency=c)
        start = time.perf_counter()
        ds2 = again.distill(problems, cache=cache, progress=args.progress)
        cached_elapsed = time.perf_counter() - start
        assert ds2["attempt"] == ds["attempt"]
        summary = again.last_summary
        assert summary is not None
        print(f"cached re-run of the same {n:,}:")
        print(f"  requests made:              {again.stats.total:,} (summary: {summary.requests})")
        print(f"  from the cache:             {summary.cached:,}")
        print(f"  measured:                   {cached_elapsed:.3f} s")


if __name__ == "__main__":
    main()
