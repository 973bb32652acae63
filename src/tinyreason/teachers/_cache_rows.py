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

from ..errors import ArtifactError
from ..records import Usage
from ._cache_schema import COLUMNS, connect
from .base import TeacherReply
from .cache_entry import CacheEntry

__all__ = ["Job", "Waiter", "Writer", "entry_row", "row_entry"]


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
        entry.endpoint,
    )


def row_entry(row: sqlite3.Row, path: Path | str = "") -> CacheEntry:
    """A row (selected with its ``rowid``) read back as the entry it stores.

    Raises:
        ArtifactError: the row is damaged (its reply or request is not the JSON we wrote);
            the message names the file, the row and how to go on.
    """
    try:
        return _entry(row)
    except (ValueError, KeyError, TypeError) as exc:  # JSONDecodeError is a ValueError
        key, what = row["key"], _what(exc)
        error = ArtifactError(
            path,
            f"row {row['rowid']} (key {key[:16]}...) of this teacher cache is damaged ({what})",
            "remove it and re-run, which asks that question again: "
            f"ReplyCache({str(path)!r}).delete([{key!r}]) (ReplyCache(path).damaged() lists "
            "every damaged row); or restore the file from a backup",
        )
        error.damage = what  # type: ignore[attr-defined]
        raise error from None


def _what(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON: {exc.msg} at character {exc.pos}"
    if isinstance(exc, KeyError):
        return f"the field {exc.args[0]!r} is missing"
    return f"{type(exc).__name__}: {exc}"


def _entry(row: sqlite3.Row) -> CacheEntry:
    reply = None
    usage = Usage(row["input_tokens"], row["output_tokens"], row["thinking_tokens"])
    if row["status"] == "ok":
        data = json.loads(row["reply"])
        thinking, answer = data["thinking"], data["answer"]
        kind, finish = data["thinking_kind"], data["finish_reason"]
        if not all(isinstance(value, str) for value in (thinking, answer, kind, finish)):
            raise TypeError("the reply's thinking, answer and kinds must be strings")
        reply = TeacherReply(thinking, answer, kind, finish, usage, str(data.get("model") or ""))
    request = json.loads(row["request"] or "{}")
    if not isinstance(request, dict):
        raise TypeError(f"the request is a {type(request).__name__}, not an object")
    return CacheEntry(
        key=row["key"],
        provider=row["provider"],
        model=row["model"],
        reply=reply,
        reason=row["reason"],
        message=row["message"],
        cost_usd=row["cost_usd"],
        attempts=row["attempts"],
        request=request,
        created=row["created"],
        endpoint=row["endpoint"],
    )


#: Who waits for a write: a thread (a concurrent future) or an event loop (its loop and one or
#: more of its futures).
Waiter = (
    concurrent.futures.Future
    | tuple[asyncio.AbstractEventLoop, "asyncio.Future[None] | list[asyncio.Future[None]]"]
)
#: A writer's job: rows to store, who waits, and optionally keys to delete first.
Job = tuple[list[CacheEntry], Waiter] | tuple[list[CacheEntry], Waiter, list[str]]


class Writer(threading.Thread):
    """The single writer: group-commits queued rows, then releases everyone who waits for them.

    Put ``(entries, waiter)`` on :attr:`jobs`, or ``(entries, waiter, keys)`` to delete the rows
    under ``keys`` first (a thread waiter then gets how many went); ``None`` stops the thread
    after the rows queued before it. A waiter is a concurrent future, or an event loop and one
    or more of its futures.

    Args:
        path: The cache file (its tables must exist).
        durable: fsync every commit.

    Example:
        >>> import concurrent.futures, pathlib, tempfile
        >>> from tinyreason.teachers._cache_schema import open_file
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "cache.sqlite"
        >>> open_file(path, durable=False).close()
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
        self.jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
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
    def _commit(conn: sqlite3.Connection, batch: list[Job]) -> None:
        error: BaseException | None = None
        deleted: dict[int, int] = {}
        try:
            # One explicit transaction for the whole batch: one commit (one fsync), not one each.
            conn.execute("BEGIN IMMEDIATE")
            try:
                for job in batch:
                    deleted[id(job)] = _delete(conn, job[2] if len(job) > 2 else [])
                conn.executemany(
                    f"INSERT OR REPLACE INTO replies ({COLUMNS}) VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    # Serialised here, off the event loop's thread.
                    [entry_row(entry) for job in batch for entry in job[0]],
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except BaseException as exc:
            error = exc
        # Wake each event loop once per batch, not once per reply.
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
        for job in batch:
            waiter = job[1]
            if isinstance(waiter, concurrent.futures.Future):
                _resolve(waiter, error, deleted.get(id(job)) if len(job) > 2 else None)
            else:
                loop, futures = waiter
                waiting = by_loop.setdefault(loop, [])
                waiting.extend(futures) if isinstance(futures, list) else waiting.append(futures)
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop has closed: nobody waits
                loop.call_soon_threadsafe(_release, futures, error)


def _release(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        _resolve(future, error)


def _delete(conn: sqlite3.Connection, keys: list[str]) -> int:
    gone = 0
    for start in range(0, len(keys), 500):  # SQLite limits the parameters per query
        chunk = keys[start : start + 500]
        marks = ", ".join("?" * len(chunk))
        gone += conn.execute(f"DELETE FROM replies WHERE key IN ({marks})", chunk).rowcount
    return gone


def _resolve(future: Any, error: BaseException | None, result: Any = None) -> None:
    """Mark a waiter's future committed, or failed with ``error`` (unless cancelled meanwhile)."""
    if future.done():
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
