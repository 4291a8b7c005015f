"""A full disk answers 507 with a clear message and leaves no half-written file and no row without its file.

The volume is real: a small tmpfs mounted for the test (we run as root), filled with a preallocated file so that
exactly as many bytes as the test wants stay free. Where mounting is not permitted the tests that need it skip.
"""

from __future__ import annotations

import errno
import io
import json
import math
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from sqlalchemy.exc import OperationalError

from shopper.actions.models import Action
from shopper.audits.models import Answer, Photo
from shopper.errors import MESSAGES, OUT_OF_SPACE_ON_THE_PHONE
from shopper.extensions import db
from shopper.media.ingest import ingest_image
from shopper.orgs.models import Organization, Role
from tests.conftest import make_app, session_id_for
from tests.images import oriented_jpeg
from tests.test_backup import committed_rows
from tests.test_reports_views import png

PAGE = 4096  # tmpfs hands out space a page at a time


class Volume:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.filler = root / "filler"

    def free_bytes(self) -> int:
        stat = os.statvfs(self.root)
        return stat.f_bavail * stat.f_frsize

    def fill(self, leave: int = 0) -> None:
        """Take all the free space but `leave` bytes (rounded up to whole pages)."""
        self.free()
        keep = math.ceil(leave / PAGE) * PAGE
        with open(self.filler, "wb") as stream:
            os.posix_fallocate(stream.fileno(), 0, self.free_bytes() - keep)
        assert self.free_bytes() == keep

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)

    def files(self) -> list[str]:
        """Every file but the filler, temp files included (rglob matches names starting with a dot)."""
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file() and p != self.filler)


@pytest.fixture
def volume(tmp_path):
    root = tmp_path / "volume"
    root.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(root)], check=True, capture_output=True
        )
    except (OSError, subprocess.CalledProcessError) as e:
        pytest.skip(f"mounting a tmpfs is not permitted here: {getattr(e, 'stderr', b'') or e}")
    try:
        yield Volume(root)
    finally:
        if subprocess.run(["umount", str(root)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "--lazy", str(root)], check=True)  # never leave a mount behind
            pytest.fail(f"{root} was still in use when the test ended")


@pytest.fixture
def media_on(app, volume):
    """MEDIA_ROOT on the small volume (the `database` fixture puts the test's own folder back afterwards)."""
    app.config["MEDIA_ROOT"] = str(volume.root / "media")
    return volume


@pytest.fixture
def walk(make):
    org = make.org()
    auditor = make.member(org, Role.AUDITOR)
    audit = make.audit(org, auditor)
    return {"org": org, "auditor": auditor, "audit": audit, "photos": f"/o/{org.slug}/api/audits/{audit.id}/photos"}


def upload(client, url, data, photo_id, key):
    form = {"id": photo_id, "touchpoint_key": "billing-line", "file": (io.BytesIO(data), "p.jpg")}
    return client.post(url, data=form, headers={"Idempotency-Key": key})


def test_a_photo_into_a_full_volume_is_507_then_the_same_upload_succeeds(client, login, make, walk, media_on):
    login(walk["auditor"])
    data, photo_id, key = oriented_jpeg(6, (400, 300)), str(uuid.uuid4()), uuid.uuid4().hex
    media_on.fill()
    refused = upload(client, walk["photos"], data, photo_id, key)
    assert refused.status_code == 507
    assert refused.get_json() == {"error": OUT_OF_SPACE_ON_THE_PHONE, "status": 507}
    assert make.get(Photo, photo_id) is None
    assert media_on.files() == []

    media_on.free()
    stored = upload(client, walk["photos"], data, photo_id, key)  # the phone's outbox sends the very same request
    assert stored.status_code == 201 and stored.get_json()["photo"]["id"] == photo_id
    assert make.get(Photo, photo_id).audit_id == walk["audit"].id
    base = f"media/{walk['org'].id}/{walk['audit'].id}/{photo_id}"
    assert media_on.files() == [f"{base}-{name}.jpg" for name in ("display", "print", "thumb")]


def test_room_for_one_rendition_only_leaves_no_file_behind(client, login, make, walk, media_on):
    """The first rendition is written and renamed into place, the second runs out of space half-way: both go."""
    login(walk["auditor"])
    data, photo_id = oriented_jpeg(6, (2400, 1800)), str(uuid.uuid4())
    renditions = ingest_image(data).renditions
    assert len(renditions["print"].data) > PAGE  # so the second file really is cut off part-way
    media_on.fill(leave=len(renditions["display"].data))
    refused = upload(client, walk["photos"], data, photo_id, uuid.uuid4().hex)
    assert refused.status_code == 507
    assert make.get(Photo, photo_id) is None
    assert media_on.files() == []


