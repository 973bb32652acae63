"""Teacher throughput over HTTP and under a sustained rate limit, ours beside Curator's.

Two scenarios, each against a loopback provider server (OpenAI chat-completions wire format) in
its own process, answering every call after ``--latency`` seconds:

* **throughput**: ``--problems`` questions (1,000) at concurrency ``--concurrency`` (64). The
  ideal is ``problems / concurrency x latency`` (the time if the client added nothing). Then the
  same questions again, from the cache. Two diagnostic lines show where the time goes: the same
  provider's SDK calls alone (no engine, no cache), and the whole engine with the provider's
  ``openai`` SDK call swapped for plain aiohttp (same request building, parsing and errors).
* **rate limits**: ``--limited-problems`` questions (300) started at concurrency 64 against a
  server that serves ``--limit`` (8) requests at once and refuses every other one with a 429
  and ``Retry-After: --retry-after`` (1 s), for as long as the client sends too many. The ideal is
  ``problems / limit x latency``. Every row must finish, and no question may be served (charged)
  twice.

tinyreason runs in this process (the ``openai-compatible`` teacher, its SQLite cache durable, the
Dataset built at the end). Curator (bespokelabs-curator 0.1.31) runs when ``$CURATOR_PYTHON``
names an interpreter that has it (a separate venv: it is not a dependency of tinyreason): each
side's figures come from the same server, one after the other, in the same run. Only the
distilling calls are timed, not the imports; ``benchmarks/_curator_side.py`` says how Curator is
set up offline.

Run: ``CURATOR_PYTHON=/tmp/curator-venv/bin/python .venv/bin/python
benchmarks/teacher_rate_limits.py [--scenario both|throughput|rate-limits] [--problems 1000]
[--concurrency 64] [--latency 0.2] [--limited-problems 300] [--limit 8] [--retry-after 1]
[--repeats 1]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import tinyreason as tr

HERE = Path(__file__).resolve().parent
MODEL = "bench-reasoner"  # not in the price table: the benchmark prices it at 0
FREE = {MODEL: {"input": 0.0, "output": 0.0}}


class Server:
    """``_teacher_server.py`` in a subprocess: its base_url, and its counts on demand."""

    def __init__(self, latency: float, limit: int | None, retry_after: str):
        command = [sys.executable, str(HERE / "_teacher_server.py"), "--latency", str(latency)]
        if limit is not None:
            command += ["--limit", str(limit), "--retry-after", retry_after]
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.base_url = self._read()["base_url"] + "/v1"

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        return json.loads(self.proc.stdout.readline())  # type: ignore[no-any-return]

    def command(self, name: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(name + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@contextmanager
def server(latency: float, limit: int | None = None, retry_after: str = "1") -> Iterator[Server]:
    s = Server(latency, limit, retry_after)
    try:
        yield s
    finally:
        s.close()


def problems(n: int, prefix: str) -> list[tr.Problem]:
    # The same questions Curator is asked (benchmarks/_curator_side.py).
    return [tr.Problem(f"p{i}", f"{prefix} {i}: what is {i} squared?") for i in range(n)]


def ours(
    srv: Server,
    n: int,
    concurrency: int,
    prefix: str,
    rerun: bool = True,
    teacher_class: Any = None,
) -> dict[str, Any]:
    srv.command("reset")
    items = problems(n, prefix)
    with tempfile.TemporaryDirectory() as folder:
        cache = Path(folder) / "cache.sqlite"
        options: dict[str, Any] = {
            "model": MODEL,
            "base_url": srv.base_url,
            "api_key": "sk-benchmark",
            "concurrency": concurrency,
            "prices": FREE,
        }
        if teacher_class is None:
            teacher = tr.teacher("openai-compatible", **options)
        else:  # the diagnostic plain-HTTP teacher
            teacher = teacher_class(**options)
        start, cpu = time.perf_counter(), time.process_time()
        ds = teacher.distill(items, cache=cache, progress=False)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        summary = teacher.last_summary
        assert summary is not None
        result: dict[str, Any] = {
            "elapsed": elapsed,
            "cpu": cpu,
            "rows": len(ds),
            "done": sum(e is None for e in ds["error"]),
            "requests": summary.requests,
            "server": srv.command("stats"),
        }
        if rerun:
            start = time.perf_counter()
            again = teacher.distill(items, cache=cache, progress=False)
            result["cached_elapsed"] = time.perf_counter() - start
            assert again["attempt"] == ds["attempt"]
            assert teacher.last_summary is not None and teacher.last_summary.requests == 0
    return result


def curator(
    srv: Server, n: int, concurrency: int, prefix: str, rerun: bool = True
) -> dict[str, Any] | None:
    python = os.environ.get("CURATOR_PYTHON")
    if not python:
        return None
    srv.command("reset")
    with tempfile.TemporaryDirectory() as folder:
        command = [
            python,
            str(HERE / "_curator_side.py"),
            "--base-url",
            srv.base_url,
            "--problems",
            str(n),
            "--concurrency",
            str(concurrency),
            "--cache-dir",
            folder,
            "--prefix",
            prefix,
            "--model",
            MODEL,
        ]
        if not rerun:
            command.append("--no-rerun")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
        env["HOME"] = folder  # nothing of Curator's lands in the user's home
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600)
        if done.returncode != 0:
            print(done.stderr[-3000:], file=sys.stderr)
            raise SystemExit(f"Curator's side failed (exit {done.returncode})")
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    stats = srv.command("stats")
    result["requests"] = stats["requests"] - 1  # Curator's rate-limit probe at start-up
    result["server"] = stats
    return result


def sdk_alone(srv: Server, n: int, concurrency: int, prefix: str) -> dict[str, Any]:
    """The floor under the engine: the same provider's calls, 64 at a time, nothing else.

    No cache, no retries, no rate limits, no Dataset: what the ``openai`` SDK itself costs
    against this server, so that the engine's own overhead is the difference.
    """
    from tinyreason.teachers.base import TeacherRequest
    from tinyreason.teachers.openai_compatible import OpenAICompatibleProvider

    srv.command("reset")

    async def go() -> None:
        provider = OpenAICompatibleProvider(MODEL, api_key="sk-benchmark", base_url=srv.base_url)
        gate = asyncio.Semaphore(concurrency)

        async def one(p: tr.Problem) -> None:
            async with gate:
                await provider.complete(TeacherRequest(p.id, p.question, MODEL))

        await asyncio.gather(*(one(p) for p in problems(n, prefix)))
        await provider.aclose()

    start, cpu = time.perf_counter(), time.process_time()
    asyncio.run(go())
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {
        "elapsed": elapsed,
        "cpu": cpu,
        "rows": n,
        "done": n,
        "requests": n,
        "server": srv.command("stats"),
    }


def plain_http_teacher() -> Any:
    """Diagnostic: the ``openai-compatible`` teacher with its SDK call swapped for plain aiohttp.

    Same engine, cache, request building (``_params``), reply parsing (``_reply``) and error
    mapping (``status_error``); only the HTTP client differs. It shows what the engine costs when
    the ``openai`` SDK's per-call work (request transform, httpx, pydantic models) is taken out.
    Not a tinyreason feature: None when aiohttp is not installed.
    """
    try:
        import aiohttp
    except ImportError:
        return None
    from types import SimpleNamespace

    from tinyreason.teachers._http import status_error
    from tinyreason.teachers.openai_compatible import (
        OpenAICompatibleProvider,
        OpenAICompatibleTeacher,
    )

    def namespace(value: Any) -> Any:
        if isinstance(value, dict):
            return SimpleNamespace(**{k: namespace(v) for k, v in value.items()})
        return [namespace(v) for v in value] if isinstance(value, list) else value

    class PlainHTTPProvider(OpenAICompatibleProvider):
        async def complete(self, request: Any) -> Any:
            if not hasattr(self, "_session"):
                self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
            params = self._params(request)
            url = str(self.base_url).rstrip("/") + "/chat/completions"
            headers = {"Authorization": f"Bearer {self._secret}"}
            async with self._session.post(url, json=params, headers=headers) as response:
                body = json.loads(await response.read() or b"null")
                if response.status >= 400:
                    raise status_error(self.name, response.status, body, dict(response.headers))
            return self._reply(namespace(body), params["model"])

        async def aclose(self) -> None:
            if hasattr(self, "_session"):
                await self._session.close()
            await super().aclose()

    class PlainHTTPTeacher(OpenAICompatibleTeacher):
        def make_provider(self) -> Any:
            provider = super().make_provider()
            provider.__class__ = PlainHTTPProvider
            return provider

    return PlainHTTPTeacher


def line(name: str, r: dict[str, Any], ideal: float) -> str:
    s = r["server"]
    return (
        f"  {name:<11} {r['elapsed']:7.3f} s  {r['elapsed'] / ideal:5.2f}x ideal   rows "
        f"{r['done']:,}/{r['rows']:,}   requests {r['requests']:,}   429s {s['refused']:,}   "
        f"charged twice {s['charged_twice']}   client CPU {r['cpu']:.2f} s"
    )


def run_throughput(args: argparse.Namespace) -> None:
    n, c, latency = args.problems, args.concurrency, args.latency
    ideal = n / c * latency
    print(f"throughput: {n:,} problems, concurrency {c}, server latency {latency:g} s")
    print(f"  ideal {n:,} / {c} x {latency:g} s = {ideal:.3f} s")
    with server(latency) as srv:
        for repeat in range(args.repeats):
            prefix = f"Question r{repeat}"
            mine = ours(srv, n, c, prefix)
            theirs = curator(srv, n, c, prefix)
            floor = sdk_alone(srv, n, c, prefix + " sdk")
            plain = plain_http_teacher()
            light = None if plain is None else ours(srv, n, c, prefix + " plain", False, plain)
            print(line("tinyreason", mine, ideal))
            if theirs is not None:
                print(line("curator", theirs, ideal))
            print(line("openai SDK", floor, ideal) + "  (the SDK alone: no engine, no cache)")
            if light is not None:
                print(line("plain HTTP", light, ideal) + "  (diagnostic: our engine, aiohttp)")
            cached = f"  cached re-run: tinyreason {mine['cached_elapsed']:.3f} s"
            if theirs is not None:
                cached += f", curator {theirs['cached_elapsed']:.3f} s"
            print(cached)


def run_rate_limits(args: argparse.Namespace) -> None:
    n, c, k, latency = args.limited_problems, args.concurrency, args.limit, args.latency
    ideal = n / k * latency
    print(
        f"rate limits: {n:,} problems started at concurrency {c}; the server serves {k} at "
        f"once, 429 + Retry-After: {args.retry_after} for the rest; latency {latency:g} s"
    )
    print(f"  ideal {n:,} / {k} x {latency:g} s = {ideal:.3f} s")
    ratios = []
    with server(latency, k, args.retry_after) as srv:
        for repeat in range(args.repeats):
            prefix = f"Limited r{repeat}"
            mine = ours(srv, n, c, prefix, rerun=False)
            ratios.append(mine["elapsed"] / ideal)
            print(line("tinyreason", mine, ideal))
            theirs = curator(srv, n, c, prefix, rerun=False)
            if theirs is not None:
                print(line("curator", theirs, ideal))
    if len(ratios) > 1:
        print(f"  tinyreason median {statistics.median(ratios):.2f}x ideal")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=("both", "throughput", "rate-limits"), default="both")
    parser.add_argument("--problems", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--latency", type=float, default=0.2)
    parser.add_argument("--limited-problems", type=int, default=300)
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--retry-after", default="1")
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()

    python = sys.version.split()[0]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {python}")
    print(f"curator: {os.environ.get('CURATOR_PYTHON') or 'not run (set CURATOR_PYTHON)'}")
    # Warm-up, not timed: imports (openai, datasets), the price table, one connection.
    with server(0.0) as srv:
        ours(srv, 2, 2, "Warm-up", rerun=False)
    if args.scenario in ("both", "throughput"):
        run_throughput(args)
    if args.scenario in ("both", "rate-limits"):
        run_rate_limits(args)


if __name__ == "__main__":
    main()
