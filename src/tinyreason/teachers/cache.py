"""The persistent reply cache: one SQLite row per cache key, committed before a reply is used.

Design:

* **WAL journal.** Readers never block the writer, and a process killed mid-write (SIGKILL, a
  crash, a closed laptop) leaves the file consistent: a committed row is there on restart, an
  uncommitted one is simply absent.
* **One writer thread, group commit.** Every write goes through a single background thread with
  its own connection, so the asyncio engine never blocks on disk and writes are serialised by
  construction. The thread takes whatever rows are waiting, writes them in one transaction, commits
  (an fsync with ``durable=True``), and only then releases the callers awaiting them. So a reply is
  on disk before the engine counts it done, and a burst of 64 replies costs one fsync, not 64.
* **Reads** use a second connection (WAL lets it read while the writer writes).
* **What a row holds:** the reply JSON, or the failure reason and message; the tokens, cost,
  model, attempts, creation time, and the request (question, system prompt, settings) so a cache
  file can be audited. Never the API key: requests do not carry it and messages are scrubbed
  before they get here.

One process should write a cache file at a time (a second one waits on SQLite's lock, up to
``busy_timeout``); any number may read it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import queue
import shutil
import sqlite3
import tempfile
import threading
import time
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError, TinyReasonError
from ..records import Usage
from .base import FAILURE_REASONS, TeacherReply

__all__ = [
    "CACHE_ENV",
    "REFRESH_CHOICES",
    "CacheEntry",
    "ReplyCache",
    "check_refresh",
    "default_cache_path",
]

SCHEMA_VERSION = 1

#: What ``refresh=`` accepts: "truncated" (finish_reason "length"), "failed" (any stored failure),
#: one failure reason (e.g. "safety", "timeout"), or "all".
REFRESH_CHOICES: tuple[str, ...] = ("truncated", "failed", "all", *FAILURE_REASONS)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    key TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    finish_reason TEXT NOT NULL,
    reply TEXT,
    reason TEXT,
    message TEXT,
    input_tokens INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    thinking_tokens INTEGER NOT NULL DEFAULT 0,
    cost_usd REAL,
    attempts INTEGER NOT NULL DEFAULT 1,
    request TEXT,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS replies_by_model ON replies (provider, model);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

_COLUMNS = (
    "key, provider, model, status, finish_reason, reply, reason, message, input_tokens, "
    "output_tokens, thinking_tokens, cost_usd, attempts, request, created"
)


def check_refresh(refresh: str | Iterable[str]) -> frozenset[str]:
    """Validate ``refresh=``; a single string counts as one choice.

    Raises:
        ConfigError: an unknown choice.

    Example:
        >>> sorted(check_refresh(("truncated", "failed")))
        ['failed', 'truncated']
    """
    chosen = frozenset([refresh] if isinstance(refresh, str) else refresh)
    unknown = sorted(chosen - set(REFRESH_CHOICES))
    if unknown:
        raise ConfigError(
            f"refresh={unknown} is not understood; use any of {', '.join(REFRESH_CHOICES)} "
            "(e.g. refresh=('truncated', 'failed') re-asks truncated and failed replies)."
        )
    return chosen


@dataclass(frozen=True)
class CacheEntry:
    """One cached outcome: a reply, or a failure with its reason.

    Args:
        key: The cache key (see :meth:`~tinyreason.teachers.base.TeacherRequest.cache_key`).
        provider: The provider's name.
        model: The model asked.
        reply: The reply, or None for a failure.
        reason: The failure reason (one of ``FAILURE_REASONS``), or None.
        message: The failure message (already scrubbed of secrets), or None.
        cost_usd: What the call cost, None when unknown.
        attempts: How many calls it took (retries included).
        request: The question, system prompt and settings, for auditing.
        created: When it was stored (seconds since the epoch).

    Example:
        >>> e = CacheEntry("k", "gemini", "gemini-2.5-flash", reply=TeacherReply("t", "42", "raw"))
        >>> e.ok, e.finish_reason
        (True, 'stop')
    """

    key: str
    provider: str
    model: str
    reply: TeacherReply | None = None
    reason: str | None = None
    message: str | None = None
    cost_usd: float | None = None
    attempts: int = 1
    request: Mapping[str, Any] = field(default_factory=dict)
    created: float = 0.0

    @property
    def ok(self) -> bool:
        """True for a reply, False for a failure."""
        return self.reply is not None

    @property
    def finish_reason(self) -> str:
        """The reply's finish reason, or ``"error"`` for a failure."""
        return self.reply.finish_reason if self.reply is not None else "error"

    @property
    def usage(self) -> Usage:
        """Tokens used (zero for a failure)."""
        return self.reply.usage if self.reply is not None else Usage()

    def matches(self, refresh: Collection[str]) -> bool:
        """Whether ``refresh=`` asks to re-ask this entry."""
        if "all" in refresh:
            return True
        if self.reply is None:
            return "failed" in refresh or self.reason in refresh
        return "truncated" in refresh and self.reply.finish_reason == "length"


