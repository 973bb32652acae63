"""Artifact I/O: every file tinyreason writes is written whole, and every folder carries a manifest.

One module owns how every stage writes and reads what it saves (selection folders, trained
students, checkpoints, evaluation run folders, reports), so the promises hold everywhere:

* **Whole files.** :func:`write_bytes`, :func:`write_text`, :func:`write_json` and
  :func:`writing` write to a temporary name in the same folder, fsync, then rename over the
  target (and fsync the folder). A crash leaves the old file or the new one, never half of one.
* **Manifests.** A folder tinyreason writes holds ``tinyreason-manifest.json``: the artifact's
  kind and format version, what wrote it, each file with its size and sha256, and ``complete``.
  :func:`prepare` marks the folder as ours and incomplete before anything is written;
  :func:`seal` lists and hashes the files and marks it complete, last. :func:`verify` refuses a
  folder whose manifest is missing, incomplete, of another kind, newer than this version reads,
  or whose files are missing or damaged, naming the file and the command that writes it again.
* **Never into a folder we did not create.** :func:`check_output` (no side effects, for
  preflights) and :func:`prepare` refuse an existing non-empty folder without our manifest unless
  ``overwrite=True`` (and then only the files we write are replaced), a folder that cannot be
  written, and a disk with less free space than asked for, before any compute.

This module writes; the manifest record and the checks that write nothing live in
:mod:`tinyreason._artifact_manifest`, and every name of theirs is importable from here.

Example:
    >>> import tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp()) / "out"
    >>> _ = prepare(folder, "example")
    >>> _ = write_text(folder / "hello.txt", "hi")
    >>> manifest = seal(folder, "example", 1, meta={"rows": 1})
    >>> sorted(manifest.files), manifest.complete
    (['hello.txt'], True)
    >>> verify(folder, "example", 1, rebuild="run the example again").meta["rows"]
    1
    >>> _ = (folder / "hello.txt").write_text("changed!")
    >>> verify(folder, "example", 1, rebuild="run the example again")
    Traceback (most recent call last):
    ...
    tinyreason.errors.ArtifactError: ...hello.txt is damaged (8 bytes, the manifest says 2)...
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from ._artifact_manifest import (
    MANIFEST,
    TEMP_PREFIX,
    FileEntry,
    Manifest,
    check_output,
    is_ours,
    read_manifest,
)
from .errors import ArtifactError

__all__ = [
    "MANIFEST",
    "FileEntry",
    "Manifest",
    "check_output",
    "is_ours",
    "prepare",
    "read_manifest",
    "seal",
    "verify",
    "write_bytes",
    "write_json",
    "write_text",
    "writing",
]

#: Files up to this size are hashed again by :func:`verify` unless ``deep=False``; larger ones
#: (model weights) are checked by size unless ``deep=True``, so loading a 64 GB student does not
#: read it twice.
DEEP_LIMIT = 64 * 2**20

_CHUNK = 2**20


# -- whole files --------------------------------------------------------------------------------


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open a folder; its rename is durable enough
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    if path.is_dir():
        for child in path.rglob("*"):
            if child.is_file():
                _fsync_file(child)
        _fsync_dir(path)
    elif path.is_file():
        _fsync_file(path)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def writing(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary sibling of ``path`` to write (a file or a folder); renamed over it on success.

    Use it for writers that take a path (``savefig``, ``to_parquet``, ``save_to_disk``). On an
    exception the temporary is removed and ``path`` is left as it was.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "plot.txt"
        >>> with writing(target) as tmp:
        ...     _ = tmp.write_text("whole")
        >>> target.read_text()
        'whole'
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.parent / f"{TEMP_PREFIX}{uuid.uuid4().hex[:12]}-{target.name}"
    try:
        yield temp
        if not temp.exists():
            raise FileNotFoundError(f"nothing was written to {temp} for {target}")
        _fsync_tree(temp)
        if temp.is_dir() and target.exists():
            # os.replace cannot replace a non-empty folder: move the old one aside first, so
            # that at every moment one whole version stands at `target`'s name or beside it.
            old = target.parent / f"{TEMP_PREFIX}old-{uuid.uuid4().hex[:12]}-{target.name}"
            os.replace(target, old)
            os.replace(temp, target)
            _remove(old)
        else:
            os.replace(temp, target)
        _fsync_dir(target.parent)
    except BaseException:
        _remove(temp)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` whole (temporary name, fsync, rename).

    Example:
        >>> import tempfile, pathlib
        >>> write_bytes(pathlib.Path(tempfile.mkdtemp()) / "x.bin", b"ok").read_bytes()
        b'ok'
    """
    target = Path(path)
    with writing(target) as temp, open(temp, "wb") as handle:
        handle.write(data)
    return target


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` whole.

    Example:
        >>> import tempfile, pathlib
        >>> write_text(pathlib.Path(tempfile.mkdtemp()) / "x.txt", "ok").read_text()
        'ok'
    """
    return write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], data: object, *, indent: int | None = 2) -> Path:
    """Write ``data`` as JSON to ``path`` whole (values JSON cannot hold are written as text).

    Example:
        >>> import json, tempfile, pathlib
        >>> path = write_json(pathlib.Path(tempfile.mkdtemp()) / "x.json", {"a": 1})
        >>> json.loads(path.read_text())
        {'a': 1}
    """
    return write_text(path, json.dumps(data, indent=indent, default=str) + "\n")


# -- folders and manifests ----------------------------------------------------------------------


def _writer() -> str:
    from importlib import metadata

    try:
        return f"tinyreason {metadata.version('tinyreason')}"
    except metadata.PackageNotFoundError:  # running from a source tree
        return "tinyreason"


def prepare(
    folder: str | os.PathLike[str],
    kind: str,
    *,
    overwrite: bool = False,
    need_bytes: int = 0,
    option: str = "overwrite=True",
) -> Path:
    """Create ``folder`` for ``kind`` (after :func:`check_output`) and mark it ours, incomplete.

    A manifest with ``complete: false`` goes in first, so a crash while writing leaves a folder
    that :func:`verify` refuses and a rerun may write into. Temporaries a crash left are removed.

    Returns:
        The folder, as a Path.

    Example:
        >>> import tempfile, pathlib
        >>> folder = prepare(pathlib.Path(tempfile.mkdtemp()) / "new", "example")
        >>> read_manifest(folder).complete
        False
    """
    path = check_output(folder, kind, overwrite=overwrite, need_bytes=need_bytes, option=option)
    try:
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob(f"{TEMP_PREFIX}*"):
            _remove(stale)
        previous = read_manifest(path)
        meta = dict(previous.meta) if previous is not None and previous.kind == kind else {}
        write_json(path / MANIFEST, Manifest(kind, 0, False, {}, _writer(), "", meta).to_dict())
    except OSError as exc:
        raise ArtifactError(
            path, f"it cannot be written ({exc.strerror or exc})", "choose a folder you can write"
        ) from None
    return path


def _hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _listing(folder: Path, exclude: Callable[[str], bool] | None) -> list[str]:
    names = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).as_posix()
        if rel == MANIFEST or any(part.startswith(TEMP_PREFIX) for part in rel.split("/")):
            continue
        if exclude is not None and exclude(rel):
            continue
        if path.is_file():
            names.append(rel)
    return sorted(names)


def seal(
    folder: str | os.PathLike[str],
    kind: str,
    version: int,
    *,
    meta: Mapping[str, object] | None = None,
    exclude: Callable[[str], bool] | None = None,
) -> Manifest:
    """List and hash the folder's files and write its manifest, marked complete: the last write.

    Args:
        folder: The folder, after every file is written.
        kind: What it holds.
        version: The format version of ``kind`` written.
        meta: What the kind records besides its files.
        exclude: Relative paths (with ``/``) not part of the artifact (e.g. checkpoints inside
            a training output folder, which carry their own manifests).

    Returns:
        The manifest written.
    """
    path = Path(folder)
    for name in _listing(path, exclude):
        _fsync_tree(path / name)
    files = {
        name: FileEntry((path / name).stat().st_size, _hash(path / name))
        for name in _listing(path, exclude)
    }
    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    manifest = Manifest(kind, version, True, files, _writer(), created, dict(meta or {}))
    write_json(path / MANIFEST, manifest.to_dict())
    return manifest


def verify(
    folder: str | os.PathLike[str],
    kind: str,
    version: int,
    *,
    rebuild: str,
    deep: bool | None = None,
) -> Manifest:
    """The folder's manifest, after checking that the artifact is whole.

    Args:
        folder: The artifact's folder.
        kind: The kind expected.
        version: The newest format version this reader understands.
        rebuild: What writes the artifact again, for the messages (e.g. ``"run tr.select"``).
        deep: Hash every file again (True), none (False), or those up to :data:`DEEP_LIMIT`
            (None); sizes are always checked.

    Returns:
        The manifest.

    Raises:
        ArtifactError: naming the missing or damaged file, or what is wrong with the manifest.
    """
    path = Path(folder)
    if not path.is_dir():
        raise ArtifactError(
            path, "no such folder" if not path.exists() else "not a folder", rebuild
        )
    manifest = read_manifest(path)
    if manifest is None:
        raise ArtifactError(
            path,
            f"it has no {MANIFEST}: tinyreason did not write it, or its writing never started",
            rebuild,
        )
    if manifest.kind != kind:
        raise ArtifactError(path, f"it holds a {manifest.kind}, not a {kind}", rebuild)
    if not manifest.complete:
        raise ArtifactError(path, f"its writing did not finish (the {kind} is incomplete)", rebuild)
    if manifest.version > version:
        raise ArtifactError(
            path,
            f"it was written by a newer tinyreason ({manifest.writer or 'unknown'}, {kind} format "
            f"{manifest.version}; this one reads up to {version})",
            "upgrade tinyreason (pip install -U tinyreason)",
        )
    if manifest.version < 1:
        raise ArtifactError(path, f"its format version {manifest.version} is not valid", rebuild)
    for name, entry in manifest.files.items():
        file = path / name
        if not file.is_file():
            raise ArtifactError(path, f"{name} is missing", rebuild)
        size = file.stat().st_size
        if size != entry.size:
            raise ArtifactError(
                path, f"{name} is damaged ({size} bytes, the manifest says {entry.size})", rebuild
            )
        check = deep if deep is not None else entry.size <= DEEP_LIMIT
        if check and _hash(file) != entry.sha256:
            raise ArtifactError(path, f"{name} is damaged (its sha256 differs)", rebuild)
    return manifest
