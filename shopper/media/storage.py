"""Where media bytes live: the Storage interface, and LocalStorage, which writes under one directory.

The S3-compatible backend is in ``shopper.media.s3``; ``shopper.media.get_storage()`` picks one from the
configuration. Keys look like ``"<org_id>/<audit_id>/<uuid>-display.jpg"`` (``shopper.media.keys`` makes them):
segments of ``[A-Za-z0-9._-]`` joined by ``/``, none starting with a dot. Anything else (``..``, absolute paths,
backslashes, empty segments, hidden names) is refused with ValueError, so a key can never point outside the storage
root or at a temp file.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o640
DIR_MODE = 0o750
_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*")
_MAX_KEY_LENGTH = 512


def validate_key(key: str) -> str:
    """Return ``key`` if it is a safe storage key, else raise ValueError."""
    if not isinstance(key, str) or not key or len(key) > _MAX_KEY_LENGTH:
        raise ValueError(f"invalid storage key: {key!r}")
    for segment in key.split("/"):
        if not _SEGMENT.fullmatch(segment):
            raise ValueError(f"invalid storage key: {key!r}")
    return key


def validate_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is ``""`` or a safe key followed by ``/`` (a folder), else raise ValueError."""
    if prefix and not (prefix.endswith("/") and validate_key(prefix[:-1])):
        raise ValueError(f"invalid storage prefix: {prefix!r}")
    return prefix


@dataclass(frozen=True)
class StoredFile:
    """One stored object as a listing sees it; temp files of writes under way are listed too."""

    key: str  # the path under the storage root, with "/"
    bytes: int
    modified: float  # seconds since the epoch


class Storage(ABC):
    """The operations the app needs from a blob store; keys are checked by ``validate_key``."""

    @abstractmethod
    def save(self, key: str, data: bytes) -> None:
        """Store ``data`` under ``key``, replacing what was there; readers never see a partial write."""

    def save_stream(self, key: str, stream: BinaryIO) -> None:
        """Store what `stream` holds under `key`, like `save`; for files too big to hold in memory (a ZIP)."""
        self.save(key, stream.read())

    @abstractmethod
    def rename(self, source: str, target: str) -> None:
        """Move what is stored under ``source`` to ``target`` in one step, replacing ``target``; raises
        FileNotFoundError for a missing source. An upload saves under a key of its own and renames once it owns
        the final key, so a concurrent upload of the same photo never touches files it does not own."""

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """A binary file object to read; raises FileNotFoundError for a missing key."""

    def read(self, key: str) -> bytes:
        with self.open(key) as stream:
            return stream.read()

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""

    @abstractmethod
    def size(self, key: str) -> int:
        """Size in bytes; raises FileNotFoundError for a missing key."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[StoredFile]:
        """Everything stored under ``prefix`` (``""`` or a folder ending in ``/``), temp files included; an object
        removed meanwhile is skipped."""

    @abstractmethod
    def discard(self, key: str) -> bool:
        """Remove what ``list`` named, a temp file too (which ``delete`` refuses as a key); False if it was gone."""

    @abstractmethod
    def fetchable(self, key: str) -> str | bytes:
        """What another process of this machine can read: a local file's path, else the bytes. Raises
        FileNotFoundError for a missing key."""

    @abstractmethod
    def describe(self) -> str:
        """Where the files are, for people: "media folder /srv/media", "S3 bucket shopper at https://..."."""


class LocalStorage(Storage):
    """Files under ``root``, written atomically (temp file in the same directory, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def path(self, key: str) -> Path:
        """The file a key maps to (for serving it directly); the key is validated."""
        return self.root.joinpath(*validate_key(key).split("/"))

    def save(self, key: str, data: bytes) -> None:
        self._write(key, lambda out: out.write(data))

    def save_stream(self, key: str, stream: BinaryIO) -> None:
        self._write(key, lambda out: shutil.copyfileobj(stream, out, 1024 * 1024))

    def _write(self, key: str, write) -> None:
        target = self.path(key)
        target.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as stream:
                write(stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temp_name, FILE_MODE)
            os.replace(temp_name, target)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        _fsync_directory(target.parent)

    def rename(self, source: str, target: str) -> None:
        destination = self.path(target)
        destination.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        os.replace(self.path(source), destination)
        _fsync_directory(destination.parent)

    def open(self, key: str) -> BinaryIO:
        return self.path(key).open("rb")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def size(self, key: str) -> int:
        return self.path(key).stat().st_size

    def list(self, prefix: str = "") -> Iterator[StoredFile]:
        folder = self.root.joinpath(*validate_prefix(prefix).split("/"))
        for file in walk(folder):
            yield StoredFile(prefix + file.key, file.bytes, file.modified)

    def discard(self, key: str) -> bool:
        path = self.root.joinpath(*key.split("/"))
        if ".." in key.split("/") or not path.is_relative_to(self.root):
            raise ValueError(f"invalid storage key: {key!r}")
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def fetchable(self, key: str) -> str:
        path = self.path(key)
        if not path.is_file():
            raise FileNotFoundError(key)
        return str(path)

    def describe(self) -> str:
        return f"media folder {self.root}"


def walk(root: Path) -> Iterator[StoredFile]:
    """Every file under the folder ``root`` (none when it does not exist), without following links; a file removed
    meanwhile is skipped."""
    for directory, subdirectories, names in os.walk(root):
        subdirectories.sort()
        base = Path(directory)
        for name in sorted(names):
            path = base / name
            try:
                stat = path.lstat()
            except FileNotFoundError:
                continue
            yield StoredFile(path.relative_to(root).as_posix(), stat.st_size, stat.st_mtime)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable; not every platform or filesystem lets a directory be fsynced."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def store(storage: Storage, files: Mapping[str, bytes]) -> list[str]:
    """Write every file (key -> bytes) or none: on any failure, what was written is removed before the error goes
    on. Returns the keys written."""
    written: list[str] = []
    try:
        for key, data in files.items():
            written.append(key)  # before the write: a write that fails half-way is removed too
            storage.save(key, data)
    except BaseException:
        remove(storage, written)
        raise
    return written


def remove(storage: Storage, keys: list[str]) -> None:
    """Delete the files of a write that did not stand (its row was refused, or replaced)."""
    for key in keys:
        storage.delete(key)
