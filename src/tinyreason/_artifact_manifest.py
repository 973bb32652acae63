"""What a tinyreason folder holds, read without writing: its manifest and whether we may write.

The manifest record (:class:`Manifest`, :class:`FileEntry`) and its JSON form, how to read it
(:func:`read_manifest`, :func:`is_ours`) and :func:`check_output`, the side-effect-free check a
preflight runs before anything is written. :mod:`tinyreason.artifacts` is the public face: it
re-exports every name here and does the writing (whole files, :func:`~tinyreason.artifacts.prepare`,
:func:`~tinyreason.artifacts.seal`, :func:`~tinyreason.artifacts.verify`).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ArtifactError, FolderNotOursError

__all__ = [
    "MANIFEST",
    "TEMP_PREFIX",
    "FileEntry",
    "Manifest",
    "check_output",
    "is_ours",
    "read_manifest",
]

#: The manifest's file name, in every folder tinyreason writes.
MANIFEST = "tinyreason-manifest.json"
#: The prefix of temporary names (a crash may leave one; :func:`prepare` removes them).
TEMP_PREFIX = ".tinyreason-tmp-"


@dataclass(frozen=True)
class FileEntry:
    """One file of an artifact, as the manifest records it.

    Example:
        >>> FileEntry(2, "ab" * 32).size
        2
    """

    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What ``tinyreason-manifest.json`` records about a folder tinyreason wrote.

    Args:
        kind: What the folder holds, e.g. ``"selection"``, ``"trained-student"``.
        version: The format version of that kind (readers refuse newer ones).
        complete: True once every file is written; False while writing (or after a crash).
        files: Each file (a path relative to the folder, with ``/``) with its size and hash.
        writer: What wrote it, e.g. ``"tinyreason 0.1.0"``.
        created: When it was sealed (UTC, ISO 8601).
        meta: What the kind records besides its files (a summary, a format...).

    Example:
        >>> m = Manifest("selection", 1, True, {"a.json": FileEntry(2, "0" * 64)})
        >>> Manifest.from_dict(m.to_dict()) == m
        True
    """

    kind: str
    version: int
    complete: bool
    files: Mapping[str, FileEntry] = field(default_factory=dict)
    writer: str = ""
    created: str = ""
    meta: Mapping[str, object] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """The JSON form; ``complete`` comes last, as the last thing a reader should trust."""
        return {
            "kind": self.kind,
            "version": self.version,
            "writer": self.writer,
            "created": self.created,
            "meta": dict(self.meta),
            "files": {k: {"size": v.size, "sha256": v.sha256} for k, v in self.files.items()},
            "complete": self.complete,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Manifest:
        """Read the JSON form back; raises ``KeyError`` / ``TypeError`` / ``ValueError`` on junk."""
        if not isinstance(data, Mapping):
            raise TypeError(f"the manifest must be a JSON object, not {type(data).__name__}")
        files = data.get("files") or {}
        meta = data.get("meta") or {}
        if not isinstance(files, Mapping) or not isinstance(meta, Mapping):
            raise TypeError("files and meta must be objects")
        return cls(
            kind=str(data["kind"]),
            version=_as_int(data["version"]),
            complete=data["complete"] is True,
            files={
                str(k): FileEntry(_as_int(v["size"]), str(v["sha256"])) for k, v in files.items()
            },
            writer=str(data.get("writer", "")),
            created=str(data.get("created", "")),
            meta=dict(meta),
        )


def _as_int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def read_manifest(folder: str | os.PathLike[str]) -> Manifest | None:
    """The folder's manifest, or None where it has none.

    Raises:
        ArtifactError: the manifest exists but cannot be read.

    Example:
        >>> import tempfile
        >>> read_manifest(tempfile.mkdtemp()) is None
        True
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        return None
    try:
        return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(
            path,
            f"the manifest is damaged ({type(exc).__name__}: {exc})",
            "the folder cannot be trusted: write it again with the command that made it",
        ) from None


def is_ours(folder: str | os.PathLike[str]) -> bool:
    """True if ``folder`` holds a tinyreason manifest (complete or not).

    Example:
        >>> import tempfile
        >>> is_ours(tempfile.mkdtemp())
        False
    """
    return (Path(folder) / MANIFEST).is_file()


def _foreign(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(TEMP_PREFIX))


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path.cwd()


def check_output(
    folder: str | os.PathLike[str],
    kind: str,
    *,
    overwrite: bool = False,
    need_bytes: int = 0,
    option: str = "overwrite=True",
) -> Path:
    """Check that ``kind`` may be written to ``folder``, writing nothing: for preflights.

    Args:
        folder: Where the artifact will be written.
        kind: The artifact's kind (a folder holding another kind of ours is refused too).
        overwrite: Allow a non-empty folder tinyreason did not write (only our files are
            replaced; the user's other files are left alone).
        need_bytes: Free disk space required (0: do not check).
        option: How the user allows overwriting, for the message (``--overwrite`` in the CLI).

    Returns:
        The folder, as a Path.

    Raises:
        FolderNotOursError: a non-empty folder without our manifest, or ours of another kind.
        ArtifactError: not a folder, not writable, or too little free space.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (folder / "notes.txt").write_text("mine")
        >>> check_output(folder, "selection")
        Traceback (most recent call last):
        ...
        tinyreason.errors.FolderNotOursError: ...holds 1 file tinyreason did not write...
    """
    path = Path(folder).expanduser()
    if path.exists() and not path.is_dir():
        raise ArtifactError(path, "it is a file, not a folder", "choose a folder for the output")
    if path.is_dir():
        manifest = read_manifest(path) if is_ours(path) else None
        if manifest is not None and manifest.kind != kind and not overwrite:
            raise FolderNotOursError(
                path,
                f"it holds a tinyreason {manifest.kind}, not a {kind}",
                f"choose another folder, or pass {option} to write the {kind} beside it",
            )
        names = _foreign(path) if manifest is None else []
        if names and not overwrite:
            shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
            noun = "file" if len(names) == 1 else "files"
            raise FolderNotOursError(
                path,
                f"it holds {len(names)} {noun} tinyreason did not write ({shown})",
                f"choose an empty or new folder, or pass {option} (only the files tinyreason "
                "writes are replaced)",
            )
    probe_at = _nearest_existing(path)
    if not os.access(probe_at, os.W_OK | os.X_OK):
        raise ArtifactError(
            path,
            f"it cannot be written ({probe_at} is not writable)",
            "choose a folder you can write, or fix its permissions",
        )
    if need_bytes > 0:
        free = shutil.disk_usage(probe_at).free
        if free < need_bytes:
            raise ArtifactError(
                path,
                f"the disk has {free / 2**30:.1f} GiB free and this needs about "
                f"{need_bytes / 2**30:.1f} GiB",
                "free some space or choose a folder on another disk",
            )
    return path
