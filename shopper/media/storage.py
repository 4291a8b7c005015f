"""Where photo bytes live. LocalStorage writes under one directory; an object store can take its place later.

Keys look like ``"<org_id>/<audit_id>/<uuid>-display.jpg"``: segments of ``[A-Za-z0-9._-]`` joined by ``/``,
none starting with a dot. Anything else (``..``, absolute paths, backslashes, empty segments, hidden names)
is refused with ValueError, so a key can never point outside the storage root or at a temp file.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
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
