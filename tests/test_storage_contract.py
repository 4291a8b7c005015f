"""The storage contract: what every backend of shopper.media does, the media folder and an S3-compatible bucket
alike. Each test runs once per backend; the S3 one talks HTTP to a server on 127.0.0.1 (see tests/s3.py)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from shopper.maintenance.backup import copy_in, copy_out
from shopper.media import get_storage, serve, store
from shopper.media.s3 import S3Storage
from shopper.media.storage import LocalStorage, Storage
from tests.conftest import make_app
from tests.s3 import S3Server, media_in_s3, s3_server

KEY = "17/42/0b5e8f1c-9d2a-4c1e-8a55-3f0e2b7c9d10-display.jpg"


@pytest.fixture(scope="module")
def server() -> Iterator[S3Server]:
    with s3_server() as running:
        yield running


@pytest.fixture(params=["local", "s3"])
def backend(request, tmp_path: Path) -> Storage:
    if request.param == "local":
        return LocalStorage(tmp_path / "media")
    return request.getfixturevalue("server").storage()


def keys(storage: Storage, prefix: str = "") -> list[str]:
    return sorted(file.key for file in storage.list(prefix))


def loaded(source: str | bytes) -> bytes:
    return source if isinstance(source, bytes) else Path(source).read_bytes()


def test_put_get_exists_size(backend: Storage) -> None:
    assert not backend.exists(KEY)
    backend.save(KEY, b"jpeg bytes")
    assert backend.exists(KEY) and backend.read(KEY) == b"jpeg bytes" and backend.size(KEY) == 10
    with backend.open(KEY) as stream:
        assert stream.read() == b"jpeg bytes"
    backend.save(KEY, b"second, longer")
    assert backend.read(KEY) == b"second, longer" and keys(backend) == [KEY]
    assert loaded(backend.fetchable(KEY)) == b"second, longer"


def test_missing_keys(backend: Storage) -> None:
    for operation in (backend.read, backend.open, backend.size, backend.fetchable):
        with pytest.raises(FileNotFoundError):
            operation(KEY)
    assert not backend.exists(KEY)
    with pytest.raises(FileNotFoundError):
        backend.rename("1/2/gone.part", "1/2/photo.jpg")
    assert not backend.exists("1/2/photo.jpg")


def test_delete_and_discard(backend: Storage) -> None:
    backend.save(KEY, b"x")
    backend.delete(KEY)
    assert not backend.exists(KEY)
    backend.delete(KEY)  # a missing key is no error
    backend.save("1/2/a.jpg", b"a")
    assert backend.discard("1/2/a.jpg") and keys(backend) == []


def test_list_names_every_object_under_a_folder(backend: Storage) -> None:
    for key, data in {"1/2/a.jpg": b"aa", "1/2/b.jpg": b"b", "1/3/c.jpg": b"ccc", "12/2/d.jpg": b"d"}.items():
        backend.save(key, data)
    assert keys(backend) == ["1/2/a.jpg", "1/2/b.jpg", "1/3/c.jpg", "12/2/d.jpg"]
    assert keys(backend, "1/") == ["1/2/a.jpg", "1/2/b.jpg", "1/3/c.jpg"]  # a folder, not a string prefix: not 12/
    listed = {file.key: file for file in backend.list("1/2/")}
    assert set(listed) == {"1/2/a.jpg", "1/2/b.jpg"} and listed["1/2/a.jpg"].bytes == 2
    assert listed["1/2/a.jpg"].modified > 1_700_000_000
    assert keys(backend, "9/") == []
    for prefix in ("1", "../", "1//", "/1/"):
        with pytest.raises(ValueError):
            list(backend.list(prefix))


def test_rename_moves_an_object_into_place(backend: Storage) -> None:
    backend.save("1/2/photo.jpg.0123456789abcdef.part", b"new")
    backend.save("1/2/photo.jpg", b"old")
    backend.rename("1/2/photo.jpg.0123456789abcdef.part", "1/2/photo.jpg")
    assert backend.read("1/2/photo.jpg") == b"new" and keys(backend) == ["1/2/photo.jpg"]


def test_a_big_stream(backend: Storage, tmp_path: Path) -> None:
    """9 MB: above boto3's 8 MB threshold, so the S3 backend sends it as a multipart upload."""
    big = tmp_path / "big.zip"
    big.write_bytes(os.urandom(9 * 1024 * 1024 + 7))
    with big.open("rb") as stream:
        backend.save_stream("1/bundles/bundle-1.zip", stream)
    assert backend.read("1/bundles/bundle-1.zip") == big.read_bytes()
    assert backend.size("1/bundles/bundle-1.zip") == big.stat().st_size


