"""Rows in and out of the cache file: entry and row conversion, and the single writer thread.

**One writer thread, group commit.** Every write goes through a single background thread with its
own connection, so the asyncio engine never blocks on disk and writes are serialised by
construction. The thread takes whatever rows are waiting, writes them in one transaction, commits
(an fsync with ``durable=True``), and only then releases the callers awaiting them. So a reply is
on disk before the engine counts it done, and a burst of 64 replies costs one fsync, not 64.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import queue
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from ..records import Usage
from ._cache_schema import COLUMNS, connect
from .base import TeacherReply
from .cache_entry import CacheEntry

__all__ = ["Waiter", "Writer", "entry_row", "row_entry"]


def entry_row(entry: CacheEntry) -> tuple[Any, ...]:
    """``entry`` as a row of :data:`~._cache_schema.COLUMNS`."""
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


def row_entry(row: sqlite3.Row) -> CacheEntry:
    """A row read back as the entry it stores."""
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
Waiter = concurrent.futures.Future | tuple[asyncio.AbstractEventLoop, "asyncio.Future[None]"]


class Writer(threading.Thread):
    """The single writer: group-commits queued rows, then releases everyone who waits for them.

    Put ``(entries, waiter)`` on :attr:`jobs`; ``None`` stops the thread after the rows queued
    before it. A waiter is a concurrent future, or an event loop and one of its futures.

    Args:
        path: The cache file (its tables must exist).
        durable: fsync every commit.

    Example:
        >>> import concurrent.futures, pathlib, tempfile
        >>> from tinyreason.teachers._cache_schema import connect, create_schema
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "cache.sqlite"
        >>> create_schema(connect(path, durable=False))
        >>> writer = Writer(path, durable=False)
        >>> writer.start()
        >>> done = concurrent.futures.Future()
        >>> writer.jobs.put(([CacheEntry("k", "p", "m", reason="safety", message="no")], done))
        >>> writer.jobs.put(None)
        >>> writer.join(); done.result()
    """

    MAX_BATCH = 512

    def __init__(self, path: Path, durable: bool):
        super().__init__(name="tinyreason-cache-writer", daemon=True)
        self.path, self.durable = path, durable
        self.jobs: queue.SimpleQueue[tuple[list[CacheEntry], Waiter] | None] = queue.SimpleQueue()
        self.ready: concurrent.futures.Future[None] = concurrent.futures.Future()

    def run(self) -> None:
        try:
            conn = connect(self.path, self.durable)
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
    def _commit(conn: sqlite3.Connection, batch: list[tuple[list[CacheEntry], Waiter]]) -> None:
        error: BaseException | None = None
        try:
            # One explicit transaction for the whole batch: one commit (one fsync), not one each.
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    f"INSERT OR REPLACE INTO replies ({COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    # Serialised here, off the event loop's thread.
                    [entry_row(entry) for entries, _ in batch for entry in entries],
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
                _resolve(waiter, error)
            else:
                by_loop.setdefault(waiter[0], []).append(waiter[1])
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                loop.call_soon_threadsafe(_release, futures, error)


def _release(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        _resolve(future, error)


def _resolve(future: Any, error: BaseException | None) -> None:
    """Mark a waiter's future committed, or failed with ``error`` (unless cancelled meanwhile)."""
    if future.done():
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)
