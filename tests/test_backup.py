"""Backups taken while the app writes, restored into a fresh instance that then serves its reports and photos.

These tests run the real commands (`flask backup`, `flask restore`) on instances of their own with committed data:
SQLite files in temporary folders, or, when SHOPPER_TEST_DATABASE_URL is set, a PostgreSQL schema of their own
(pg_dump dumps the whole test database, so restoring it also rewrites the suite's empty tables in `public`).
"""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
from flask import Flask
from flask_migrate import upgrade
from PIL import Image
from sqlalchemy import create_engine, select, text

from shopper.accounts import sessions
from shopper.accounts.models import User
from shopper.audits.models import Audit
from shopper.demo import DEMO_REPORT_SCENARIO, DEMO_SLUG, load_demo
from shopper.extensions import db
from shopper.maintenance.backup import MANIFEST, SQLITE_COPY, sha256_of
from shopper.orgs.models import Organization
from shopper.timeutil import utcnow
from tests.conftest import TEST_DATABASE_URL, make_app
from tests.factories import Factories
from tests.images import oriented_jpeg

SCHEMA = "shopper_backup_test"


@contextmanager
def committed_rows(app: Flask) -> Iterator[Factories]:
    """Factories that really commit, on an app of the test's own. Rows stay readable after their session ends, as
    in the suite's rolled-back sessions; the app's own session is back to normal once the block ends."""
    original = db.session
    db.session = db._make_scoped_session({"expire_on_commit": False})
    try:
        yield Factories(app)
    finally:
        db.session = original


@dataclass
class Databases:
    """Where the live instance keeps its data, where the restored one will, and how to make the latter empty."""

    live: str
    restored: str
    postgres: bool

    def empty_the_restored_one(self) -> None:
        if self.postgres:  # the restored instance uses the same schema: it goes, as on a new server
            _drop_schema()


def _admin():
    from shopper.database import normalize_database_url

    return create_engine(normalize_database_url(TEST_DATABASE_URL))


def _drop_schema() -> None:
    admin = _admin()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    admin.dispose()


@pytest.fixture
def databases(tmp_path) -> Iterator[Databases]:
    if not TEST_DATABASE_URL:
        yield Databases(
            f"sqlite:///{tmp_path / 'live' / 'shopper.sqlite3'}",
            f"sqlite:///{tmp_path / 'restored' / 'shopper.sqlite3'}",
            postgres=False,
        )
        return
    _drop_schema()
    admin = _admin()
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    admin.dispose()
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    url = f"{TEST_DATABASE_URL}{separator}options=-csearch_path%3D{SCHEMA}"
    yield Databases(url, url, postgres=True)
    _drop_schema()


@dataclass
class Demo:
    app: Flask
    owner: str  # what the session keeps: a device session's identifier
    auditor: str
    report_audit_id: int
    open_audit_id: int
    definition: dict


def demo_instance(folder, url: str) -> Demo:
    """An instance migrated the way production is, with the demo loaded (real photos and a logo)."""
    app = make_app(folder, DATABASE_URL=url)
    with app.app_context():
        upgrade()
        result = load_demo()
        owner = db.session.scalar(select(User).where(User.email == "owner@demo.shopper.test"))
        audits = db.session.scalars(select(Audit).where(Audit.org_id == result.org.id)).all()
        report = next(a for a in audits if a.scenario == DEMO_REPORT_SCENARIO)
        walking = next(a for a in audits if not a.is_submitted)
        auditor = db.session.get(User, walking.auditor_id)
        owner_session, auditor_session = (sessions.start(person, now=utcnow()) for person in (owner, auditor))
        db.session.commit()
        demo = Demo(app, owner_session, auditor_session, report.id, walking.id, walking.definition)
        db.session.remove()
    return demo


def sign_in(app: Flask, user_id: str):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = user_id
        session["_fresh"] = True
    return client


