"""The cache file's layout: the table, its schema version, and how the file is opened.

* **Version first.** :func:`open_file` reads the file's schema version before it writes anything
  (not even the switch to WAL): a file of a newer tinyreason, a file that is not a teacher cache,
  or one that is not SQLite at all is refused with an error naming it, and left untouched.
* **Migration.** A schema 1 file (keys without the server's URL) is brought to schema 2 in one
  transaction: the ``endpoint`` column is added, NULL for its old rows, whose keys stay as they
  were. New keys never equal old ones, so an old reply is never served by accident; it can be
  adopted on purpose (``ProviderTeacher.adopt_legacy_replies``).
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

from ..errors import ArtifactError, TinyReasonError

__all__ = [
    "COLUMNS",
    "SCHEMA",
    "SCHEMA_VERSION",
    "SELECT",
    "connect",
    "create_schema",
    "open_file",
    "read_one",
    "read_version",
]

#: The layout's version, stored in the ``meta`` table of every cache file.
SCHEMA_VERSION = 2

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
    created REAL NOT NULL,
    endpoint TEXT
);
CREATE INDEX IF NOT EXISTS replies_by_model ON replies (provider, model);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

#: The columns of a row, in the order :func:`~._cache_rows.entry_row` writes them.
COLUMNS = (
    "key, provider, model, status, finish_reason, reply, reason, message, input_tokens, "
    "output_tokens, thinking_tokens, cost_usd, attempts, request, created, endpoint"
)

#: Reads rows with their row id, which names a damaged row in errors.
SELECT = f"SELECT rowid, {COLUMNS} FROM replies"


def read_one(conn: sqlite3.Connection, sql: str, args: Sequence[Any] = ()) -> Any:
    """The first row of a query, reading it to the end.

    A statement left half-read keeps its read transaction open, and in WAL mode that pins the
    connection to an old snapshot: rows committed later by the writer would stay invisible.
    """
    return conn.execute(sql, args).fetchall()[0]


def _refuse(path: Path, what: str) -> ArtifactError:
    return ArtifactError(
        path,
        f"not a tinyreason teacher cache ({what}); it was left untouched",
        "pass the path of a teacher cache (or of a new file) with cache=..., or cache=False to "
        "run without one",
    )


def read_version(conn: sqlite3.Connection, path: Path) -> int | None:
    """The file's schema version, read without writing; None for a new (empty) file.

    Raises:
        ArtifactError: the file is not SQLite, not a teacher cache, or of a newer tinyreason.
    """
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.DatabaseError as exc:
        raise _refuse(path, f"not an SQLite file: {exc}") from None
    tables = {row[0] for row in rows}
    if not tables:
        return None
    if not {"meta", "replies"} <= tables:
        raise _refuse(path, f"it holds the tables {sorted(tables)}")
    rows = conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchall()
    try:
        version = int(rows[0][0])
    except (IndexError, TypeError, ValueError):
        raise _refuse(path, "its schema version is missing or unreadable") from None
    if version > SCHEMA_VERSION:
        raise ArtifactError(
            path,
            f"a teacher cache written by a newer tinyreason (cache schema {version}; this "
            f"version reads up to {SCHEMA_VERSION}); it was left untouched",
            "upgrade tinyreason (pip install -U tinyreason), or pass another cache=...",
        )
    if version < 1:
        raise _refuse(path, f"unknown schema version {version}")
    return version


def connect(path: Path, durable: bool) -> sqlite3.Connection:
    """A connection to a checked cache file, in WAL mode; ``durable`` fsyncs every commit.

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


def create_schema(conn: sqlite3.Connection) -> None:
    """Create the tables (when missing) and record the schema version, in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(
            "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema', ?)",
            (str(SCHEMA_VERSION),),
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def _migrate_from_1(conn: sqlite3.Connection) -> None:
    """Schema 1 -> 2: add ``endpoint`` (NULL: the old rows' server is unknown), in one step."""
    conn.execute("BEGIN IMMEDIATE")  # and read the version again: another process may have
    try:  # migrated the file since we looked
        if int(read_one(conn, "SELECT value FROM meta WHERE name = 'schema'")[0]) == 1:
            conn.execute("ALTER TABLE replies ADD COLUMN endpoint TEXT")
            conn.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (str(SCHEMA_VERSION),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def open_file(path: Path, durable: bool) -> sqlite3.Connection:
    """Open (or create) the cache file: check its version first, then WAL, tables, migration.

    Raises:
        ArtifactError: not a teacher cache, or one of a newer tinyreason (nothing written).
        TinyReasonError: the file cannot use WAL.
    """
    probe = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    try:
        version = read_version(probe, path)
    finally:
        probe.close()
    conn = connect(path, durable)
    try:
        if version == 1:
            _migrate_from_1(conn)
        else:
            create_schema(conn)
    except BaseException:
        conn.close()
        raise
    return conn
