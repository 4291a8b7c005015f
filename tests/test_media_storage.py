"""shopper.media.storage.LocalStorage: keys, round trips and atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from shopper.media import storage as storage_module
from shopper.media.storage import LocalStorage, Storage, validate_key

KEY = "17/42/0b5e8f1c-9d2a-4c1e-8a55-3f0e2b7c9d10-display.jpg"


@pytest.fixture
def store(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "media")


def files_under(root: Path) -> list[Path]:
    return sorted(path for path in root.rglob("*") if path.is_file())


def test_round_trip(store: LocalStorage) -> None:
    assert isinstance(store, Storage)
    assert not store.exists(KEY)
    store.save(KEY, b"jpeg bytes")
    assert store.exists(KEY)
    assert store.read(KEY) == b"jpeg bytes"
    with store.open(KEY) as stream:
        assert stream.read() == b"jpeg bytes"
    assert store.size(KEY) == len(b"jpeg bytes")
    assert store.path(KEY) == store.root / "17" / "42" / KEY.rsplit("/", 1)[1]


def test_save_replaces_existing_content(store: LocalStorage) -> None:
    store.save(KEY, b"first")
    store.save(KEY, b"second, longer")
    assert store.read(KEY) == b"second, longer"
    assert files_under(store.root) == [store.path(KEY)]


def test_empty_and_large_payloads(store: LocalStorage) -> None:
    store.save("a/empty.bin", b"")
    big = os.urandom(3 * 1024 * 1024)
    store.save("a/big.bin", big)
    assert store.read("a/empty.bin") == b"" and store.size("a/empty.bin") == 0
    assert store.read("a/big.bin") == big


def test_file_and_directory_permissions(store: LocalStorage) -> None:
    store.save(KEY, b"x")
    assert stat.S_IMODE(store.path(KEY).stat().st_mode) == 0o640
    directory_mode = stat.S_IMODE(store.path(KEY).parent.stat().st_mode)
    assert directory_mode & 0o007 == 0  # nothing for "other"


def test_delete(store: LocalStorage) -> None:
    store.save(KEY, b"x")
    store.delete(KEY)
    assert not store.exists(KEY)
    store.delete(KEY)  # a missing key is a no-op
    store.delete("never/saved.jpg")


def test_missing_key(store: LocalStorage) -> None:
    with pytest.raises(FileNotFoundError):
        store.read(KEY)
    with pytest.raises(FileNotFoundError):
        store.size(KEY)
    assert not store.exists(KEY)


def test_a_directory_is_not_a_stored_object(store: LocalStorage) -> None:
    store.save(KEY, b"x")
    assert not store.exists("17/42")


BAD_KEYS = [
    "",
    "/etc/passwd",
    "../outside.jpg",
    "17/../../outside.jpg",
    "17/./x.jpg",
    "17//x.jpg",
    "17/x.jpg/",
    "17\\x.jpg",
    "..\\outside.jpg",
    "C:/x.jpg",
    ".hidden",
    "17/.x.jpg.tmp",
    "17/x y.jpg",
    "17/caf\u00e9.jpg",
    "17/x\0.jpg",
    "17/x\n.jpg",
    "a" * 600,
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_unsafe_keys_are_refused_by_every_operation(store: LocalStorage, key: str) -> None:
    with pytest.raises(ValueError):
        validate_key(key)
    with pytest.raises(ValueError):
        store.save(key, b"x")
    for operation in (store.read, store.open, store.exists, store.delete, store.size):
        with pytest.raises(ValueError):
            operation(key)
    assert not store.root.exists() or files_under(store.root) == []


@pytest.mark.parametrize("key", [KEY, "x", "org_1/a.b-c", "1/2/3/4/thumb.jpg"])
def test_safe_keys_are_accepted(key: str) -> None:
    assert validate_key(key) == key


def test_nothing_is_visible_before_the_rename(store: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    real_replace = os.replace
    seen: list[tuple[bool, bytes]] = []

    def replace(source: str, target: os.PathLike[str]) -> None:
        seen.append((Path(target).exists(), Path(source).read_bytes()))
        real_replace(source, target)

    monkeypatch.setattr(storage_module.os, "replace", replace)
    store.save(KEY, b"complete")
    assert seen == [(False, b"complete")]  # fully written and synced, target not there yet
    assert files_under(store.root) == [store.path(KEY)]


def test_failed_rename_leaves_no_file_and_no_temp_file(store: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    def replace(source: str, target: str) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(storage_module.os, "replace", replace)
    with pytest.raises(OSError, match="disk on fire"):
        store.save(KEY, b"data")
    assert not store.exists(KEY)
    assert files_under(store.root) == []


def test_failed_write_keeps_the_previous_version(store: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    store.save(KEY, b"previous")

    def fsync(fd: int) -> None:
        raise OSError("I/O error")

    monkeypatch.setattr(storage_module.os, "fsync", fsync)
    with pytest.raises(OSError, match="I/O error"):
        store.save(KEY, b"replacement")
    assert store.read(KEY) == b"previous"
    assert files_under(store.root) == [store.path(KEY)]


def test_rename_moves_a_file_into_place_replacing_what_was_there(store: LocalStorage) -> None:
    store.save("1/2/photo.jpg.abc.part", b"new")
    store.save("1/2/photo.jpg", b"old")
    store.rename("1/2/photo.jpg.abc.part", "1/2/photo.jpg")
    assert store.read("1/2/photo.jpg") == b"new" and not store.exists("1/2/photo.jpg.abc.part")
    with pytest.raises(FileNotFoundError):
        store.rename("1/2/gone.part", "1/2/photo.jpg")
    assert store.read("1/2/photo.jpg") == b"new"
    with pytest.raises(ValueError):
        store.rename("1/2/photo.jpg", "../escape.jpg")


def test_save_stream_writes_a_big_file_without_holding_it(store: LocalStorage, tmp_path: Path) -> None:
    big = tmp_path / "big.zip"
    big.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    with big.open("rb") as stream:
        store.save_stream("1/bundles/bundle-1.zip", stream)
    assert store.read("1/bundles/bundle-1.zip") == big.read_bytes()