class Writer(threading.Thread):
    """An auditor who keeps saving answers and photos on the live instance: one write after another, as fast as
    the app takes them, until told to stop."""

    def __init__(self, demo: Demo) -> None:
        super().__init__(daemon=True)
        self.client = sign_in(demo.app, demo.auditor)
        self.base = f"/o/{DEMO_SLUG}/api/audits/{demo.open_audit_id}"
        touchpoints = demo.definition["touchpoints"]
        self.touchpoint = touchpoints[0]["key"]
        self.text_item = next(i["key"] for tp in touchpoints for i in tp["items"] if i["type"] == "text")
        self.photo = oriented_jpeg(1, (320, 240))
        self.stop = threading.Event()
        self.done: list[tuple[float, int]] = []  # (when it finished, status)

    def write(self, n: int) -> int:
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        if n % 3 == 0:
            form = {
                "id": str(uuid.uuid4()),
                "touchpoint_key": self.touchpoint,
                "file": (io.BytesIO(self.photo), "p.jpg"),
            }
            return self.client.post(f"{self.base}/photos", data=form, headers=headers).status_code
        body = json.dumps({"value": f"Seen on visit {n}", "client_ts": n})
        url = f"{self.base}/answers/{self.text_item}"
        return self.client.put(url, data=body, content_type="application/json", headers=headers).status_code

    def run(self) -> None:
        n = 0
        while not self.stop.is_set():
            n += 1
            self.done.append((time.monotonic(), self.write(n)))

    def wait_for(self, writes: int) -> None:
        deadline = time.monotonic() + 30
        while len(self.done) < writes and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.done) >= writes


def test_a_backup_made_while_the_app_writes_restores_into_a_working_instance(tmp_path, databases):
    demo = demo_instance(tmp_path / "live", databases.live)
    writer = Writer(demo)
    writer.start()
    try:
        writer.wait_for(6)
        for attempt in range(5):  # a backup takes a fraction of a second: make sure writes landed during one
            backup = tmp_path / f"nightly-{attempt}"
            started = time.monotonic()
            made = demo.app.test_cli_runner().invoke(args=["backup", str(backup)])
            finished = time.monotonic()
            assert made.exit_code == 0, made.output
            if any(started < when < finished for when, _ in writer.done):
                break
        else:
            pytest.fail("no write landed while a backup ran")
        writer.wait_for(len(writer.done) + 3)
    finally:
        writer.stop.set()
        writer.join()
    assert "Backed up to" in made.output
    assert {status for _, status in writer.done} <= {200, 201}

    manifest = json.loads((backup / MANIFEST).read_text())
    database = manifest["database"]
    assert database["kind"] == ("postgresql" if databases.postgres else "sqlite")
    assert database["sha256"] == sha256_of(backup / database["file"])
    with demo.app.app_context():
        head = db.session.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert database["revision"] == head
    assert manifest["counts"]["organization"] >= 4 and manifest["counts"]["photo"] >= 5
    assert manifest["media"]["missing"] == []
    with demo.app.app_context():
        db.engine.dispose()

    databases.empty_the_restored_one()
    restored = make_app(tmp_path / "restored", DATABASE_URL=databases.restored)
    result = restored.test_cli_runner().invoke(args=["restore", str(backup)])
    assert result.exit_code == 0, result.output
    assert f"{manifest['counts']['photo']} photos" in result.output

    owner = sign_in(restored, demo.owner)
    page = owner.get(f"/o/{DEMO_SLUG}/audits/{demo.report_audit_id}/report")
    assert page.status_code == 200
    text_of_page = html.unescape(page.get_data(as_text=True))
    assert DEMO_REPORT_SCENARIO in text_of_page
    pictures = set(
        re.findall(rf"/o/{DEMO_SLUG}/audits/{demo.report_audit_id}/photos/[0-9a-f-]{{36}}/\w+\.jpg", text_of_page)
    )
    assert len(pictures) >= 2
    for url in sorted(pictures) + [f"/o/{DEMO_SLUG}/brand/logo.jpg"]:
        response = owner.get(url)
        assert response.status_code == 200 and response.mimetype == "image/jpeg", url
        with Image.open(io.BytesIO(response.data)) as image:
            assert image.format == "JPEG"
            image.load()

    check = restored.test_cli_runner().invoke(args=["media", "check"])
    assert check.exit_code == 0, check.output  # uploads after the database copy are recent extras, left alone
    assert "Rows whose file is missing" not in check.output
    with restored.app_context():
        assert db.session.scalar(select(Organization.name).where(Organization.slug == DEMO_SLUG))
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="module")
def sqlite_backup(tmp_path_factory):
    """One backup of a demo instance on SQLite, for the tests that damage copies of it."""
    folder = tmp_path_factory.mktemp("demo")
    demo = demo_instance(folder / "live", f"sqlite:///{folder / 'live' / 'shopper.sqlite3'}")
    made = demo.app.test_cli_runner().invoke(args=["backup", str(folder / "backup")])
    assert made.exit_code == 0, made.output
    with demo.app.app_context():
        db.engine.dispose()
    return folder / "backup"


def sqlite_instance(folder) -> Flask:
    return make_app(folder, DATABASE_URL=f"sqlite:///{folder / 'shopper.sqlite3'}")