def _row(entry: CacheEntry) -> tuple[Any, ...]:
    reply = entry.reply
    reply_json = None
    if reply is not None:
        reply_json = json.dumps(
            {
                "thinking": reply.thinking,
                "answer": reply.answer,
                "thinking_kind": reply.thinking_kind,
                "finish_reason": reply.finish_reason,
                "model": reply.model,
            },
            ensure_ascii=False,
        )
    usage = entry.usage
    return (
        entry.key,
        entry.provider,
        entry.model,
        "ok" if reply is not None else "failed",
        entry.finish_reason,
        reply_json,
        entry.reason,
        entry.message,
        usage.input_tokens,
        usage.output_tokens,
        usage.thinking_tokens,
        entry.cost_usd,
        entry.attempts,
        json.dumps(dict(entry.request), ensure_ascii=False, sort_keys=True, default=str),
        entry.created or time.time(),
    )


def _entry(row: sqlite3.Row) -> CacheEntry:
    reply = None
    usage = Usage(row["input_tokens"], row["output_tokens"], row["thinking_tokens"])
    if row["status"] == "ok":
        data = json.loads(row["reply"])
        reply = TeacherReply(
            thinking=data["thinking"],
            answer=data["answer"],
            thinking_kind=data["thinking_kind"],
            finish_reason=data["finish_reason"],
            usage=usage,
            model=data.get("model", ""),
        )
    return CacheEntry(
        key=row["key"],
        provider=row["provider"],
        model=row["model"],
        reply=reply,
        reason=row["reason"],
        message=row["message"],
        cost_usd=row["cost_usd"],
        attempts=row["attempts"],
        request=json.loads(row["request"] or "{}"),
        created=row["created"],
    )


#: Who waits for a write: a thread (a concurrent future) or an event loop (its loop and future).
_Waiter = concurrent.futures.Future | tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class _Writer(threading.Thread):
    """The single writer: group-commits queued rows, then releases everyone who waits for them."""

    MAX_BATCH = 512

    def __init__(self, path: Path, durable: bool):
        super().__init__(name="tinyreason-cache-writer", daemon=True)
        self.path, self.durable = path, durable
        self.jobs: queue.SimpleQueue[tuple[list[CacheEntry], _Waiter] | None] = queue.SimpleQueue()
        self.ready: concurrent.futures.Future[None] = concurrent.futures.Future()

    def run(self) -> None:
        try:
            conn = _connect(self.path, self.durable)
        except BaseException as exc:
            self.ready.set_exception(exc)
            return
        self.ready.set_result(None)
        try:
            while True:
                job = self.jobs.get()
                if job is None:
                    return
                batch = [job]
                while len(batch) < self.MAX_BATCH:
                    try:
                        job = self.jobs.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        self.jobs.put(None)  # stop after this batch
                        break
                    batch.append(job)
                self._commit(conn, batch)
        finally:
            conn.close()

    @staticmethod
    def _commit(conn: sqlite3.Connection, batch: list[tuple[list[CacheEntry], _Waiter]]) -> None:
        error: BaseException | None = None
        try:
            # One explicit transaction for the whole batch: one commit (one fsync), not one each.
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    f"INSERT OR REPLACE INTO replies ({_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    # Serialised here, off the event loop's thread.
                    [_row(entry) for entries, _ in batch for entry in entries],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except BaseException as exc:
            error = exc
        # Wake each event loop once per batch, not once per reply.
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for _, waiter in batch:
            if isinstance(waiter, concurrent.futures.Future):
                if error is None:
                    waiter.set_result(None)
                else:
                    waiter.set_exception(error)
            else:
                by_loop.setdefault(waiter[0], []).append(waiter[1])
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                loop.call_soon_threadsafe(_release, futures, error)


