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

This module is the cache's API (:class:`ReplyCache`). What an entry is lives in
:mod:`.cache_entry`; the file's layout and connections in ``_cache_schema``; the row conversion
and the writer thread in ``_cache_rows``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..errors import ArtifactError, TinyReasonError
from ._cache_rows import Waiter, Writer, row_entry
from ._cache_schema import SELECT, open_file, read_one
from .cache_entry import REFRESH_CHOICES, CacheEntry, check_refresh

__all__ = [
    "CACHE_ENV",
    "REFRESH_CHOICES",  # re-exported from .cache_entry, with CacheEntry and check_refresh
    "CacheEntry",
    "ReplyCache",
    "check_refresh",
    "default_cache_path",
]


class ReplyCache:
    """The SQLite reply cache (WAL; one row per cache key).

    Args:
        path: The SQLite file (created with its folder if missing).
        durable: fsync every commit (survives power loss); False survives a killed process only.

    Example:
        >>> import tempfile, pathlib
        >>> from tinyreason.teachers.base import TeacherReply
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
            # The schema version is read and checked before anything is written to the file.
            self._read = open_file(self.path, durable)
        except sqlite3.Error as exc:
            raise TinyReasonError(
                f"cannot open the teacher cache {str(self.path)!r} ({exc}); pass another path "
                "with cache=..., or cache=False to run without one."
            ) from None
        self._lock = threading.Lock()
        self._writer: Writer | None = None
        self._closed = False
        # Replies submitted from an event loop in one turn of it, handed to the writer together
        # at the end of that turn: one wake-up of the writer thread (and one commit) per burst.
        self._pending: dict[asyncio.AbstractEventLoop, tuple[list[CacheEntry], list[Any]]] = {}

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
            return str(read_one(self._read, "PRAGMA journal_mode")[0])

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
                rows = self._read.execute(f"{SELECT} WHERE key IN ({marks})", chunk).fetchall()
                found.update((row["key"], row_entry(row, self.path)) for row in rows)
        return found

    def entries(
        self, provider: str | None = None, model: str | None = None, *, legacy: bool = False
    ) -> list[CacheEntry]:
        """Every entry, optionally only those of one provider and model.

        Args:
            provider: Only this provider's entries.
            model: Only this model's (with ``provider``).
            legacy: Only entries a schema 1 cache stored (their server is unknown).

        Raises:
            ArtifactError: a damaged row (see :meth:`damaged`).
        """
        where, args = [], []
        if provider is not None:
            where.append("provider = ?")
            args.append(provider)
            if model is not None:
                where.append("model = ?")
                args.append(model)
        if legacy:
            where.append("endpoint IS NULL")
        query = SELECT + (" WHERE " + " AND ".join(where) if where else "")
        with self._lock:
            rows = self._read.execute(query, args).fetchall()
        return [row_entry(row, self.path) for row in rows]

    def damaged(self) -> list[tuple[int, str, str]]:
        """Every damaged row, as ``(row id, key, what is wrong)``: remove them with :meth:`delete`.

        Example:
            >>> ReplyCache.temporary().damaged()
            []
        """
        with self._lock:
            rows = self._read.execute(SELECT).fetchall()
        found = []
        for row in rows:
            try:
                row_entry(row, self.path)
            except ArtifactError as exc:
                found.append((int(row["rowid"]), str(row["key"]), str(exc.damage)))  # type: ignore[attr-defined]
        return found

    def mean_output_tokens(self, provider: str, model: str) -> tuple[float, int]:
        """Mean output + thinking tokens of this model's stored replies, and how many there are."""
        with self._lock:
            row = read_one(
                self._read,
                "SELECT AVG(output_tokens + thinking_tokens), COUNT(*) FROM replies "
                "WHERE provider = ? AND model = ? AND status = 'ok'",
                (provider, model),
            )
        return float(row[0] or 0.0), int(row[1])

    def __len__(self) -> int:
        with self._lock:
            return int(read_one(self._read, "SELECT COUNT(*) FROM replies")[0])

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

    def _start_writer(self) -> Writer:
        if self._closed:
            raise TinyReasonError(f"the cache {str(self.path)!r} is closed.")
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    writer = Writer(self.path, self.durable)
                    writer.start()
                    try:
                        writer.ready.result()
                    except sqlite3.Error as exc:
                        raise TinyReasonError(
                            f"cannot write the teacher cache {str(self.path)!r} ({exc}); pass "
                            "another path with cache=..., or cache=False to run without one."
                        ) from None
                    self._writer = writer
        return self._writer

    def _enqueue(self, entries: Iterable[CacheEntry], waiter: Waiter) -> None:
        self._start_writer().jobs.put((list(entries), waiter))

    def delete(self, keys: Iterable[str]) -> int:
        """Remove the entries under ``keys`` (damaged rows, replies to ask again); how many went.

        Example:
            >>> with ReplyCache.temporary() as cache:
            ...     cache.put(CacheEntry("k", "p", "m", reason="safety", message="no"))
            ...     cache.delete(["k", "missing"]), len(cache)
            (1, 0)
        """
        return self._rewrite([], list(dict.fromkeys(keys)))

    def rekey(self, moves: Iterable[tuple[str, CacheEntry]]) -> int:
        """Store each entry in place of the row under the old key, in one transaction.

        Used to adopt a schema 1 cache's replies under the keys of today (see
        ``ProviderTeacher.adopt_legacy_replies``); returns how many moved.
        """
        moves = list(moves)
        self._rewrite([entry for _, entry in moves], [old for old, _ in moves])
        return len(moves)

    def _rewrite(self, entries: list[CacheEntry], deleted: list[str]) -> int:
        """Delete ``deleted`` and store ``entries`` in one committed transaction (the writer's)."""
        future: concurrent.futures.Future[int] = concurrent.futures.Future()
        self._start_writer().jobs.put((entries, future, deleted))
        return future.result()

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
        self._start_writer()
        with self._lock:
            pending = self._pending.get(loop)
            if pending is None:
                pending = self._pending[loop] = ([], [])
                loop.call_soon(self._flush, loop)
            pending[0].extend(entries)
            pending[1].append(future)
        return future

    def _flush(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Hand what one loop (None: every loop) submitted to the writer, as one job."""
        with self._lock:
            loops = list(self._pending) if loop is None else [loop]
            batches = [self._pending.pop(each, None) for each in loops]
        for each, batch in zip(loops, batches, strict=True):
            if batch is not None and self._writer is not None:
                self._writer.jobs.put((batch[0], (each, batch[1])))

    async def aput(self, entry: CacheEntry) -> None:
        """Store ``entry`` and wait, without blocking the event loop, until it is committed."""
        await self.submit([entry])

    def close(self) -> None:
        """Commit what is queued, stop the writer, close the file (and delete a temporary one)."""
        if self._closed:
            return
        self._flush()  # submitted from a loop that ended before its turn did
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
