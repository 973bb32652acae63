"""A run folder's ``results.jsonl``: an append-only log of checksummed lines, one writer at a time.

Each line is one JSON record plus a ``check`` field (a hash of the record), so a torn or damaged
line is told from a whole one. Lines are appended a group at a time, in one ``write`` followed by
an ``fsync``, and never rewritten. Reading hands back whole groups only: torn lines at the end (a
kill while writing) are dropped, with a warning, so they are generated again; a damaged line
before the end is an error naming it. While open, the log holds an exclusive lock (POSIX), so two
processes never write one run folder.

Example:
    >>> import pathlib, tempfile, warnings
    >>> log = ResultsLog.open(pathlib.Path(tempfile.mkdtemp()) / "results.jsonl")
    >>> log.append([{"group": 0, "size": 2}, {"group": 0, "size": 2}])
    >>> log.append([{"group": 1, "size": 2}])  # half a group, as if killed mid-write
    >>> whole = []
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")  # "dropped 1 unfinished line(s) at the end"
    ...     log.read(lambda number, r: (r["group"], 0, r["size"]), whole.append)
    1
    >>> [len(group) for group in whole]
    [2]
    >>> log.close()
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from .. import artifacts
from ..errors import ArtifactError, ConfigError

try:  # POSIX: one process at a time writes a run folder
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock
    fcntl = None  # type: ignore[assignment]

__all__ = ["RESTART", "Group", "ResultsLog"]

#: How to get past a run folder that cannot be resumed.
RESTART = "pass overwrite=True to run it again from the start, or choose another run_dir"
#: A group's lines: (line number, record), in the order written.
Group = list[tuple[int, dict[str, Any]]]


def _check_of(record: Mapping[str, Any]) -> str:
    text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _line(record: Mapping[str, Any]) -> bytes:
    record = {**record, "check": _check_of(record)}
    return (json.dumps(record, sort_keys=True, separators=(",", ":")) + "\n").encode()


def _parse(raw: bytes) -> dict[str, Any] | None:
    """A committed line's record, or None when the line is torn or damaged."""
    try:
        record = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict):
        return None
    check = record.pop("check", None)
    return record if check == _check_of(record) else None


class ResultsLog:
    """The results log of one run folder, open and locked: build it with :meth:`open`.

    Attributes:
        path: The log file (``results.jsonl``).
    """

    def __init__(self, path: Path, handle: IO[bytes]) -> None:
        self.path = path
        self._handle = handle

    @classmethod
    def open(cls, path: Path) -> ResultsLog:
        """Open the log for appending (created if missing) and hold its lock.

        Raises:
            ArtifactError: the file cannot be created or opened.
            ConfigError: another process holds the lock (an evaluation is running there).
        """
        try:
            if not path.exists():
                artifacts.write_bytes(path, b"")  # created whole, its folder entry fsynced
            handle = open(path, "a+b")  # noqa: SIM115 - held open for the run, closed by close()
        except OSError as exc:
            raise ArtifactError(
                path, f"it cannot be opened ({exc.strerror or exc})", RESTART
            ) from None
        if fcntl is not None:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                raise ConfigError(
                    f"run_dir {path.parent} is being written by another process (an evaluation "
                    "is running there); wait for it to finish, or choose another run_dir"
                ) from None
        return cls(path, handle)

    def _sync(self) -> None:
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def clear(self) -> None:
        """Empty the log, durably."""
        self._handle.truncate(0)
        self._sync()

    def damaged(self, number: int, why: str) -> ArtifactError:
        """The error for a damaged line ``number`` (1-based), saying ``why`` and how to go on."""
        return ArtifactError(
            self.path,
            f"line {number} is damaged ({why})",
            f"delete that line and those after it to generate them again, or {RESTART}",
        )

    def read(
        self,
        key: Callable[[int, Mapping[str, Any]], tuple[int, int, int]],
        accept: Callable[[Group], object],
    ) -> int:
        """Hand each whole group to ``accept``, in order; drop a torn or unfinished one at the end.

        ``key(number, record)`` names a line's group as a tuple whose last item is the group's
        size (it raises :meth:`damaged` for a line that belongs to no group); a group is whole
        when it holds that many lines in a row with the same key. Read line by line (a run of many
        samples holds gigabytes of text). Only the end of the file can be torn, since it only
        grows: an unreadable line followed by a whole one is damage, not a kill, and is refused.

        Returns:
            How many lines were dropped from the end (a warning says so too).

        Raises:
            ArtifactError: a damaged line, or an incomplete group followed by another group.
        """
        self._handle.seek(0)
        offset = keep = 0  # bytes read; bytes that hold whole groups
        number = kept_lines = 0
        unreadable: int | None = None  # the first line that cannot be read
        group: Group = []
        for raw in self._handle:
            number += 1
            offset += len(raw)
            record = _parse(raw[:-1]) if raw.endswith(b"\n") else None
            if record is None:
                unreadable = unreadable or number
                continue
            if unreadable is not None:
                raise self.damaged(unreadable, "its checksum or JSON is wrong")
            name = key(number, record)
            if group and name != key(*group[0]):
                raise self.damaged(group[0][0], "its group of problems is incomplete")
            group.append((number, record))
            if len(group) == name[-1]:
                accept(group)
                group, keep, kept_lines = [], offset, number
        dropped = number - kept_lines
        if keep < offset:
            self._handle.truncate(keep)
            self._sync()
            warnings.warn(
                f"{self.path}: dropped {dropped} unfinished line(s) at the end (a run was "
                "stopped while writing them); those problems are generated again",
                # Said where the run was started: read <- RunFolder._load <- RunFolder.open <- it.
                stacklevel=4,
            )
        self._handle.seek(0, os.SEEK_END)
        return dropped

    def append(self, records: Iterable[Mapping[str, Any]]) -> None:
        """Append one group of records, one line each, in one write, then fsync.

        Raises:
            ArtifactError: the file cannot be written (a full disk); what was appended before
                is kept.
        """
        data = b"".join(_line(record) for record in records)
        # Append-only: what was committed is never rewritten, and a kill mid-write leaves a torn
        # group at the end, which the next read drops. (artifacts writes whole files; this log
        # is the one file that grows, so it is written here.)
        try:
            self._handle.write(data)
            self._sync()
        except OSError as exc:
            raise ArtifactError(
                self.path,
                f"it cannot be written ({exc.strerror or exc})",
                "free some space (or fix the folder), then rerun with the same run_dir: the "
                "groups committed so far are kept",
            ) from None

    def close(self) -> None:
        """Release the log (and its lock)."""
        if not self._handle.closed:
            self._handle.close()