def restore(app: Flask, source, *options):
    return app.test_cli_runner().invoke(args=["restore", str(source), *options])


def test_a_backup_never_overwrites(tmp_path, sqlite_backup):
    app = sqlite_instance(tmp_path / "instance")
    with app.app_context():
        db.create_all()
    for existing in (tmp_path / "folder", tmp_path / "file"):
        existing.mkdir() if existing.name == "folder" else existing.write_text("keep me")
        refused = app.test_cli_runner().invoke(args=["backup", str(existing)])
        assert refused.exit_code == 1 and "already exists, and a backup never overwrites" in refused.output
    assert (tmp_path / "file").read_text() == "keep me" and list((tmp_path / "folder").iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "folder", "instance"]  # no half backup left
    with app.app_context():
        db.engine.dispose()


def test_a_restore_refuses_a_database_with_data_unless_forced(tmp_path, sqlite_backup):
    app = sqlite_instance(tmp_path / "instance")
    with app.app_context():
        db.create_all()
    with committed_rows(app) as make:
        make.org("Already here")
    refused = restore(app, sqlite_backup)
    assert refused.exit_code == 1 and "already has data" in refused.output and "--force" in refused.output
    with app.app_context():
        assert db.session.scalars(select(Organization.name)).all() == ["Already here"]
        db.session.remove()
    forced = restore(app, sqlite_backup, "--force")
    assert forced.exit_code == 0, forced.output
    with app.app_context():
        names = db.session.scalars(select(Organization.name)).all()
        assert "Already here" not in names and "Harbour Physio (demo)" in names
        db.session.remove()
        db.engine.dispose()


def test_a_damaged_or_incomplete_backup_is_refused_and_changes_nothing(tmp_path, sqlite_backup):
    app = sqlite_instance(tmp_path / "instance")
    damaged = shutil.copytree(sqlite_backup, tmp_path / "damaged")
    with sqlite3.connect(damaged / SQLITE_COPY) as copy:  # a valid database, just not the one that was backed up
        copy.execute("UPDATE organization SET name = 'Tampered'")
    copy.close()
    refused = restore(app, damaged)
    assert refused.exit_code == 1 and "does not match the checksum" in refused.output

    incomplete = shutil.copytree(sqlite_backup, tmp_path / "incomplete")
    next(p for p in (incomplete / "media").rglob("*.jpg")).unlink()
    refused = restore(app, incomplete)
    assert refused.exit_code == 1 and "incomplete or damaged" in refused.output

    unfinished = shutil.copytree(sqlite_backup, tmp_path / "unfinished")
    (unfinished / MANIFEST).unlink()
    refused = restore(app, unfinished)
    assert refused.exit_code == 1 and "it is not a Shopper backup, or it was never finished" in refused.output

    assert not (tmp_path / "instance" / "shopper.sqlite3").exists()
    assert not (tmp_path / "instance" / "media").exists()


def test_a_write_under_way_is_not_in_the_backup_and_does_not_hold_it_up(tmp_path):
    app = sqlite_instance(tmp_path / "instance")
    with app.app_context():
        db.create_all()
    with committed_rows(app) as make:
        make.org("Committed")
    writer = sqlite3.connect(tmp_path / "instance" / "shopper.sqlite3", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "INSERT INTO organization (slug, name, kind, white_label, created_at) "
        "VALUES ('later', 'Not yet committed', 'business', 0, '2026-01-01')"
    )
    started = time.monotonic()
    made = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "backup")])
    assert made.exit_code == 0, made.output
    assert time.monotonic() - started < 4  # SQLite's busy timeout is 5 s: the backup never waited for the lock
    writer.execute("COMMIT")
    writer.close()
    with sqlite3.connect(tmp_path / "backup" / SQLITE_COPY) as copy:
        assert copy.execute("SELECT name FROM organization").fetchall() == [("Committed",)]
    copy.close()
    with app.app_context():
        db.engine.dispose()


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="pg_dump is for PostgreSQL")
def test_without_pg_dump_the_backup_says_how_and_makes_nothing(tmp_path, databases, monkeypatch):
    app = make_app(tmp_path / "instance", DATABASE_URL=databases.live)
    monkeypatch.setenv("PATH", str(tmp_path / "no-programs-here"))
    refused = app.test_cli_runner().invoke(args=["backup", str(tmp_path / "backup")])
    assert refused.exit_code == 1
    assert "pg_dump is not installed" in refused.output
    assert 'pg_dump --format=custom --file=DEST/shopper.pgdump "$DATABASE_URL"' in refused.output
    assert not (tmp_path / "backup").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["instance"]
    with app.app_context():
        db.engine.dispose()