@pytest.mark.parametrize("key", ["", "../outside.jpg", "17/../x.jpg", "17//x.jpg", ".hidden", "17/x y.jpg", "/abs"])
def test_unsafe_keys_are_refused(backend: Storage, key: str) -> None:
    with pytest.raises(ValueError):
        backend.save(key, b"x")
    for operation in (backend.read, backend.open, backend.exists, backend.delete, backend.size, backend.fetchable):
        with pytest.raises(ValueError):
            operation(key)
    backend.save("1/2/a.jpg", b"a")
    for source, target in ((key, "1/2/b.jpg"), ("1/2/a.jpg", key)):
        with pytest.raises(ValueError):
            backend.rename(source, target)
    assert keys(backend) == ["1/2/a.jpg"]


def test_store_writes_every_file(backend: Storage) -> None:
    files = {"1/2/a-display.jpg": b"display", "1/2/a-thumb.jpg": b"thumb"}
    assert store(backend, files) == list(files)
    assert {key: backend.read(key) for key in keys(backend)} == files


def test_a_failed_store_leaves_nothing(backend: Storage, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second file fails (a full disk, a bucket that went away) after the first was written: neither stays,
    and what was there before under another key is untouched."""
    backend.save("1/2/kept.jpg", b"kept")
    real_save = backend.save
    calls: list[str] = []

    def save(key: str, data: bytes) -> None:
        calls.append(key)
        if len(calls) == 2:
            real_save(key, data[:1])  # half of it got there
            raise OSError("No space left on device")
        real_save(key, data)

    monkeypatch.setattr(backend, "save", save)
    with pytest.raises(OSError, match="No space left"):
        store(backend, {"1/2/a-display.jpg": b"display", "1/2/a-print.jpg": b"print", "1/2/a-thumb.jpg": b"thumb"})
    assert calls == ["1/2/a-display.jpg", "1/2/a-print.jpg"]
    assert keys(backend) == ["1/2/kept.jpg"]


@pytest.fixture(params=["local", "s3"])
def configured(request, app, database) -> Iterator[str]:
    """The app's media storage as configured: its folder, or a bucket of the test's own."""
    if request.param == "local":
        yield "local"
        return
    with media_in_s3(app, request.getfixturevalue("server")):
        yield "s3"


def test_get_storage_follows_the_configuration(app, configured: str) -> None:
    with app.app_context():
        storage = get_storage()
        assert isinstance(storage, S3Storage if configured == "s3" else LocalStorage)
        assert get_storage() is storage or configured == "local"  # one S3 client per app and settings


def test_serve_answers_with_a_private_jpeg(app, configured: str) -> None:
    with app.app_context():
        get_storage().save(KEY, b"\xff\xd8jpeg")
    with app.test_request_context("/"):
        response = serve(KEY, etag="photo-display")
        response.direct_passthrough = False
        assert response.status_code == 200 and response.get_data() == b"\xff\xd8jpeg"
        assert response.mimetype == "image/jpeg"
        assert response.headers["Cache-Control"] == "max-age=3600, private"
        assert response.headers["ETag"] == '"photo-display"'
    with app.test_request_context("/", headers={"If-None-Match": '"photo-display"'}):
        assert serve(KEY, etag="photo-display").status_code == 304
    with app.test_request_context("/"):
        for missing in ("17/42/gone.jpg", "../etc/passwd"):
            with pytest.raises(Exception) as refused:
                serve(missing, etag="x")
            assert getattr(refused.value, "code", None) == 404


def test_backup_copies_what_is_stored_and_restore_puts_it_back(backend: Storage, request, tmp_path: Path) -> None:
    """`flask backup` copies the storage into a folder (without temp files), `flask restore` writes it into another
    storage of the same kind."""
    files = {"1/2/a-display.jpg": b"display", "1/2/report-" + "0" * 32 + ".pdf": b"%PDF", "3/brand/x.jpg": b"logo"}
    store(backend, files)
    backend.save("1/2/a-thumb.jpg.0123456789abcdef.part", b"an upload under way")
    copied, size = copy_out(backend, tmp_path / "backup" / "media")
    assert (copied, size) == (3, sum(len(data) for data in files.values()))
    if isinstance(backend, LocalStorage):
        restored: Storage = LocalStorage(tmp_path / "restored")
    else:
        restored = request.getfixturevalue("server").storage()
    copy_in(tmp_path / "backup" / "media", restored)
    assert {key: restored.read(key) for key in keys(restored)} == files


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"MEDIA_STORAGE": "ftp"}, "MEDIA_STORAGE must be one of local, s3, not 'ftp'"),
        ({"MEDIA_STORAGE": "s3"}, "needs S3_BUCKET"),
    ],
)
def test_a_storage_setting_that_cannot_work_stops_the_app_at_start(tmp_path: Path, settings, message) -> None:
    with pytest.raises(ValueError, match=message):
        make_app(tmp_path, **settings)
