"""The cache file's layout: the table, its schema version, and how a connection is opened.

* **WAL journal.** Readers never block the writer, and a process killed mid-write (SIGKILL, a
  crash, a closed laptop) leaves the file consistent: a committed row is there on restart, an
  uncommitted one is simply absent.
* **Durability.** ``durable=True`` fsyncs every commit (``synchronous=FULL``), so a committed reply
  survives even a power cut; ``False`` survives a killed process only.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import TinyReasonError

__all__ = ["COLUMNS", "SCHEMA", "SCHEMA_VERSION", "connect", "create_schema", "read_one"]

#: The layout's version, stored in the ``meta`` table of every cache file.
SCHEMA_VERSION = 1

SCHEMA = """
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

#: The columns of a row, in the order :func:`~._cache_rows.entry_row` writes them.
COLUMNS = (
    "key, provider, model, status, finish_reason, reply, reason, message, input_tokens, "
    "output_tokens, thinking_tokens, cost_usd, attempts, request, created"
)


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables (when missing) and record the schema version, in one transaction."""
    with conn:
        conn.executescript(SCHEMA)
        conn.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema', ?)",
            (str(SCHEMA_VERSION),),
        )


def read_one(conn: sqlite3.Connection, sql: str, args: Sequence[Any] = ()) -> Any:
    """The first row of a query, reading it to the end.

    A statement left half-read keeps its read transaction open, and in WAL mode that pins the
    connection to an old snapshot: rows committed later by the writer would stay invisible.
    """
    return conn.execute(sql, args).fetchall()[0]


def connect(path: Path, durable: bool) -> sqlite3.Connection:
    """A connection to the cache file in WAL mode; ``durable`` fsyncs every commit.

    Raises:
        TinyReasonError: the file cannot use WAL (a network file system).
    """
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    mode = read_one(conn, "PRAGMA journal_mode=WAL")[0]
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
