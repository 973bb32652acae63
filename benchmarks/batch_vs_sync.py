"""Sync vs batch distillation of 1,000 problems on the loopback fakes: requests, dollars, polls.

Both runs use the ``openai-compatible`` teacher and the same price table; the synchronous run goes
through the chat-completions fake (:class:`~tinyreason.testing.ProviderServer`), the batch run
through the Batch API fake (:class:`~tinyreason.testing.batch_server.OpenAIBatchServer`), whose
batch finishes after ``--hours`` of fake time. Polling starts at ``--poll-interval`` seconds and
doubles up to 600 s; the waits advance a fake clock, nothing is slept.

    .venv/bin/python benchmarks/batch_vs_sync.py --problems 1000
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import tinyreason as tr
from tinyreason.testing.batch_server import OpenAIBatchServer
from tinyreason.testing.provider_server import ProviderServer

PRICES = {"m": {"input": 1.25, "output": 10.0, "thinking": 10.0}}  # USD per 1M tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--problems", type=int, default=1000)
    parser.add_argument("--hours", type=float, default=6.0, help="fake time a batch takes")
    parser.add_argument("--poll-interval", type=float, default=30.0)
    args = parser.parse_args()
    problems = [tr.Problem(f"p{i}", f"What is {i} * 7?") for i in range(args.problems)]
    folder = Path(tempfile.mkdtemp(prefix="tinyreason-batch-bench-"))

    with ProviderServer() as chat:
        sync = tr.teacher(
            "openai-compatible", model="m", base_url=chat.base_url, prices=PRICES, concurrency=64
        )
        sync.distill(problems, cache=folder / "sync.sqlite", progress=False)
        sync_requests, sync_usd = len(chat.requests), sync.last_summary.cost_usd

    waits: list[float] = []
    with OpenAIBatchServer(never_finish=True, polls_to_finish=0) as server:

        def sleep(seconds: float) -> None:  # the fake clock: the batch is done after --hours
            waits.append(seconds)
            if sum(waits) >= args.hours * 3600:
                server.never_finish = False

        teacher = tr.teacher(
            "openai-compatible", model="m", base_url=server.base_url, prices=PRICES
        )
        run = teacher.distill(
            problems, cache=folder / "batch.sqlite", batch=True, wait=False, progress=False
        )
        run.collect(poll_interval=args.poll_interval, sleep=sleep)
        downloads = len([f for f in server.files if f.startswith(("file-out", "file-err"))])
        api_calls = server.uploads + server.creates + server.retrieves + downloads
        report = run.report
        batch_requests = sum(server.billed.values())

    fixed = int(args.hours * 3600 / args.poll_interval)
    print(f"{args.problems:,} problems, price in/out/thinking {PRICES['m']} USD per 1M tokens")
    print(f"sync : {sync_requests:>6,} chat requests        ${sync_usd:.4f}")
    print(
        f"batch: {batch_requests:>6,} billed batch requests  ${report.cost_usd:.4f} "
        f"(same replies at sync price: ${report.sync_cost_usd:.4f})"
    )
    print(
        f"batch API calls: {server.uploads} upload, {server.creates} create, "
        f"{report.polls} polls (retrieves {server.retrieves}), "
        f"{downloads} download(s); {api_calls} in all"
    )
    print(
        f"polling: {len(waits)} waits over {sum(waits) / 3600:.1f} h of fake time for a "
        f"{args.hours:g} h batch (back-off {args.poll_interval:g} s doubling to 600 s; a fixed "
        f"{args.poll_interval:g} s interval would poll {fixed} times)"
    )


if __name__ == "__main__":
    main()
