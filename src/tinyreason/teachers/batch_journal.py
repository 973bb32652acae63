"""The batch journal: what a batch run submitted, kept where a rerun finds it.

It is a separate SQLite file next to the reply cache (``teachers.sqlite`` ->
``teachers.sqlite.batches``), so the cache's schema and its migrations are untouched. WAL, with
every write committed (and fsynced: ``synchronous=FULL``) before the run goes on:

* before a batch is uploaded, its requests (cache key = ``custom_id``, problem id) are recorded
  under a local id (state ``prepared``);
* the uploaded file's id, then the provider's batch id are committed the moment they are known
  (state ``submitted``);
* once every result of the batch is committed to the reply cache, the batch is ``collected``
  (or ``cancelled``).

A rerun resumes every ``prepared`` or ``submitted`` batch that holds one of its requests instead of
submitting them again. A batch created but not recorded (a crash between the two) is found by its
local id, which travels in the provider batch's metadata.
"""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ArtifactError

__all__ = ["JOURNAL_SCHEMA_VERSION", "BatchJournal", "JournalBatch", "journal_path"]

#: The journal file's layout (``PRAGMA user_version``); another version is refused, not guessed.
JOURNAL_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    local_id TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    model TEXT NOT NULL,
    endpoint TEXT NOT NULL,
    state TEXT NOT NULL,
    file_id TEXT,
    batch_id TEXT,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS requests (
    local_id TEXT NOT NULL REFERENCES batches(local_id),
    key TEXT NOT NULL,
    problem_id TEXT NOT NULL,
    PRIMARY KEY (local_id, key)
);
CREATE INDEX IF NOT EXISTS requests_key ON requests(key);
"""

#: States of a batch that is still to be collected.
OPEN_STATES = ("prepared", "submitted")


def journal_path(cache_path: str | Path) -> Path:
    """The journal file of the reply cache at ``cache_path``.

    Example:
        >>> journal_path("/tmp/teachers.sqlite").name
        'teachers.sqlite.batches'
    """
    path = Path(cache_path)
    return path.with_name(path.name + ".batches")


@dataclass(frozen=True)
class JournalBatch:
    """One recorded batch.

    Example:
        >>> JournalBatch("l1", "openai-compatible", "m", "", "prepared", None, None).open
        True
    """

    local_id: str
    provider: str
    model: str
    endpoint: str
    state: str
    file_id: str | None
    batch_id: str | None

    @property
    def open(self) -> bool:
        """Still to be collected."""
        return self.state in OPEN_STATES


class BatchJournal:
    """The batch journal file (see the module's documentation).

    Args:
        path: The journal's SQLite file (created if missing).

    Example:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "cache.sqlite.batches"
        >>> with BatchJournal(path) as journal:
        ...     local = journal.prepare("openai-compatible", "m", "", [("k1", "p1")])
        ...     journal.submitted(local, "batch_1")
        ...     [b.batch_id for b in journal.open_batches("openai-compatible", "m", "", ["k1"])]
        ['batch_1']
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a recorded batch id survives power loss
        self._db.execute("PRAGMA busy_timeout=30000")
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version not in (0, JOURNAL_SCHEMA_VERSION):
            self._db.close()
            raise ArtifactError(
                self.path,
                f"this batch journal has layout {version}, and this tinyreason reads layout "
                f"{JOURNAL_SCHEMA_VERSION}",
                "upgrade tinyreason, or collect its batches with the version that wrote it",
            )
        if version == 0:  # a new file: CREATE ... IF NOT EXISTS is safe to repeat
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={JOURNAL_SCHEMA_VERSION}")

    def prepare(
        self, provider: str, model: str, endpoint: str, items: Sequence[tuple[str, str]]
    ) -> str:
        """Record a batch about to be submitted: ``(cache key, problem id)`` per request.

        Returns:
            The batch's local id (it goes into the provider batch's metadata).
        """
        local_id = uuid.uuid4().hex
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO batches VALUES (?, ?, ?, ?, 'prepared', NULL, NULL, ?)",
                (local_id, provider, model, endpoint, time.time()),
            )
            self._db.executemany(
                "INSERT OR IGNORE INTO requests VALUES (?, ?, ?)",
                [(local_id, key, pid) for key, pid in items],
            )
        return local_id

    def _set(self, local_id: str, **values: str | None) -> None:
        names = ", ".join(f"{name} = ?" for name in values)
        with self._db:
            self._db.execute(
                f"UPDATE batches SET {names} WHERE local_id = ?", (*values.values(), local_id)
            )

    def uploaded(self, local_id: str, file_id: str) -> None:
        """The input file is uploaded (uploads are free: a crash after this only re-uploads)."""
        self._set(local_id, file_id=file_id)

    def submitted(self, local_id: str, batch_id: str) -> None:
        """The provider created the batch: commit its id at once."""
        self._set(local_id, batch_id=batch_id, state="submitted")

    def finished(self, local_id: str, state: str = "collected") -> None:
        """Every result of the batch is in the cache (``collected``), or it was ``cancelled``."""
        self._set(local_id, state=state)

    def batch(self, local_id: str) -> JournalBatch:
        """The batch recorded under ``local_id``."""
        row = self._db.execute(
            "SELECT local_id, provider, model, endpoint, state, file_id, batch_id FROM batches "
            "WHERE local_id = ?",
            (local_id,),
        ).fetchone()
        if row is None:
            raise KeyError(local_id)
        return JournalBatch(*row)

    def open_batches(
        self, provider: str, model: str, endpoint: str, keys: Iterable[str] | None = None
    ) -> list[JournalBatch]:
        """Open batches of this provider, model and server (holding one of ``keys``, if given)."""
        rows = self._db.execute(
            "SELECT local_id, provider, model, endpoint, state, file_id, batch_id FROM batches "
            "WHERE provider = ? AND model = ? AND endpoint = ? AND state IN (?, ?) "
            "ORDER BY created",
            (provider, model, endpoint, *OPEN_STATES),
        ).fetchall()
        batches = [JournalBatch(*row) for row in rows]
        if keys is None:
            return batches
        wanted = set(keys)
        return [b for b in batches if wanted & set(self.keys(b.local_id))]

    def keys(self, local_id: str) -> list[str]:
        """The cache keys (``custom_id``) of the batch's requests."""
        rows = self._db.execute("SELECT key FROM requests WHERE local_id = ?", (local_id,))
        return [row[0] for row in rows]

    def submissions(self, key: str) -> int:
        """How many batches the request was in (its first submission and every resubmission)."""
        return int(
            self._db.execute(
                "SELECT COUNT(*) FROM requests r JOIN batches b USING (local_id) "
                "WHERE r.key = ? AND b.state != 'prepared'",
                (key,),
            ).fetchone()[0]
        )

    def close(self) -> None:
        """Close the file."""
        self._db.close()

    def __enter__(self) -> BatchJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