def test_an_after_photo_into_a_full_volume_changes_nothing(client, login, make, media_on):
    org = make.org()
    owner = make.member(org, Role.OWNER)
    answers = {"answer-time": 240, "transfers": 3, "resolved": ("no", "They asked me to write in")}
    audit = make.submitted_audit(org, owner, answers)
    action = make.action(audit, "transfers", by=owner)
    login(owner)
    data = oriented_jpeg(1, (2400, 1800))
    media_on.fill(leave=len(ingest_image(data).renditions["display"].data))  # the thumb finds no room
    response = client.post(
        f"/o/{org.slug}/actions/{action.id}/status",
        data={"status": "done", "note": "New rota", "photo": (io.BytesIO(data), "after.jpg")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 507
    assert MESSAGES[507] in response.get_data(as_text=True)
    after = make.get(Action, action.id)
    assert after.status == "open" and after.proof_photo_id is None
    assert media_on.files() == []


def test_a_logo_into_a_full_volume_is_a_507_page_and_keeps_the_brand(client, login, make, media_on):
    org = make.org()
    login(make.member(org, Role.OWNER))
    media_on.fill()
    response = client.post(
        f"/o/{org.slug}/brand",
        data={"display_name": "Harbour", "logo": (io.BytesIO(png()), "logo.png")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 507 and response.mimetype == "text/html"
    assert MESSAGES[507] in response.get_data(as_text=True)
    saved = make.get(Organization, org.id)
    assert saved.logo_media_id is None and saved.display_name is None
    assert media_on.files() == []


# The mapping itself, on an app of its own (routes cannot be added to the suite's app once it has served) -----


@pytest.fixture(scope="module")
def raising_app(tmp_path_factory) -> Flask:
    app = make_app(tmp_path_factory.mktemp("raising"), PROPAGATE_EXCEPTIONS=False)
    problems = {
        "full": lambda: OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
        "quota": lambda: OSError(errno.EDQUOT, os.strerror(errno.EDQUOT)),
        "io": lambda: OSError(errno.EIO, os.strerror(errno.EIO)),
        "denied": lambda: PermissionError(errno.EACCES, os.strerror(errno.EACCES)),
        "missing": lambda: FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT)),
        "pg-full": lambda: OperationalError("INSERT", {}, psycopg.errors.DiskFull("could not extend file")),
        "pg-other": lambda: OperationalError("INSERT", {}, psycopg.errors.AdminShutdown("terminating")),
    }

    def fail(problem: str):
        raise problems[problem]()

    app.add_url_rule("/page/<problem>", view_func=fail, endpoint="page")
    app.add_url_rule("/o/x/api/<problem>", view_func=fail, endpoint="api")
    return app


@pytest.mark.parametrize("problem", ["full", "quota", "pg-full"])
def test_running_out_of_space_is_507_on_pages_and_in_the_api(raising_app, problem):
    client = raising_app.test_client()
    page = client.get(f"/page/{problem}")
    assert page.status_code == 507 and page.mimetype == "text/html"
    assert MESSAGES[507] in page.get_data(as_text=True)
    api = client.get(f"/o/x/api/{problem}")
    assert api.status_code == 507 and api.get_json() == {"error": OUT_OF_SPACE_ON_THE_PHONE, "status": 507}


@pytest.mark.parametrize("problem", ["io", "denied", "missing", "pg-other"])
def test_every_other_os_or_database_error_stays_a_500(raising_app, problem):
    client = raising_app.test_client()
    assert client.get(f"/page/{problem}").status_code == 500
    assert client.get(f"/o/x/api/{problem}").get_json()["status"] == 500


@pytest.fixture
def instance_on(volume) -> Iterator[Flask]:
    """A whole instance (SQLite database and media) on the small volume, as a default installation has it."""
    app = make_app(volume.root, DATABASE_URL=f"sqlite:///{volume.root / 'shopper.sqlite3'}")
    with app.app_context():
        db.create_all()
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()  # closes the database files, so the volume can be unmounted


def test_a_full_disk_under_the_sqlite_database_is_507_and_the_next_try_succeeds(instance_on, volume):
    with committed_rows(instance_on) as make:
        org = make.org()
        auditor = make.member(org, Role.AUDITOR)
        audit = make.audit(org, auditor)
    client = instance_on.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id_for(instance_on, auditor)
    url = f"/o/{org.slug}/api/audits/{audit.id}/answers/answer-time"
    body = json.dumps({"value": 42, "note": "They put me on hold. " * 230, "client_ts": 1})
    headers = {"Idempotency-Key": uuid.uuid4().hex}
    volume.fill()
    refused = client.put(url, data=body, content_type="application/json", headers=headers)
    assert refused.status_code == 507
    assert refused.get_json()["error"] == OUT_OF_SPACE_ON_THE_PHONE
    volume.free()
    assert make.count(Answer, audit_id=audit.id) == 0
    saved = client.put(url, data=body, content_type="application/json", headers=headers)
    assert saved.status_code == 200 and saved.get_json()["answer"]["value"] == 42
    assert make.count(Answer, audit_id=audit.id) == 1


def test_a_backup_onto_a_full_volume_says_so_and_leaves_nothing(tmp_path, volume):
    app = make_app(tmp_path / "instance", DATABASE_URL=f"sqlite:///{tmp_path / 'instance' / 'shopper.sqlite3'}")
    with app.app_context():
        db.create_all()
    with committed_rows(app) as make:
        make.org()
    volume.fill(leave=PAGE)
    result = app.test_cli_runner().invoke(args=["backup", str(volume.root / "nightly")])
    assert result.exit_code == 1
    assert "The backup could not be written (database or disk is full); nothing of it was kept." in result.output
    assert volume.files() == [] and sorted(p.name for p in volume.root.iterdir()) == ["filler"]
    with app.app_context():
        db.engine.dispose()