def _release(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if future.done():  # cancelled meanwhile
            continue
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)


def _one(conn: sqlite3.Connection, sql: str, args: Sequence[Any] = ()) -> Any:
    """The first row of a query, reading it to the end.

    A statement left half-read keeps its read transaction open, and in WAL mode that pins the
    connection to an old snapshot: rows committed later by the writer would stay invisible.
    """
    return conn.execute(sql, args).fetchall()[0]


def _connect(path: Path, durable: bool) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    mode = _one(conn, "PRAGMA journal_mode=WAL")[0]
    if mode.lower() != "wal":
        conn.close()
        raise TinyReasonError(
            f"the cache {str(path)!r} cannot use SQLite's WAL journal (got {mode!r}); WAL does "
            "not work on network file systems: put the cache on a local disk."
        )
    # FULL: each commit is fsynced, so a committed reply survives even a power cut. NORMAL
    # survives a killed process (not a power cut) and skips the fsync.
    conn.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class ReplyCache:
    """The SQLite reply cache (WAL; one row per cache key).

    Args:
        path: The SQLite file (created with its folder if missing).
        durable: fsync every commit (survives power loss); False survives a killed process only.

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "cache.sqlite"
        >>> with ReplyCache(path) as cache:
        ...     cache.put(CacheEntry("k1", "deepseek", "deepseek-reasoner",
        ...                          reply=TeacherReply("6*7=42", "42", "raw")))
        ...     cache.get("k1").reply.answer, cache.journal_mode(), len(cache)
        ('42', 'wal', 1)
        >>> import shutil; shutil.rmtree(path.parent)
    """

    def __init__(self, path: str | Path, *, durable: bool = True):
        self.path = Path(path).expanduser()
        self.durable = durable
        self._temporary_dir: str | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._read = _connect(self.path, durable)
            with self._read:
                self._read.executescript(_SCHEMA)
                self._read.execute(
                    "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema', ?)",
                    (str(SCHEMA_VERSION),),
                )
        except sqlite3.Error as exc:
            raise TinyReasonError(
                f"cannot open the teacher cache {str(self.path)!r} ({exc}); pass another path "
                "with cache=..., or cache=False to run without one."
            ) from None
        self._lock = threading.Lock()
        self._writer: _Writer | None = None
        self._closed = False

    @classmethod
    def temporary(cls) -> ReplyCache:
        """A cache in a temporary folder, deleted on :meth:`close` (``cache=False``)."""
        folder = tempfile.mkdtemp(prefix="tinyreason-cache-")
        cache = cls(Path(folder) / "cache.sqlite", durable=False)
        cache._temporary_dir = folder
        return cache

    # -- reading -------------------------------------------------------------------------------

    def journal_mode(self) -> str:
        """SQLite's journal mode for this file (``"wal"``)."""
        with self._lock:
            return str(_one(self._read, "PRAGMA journal_mode")[0])

    def get(self, key: str) -> CacheEntry | None:
        """The entry stored under ``key``, or None."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, CacheEntry]:
        """The entries stored under any of ``keys``, by key."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, CacheEntry] = {}
        with self._lock:
            for start in range(0, len(keys), 500):  # SQLite limits the parameters per query
                chunk = keys[start : start + 500]
                marks = ", ".join("?" * len(chunk))
                rows = self._read.execute(
                    f"SELECT {_COLUMNS} FROM replies WHERE key IN ({marks})", chunk
                ).fetchall()
                found.update((row["key"], _entry(row)) for row in rows)
        return found

    def entries(self, provider: str | None = None, model: str | None = None) -> list[CacheEntry]:
        """Every entry, optionally only those of one provider and model."""
        query, args = f"SELECT {_COLUMNS} FROM replies", []
        if provider is not None:
            query += " WHERE provider = ?" + (" AND model = ?" if model is not None else "")
            args = [provider] + ([model] if model is not None else [])
        with self._lock:
            return [_entry(row) for row in self._read.execute(query, args).fetchall()]

    def mean_output_tokens(self, provider: str, model: str) -> tuple[float, int]:
        """Mean output + thinking tokens of this model's stored replies, and how many there are."""
        with self._lock:
            row = _one(
                self._read,
                "SELECT AVG(output_tokens + thinking_tokens), COUNT(*) FROM replies "
                "WHERE provider = ? AND model = ? AND status = 'ok'",
                (provider, model),
            )
        return float(row[0] or 0.0), int(row[1])

    def __len__(self) -> int:
        with self._lock:
            return int(_one(self._read, "SELECT COUNT(*) FROM replies")[0])

    def stats(self) -> dict[str, int]:
        """How many entries there are: ``ok``, ``truncated``, and one count per failure reason."""
        with self._lock:
            rows = self._read.execute(
                "SELECT status, finish_reason, reason, COUNT(*) FROM replies "
                "GROUP BY status, finish_reason, reason"
            ).fetchall()
        counts: dict[str, int] = {}
        for status, finish_reason, reason, n in rows:
            name = "ok" if status == "ok" else f"failed:{reason}"
            counts[name] = counts.get(name, 0) + n
            if finish_reason == "length":
                counts["truncated"] = counts.get("truncated", 0) + n
        return counts

    # -- writing -------------------------------------------------------------------------------

    def _enqueue(self, entries: Iterable[CacheEntry], waiter: _Waiter) -> None:
        if self._closed:
            raise TinyReasonError(f"the cache {str(self.path)!r} is closed.")
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    writer = _Writer(self.path, self.durable)
                    writer.start()
                    try:
                        writer.ready.result()
                    except sqlite3.Error as exc:
                        raise TinyReasonError(
                            f"cannot write the teacher cache {str(self.path)!r} ({exc}); pass "
                            "another path with cache=..., or cache=False to run without one."
                        ) from None
                    self._writer = writer
        self._writer.jobs.put((list(entries), waiter))

    def put(self, entry: CacheEntry) -> None:
        """Store ``entry`` (replacing any entry with its key); returns once committed."""
        future: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._enqueue([entry], future)
        future.result()

    def submit(self, entries: Iterable[CacheEntry]) -> asyncio.Future[None]:
        """Queue ``entries`` for the writer; the returned future resolves once they are committed.

        Call it from a running event loop; the future belongs to that loop.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self._enqueue(entries, (loop, future))
        return future

    async def aput(self, entry: CacheEntry) -> None:
        """Store ``entry`` and wait, without blocking the event loop, until it is committed."""
        await self.submit([entry])

    def close(self) -> None:
        """Commit what is queued, stop the writer, close the file (and delete a temporary one)."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.jobs.put(None)
            self._writer.join()
        with self._lock:
            self._read.close()
        if self._temporary_dir is not None:
            shutil.rmtree(self._temporary_dir, ignore_errors=True)

    def __enter__(self) -> ReplyCache:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ReplyCache({str(self.path)!r})"


#: Environment variable naming the default cache file (used when ``cache=None``).
CACHE_ENV = "TINYREASON_CACHE"


def default_cache_path() -> Path:
    """The cache used when none is named: ``$TINYREASON_CACHE``, else the user's cache folder.

    That is ``$XDG_CACHE_HOME/tinyreason/teachers.sqlite`` (``~/.cache/...`` by default), shared
    by every run on this machine: each row is keyed by provider, model, prompt and settings.

    Example:
        >>> default_cache_path().name.endswith(".sqlite")
        True
    """
    import os

    named = os.environ.get(CACHE_ENV)
    if named:
        return Path(named).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tinyreason" / "teachers.sqlite"
