"""A real Shopper server and Debian's Chromium, driven by Playwright at a phone's size.

The server runs in a background thread on 127.0.0.1 (a random free port) against a database of its own: a fresh
SQLite file, or a dedicated schema when SHOPPER_TEST_DATABASE_URL points at PostgreSQL. Rows are committed for
real, since the server thread cannot see the rolled-back sessions of the other tests. One server and one browser per
module keep the tests fast; each test gets a new audit and a new, signed-in browser context. The server can be
stopped and started again on the same port (a restart), and every write to the API passes through a `Wire` that
records it and can slow it, refuse it or cut the line, as a real network and a real restart do.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from shopper.accounts.models import User
from shopper.audits.service import start_audit
from shopper.checklists.service import copy_from_library
from shopper.extensions import db
from shopper.orgs.models import Membership, Organization, OrgKind, Role, Site
from shopper.timeutil import utcnow
from tests.browser.phone import CHROMIUM, CHROMIUM_ARGS, PHONE
from tests.conftest import TEST_DATABASE_URL, make_app
from tests.factories import PASSWORD, PASSWORD_HASH

SCHEMA = "shopper_browser_test"


class Wire:
    """WSGI middleware between the server and the app: records every API write as (method, path, Idempotency-Key),
    and on request delays each one (`delay`), answers them all `unavailable_status` (503 by default, with
    `retry_after` as Retry-After if set) while `unavailable`, answers every write to a path ending with a key of
    `failing` that key's status without applying it (a server that keeps failing on one change), or applies the
    `cut_after`-th one and then drops the connection before the reply, as a server that dies between its commit and
    its answer. Writes turned away while unavailable are counted in `turned_away`, failed ones in `failed`."""

    def __init__(self, app):
        self.app = app
        self.writes: list[tuple[str, str, str | None]] = []
        self.turned_away: list[tuple[str, str, str | None]] = []
        self.failed: list[tuple[str, str, str | None]] = []
        self.reset()

    def reset(self) -> None:
        """Back to a plain line: no delay, nothing refused or cut (what was recorded stays)."""
        self.delay = 0.0
        self.unavailable = False
        self.unavailable_status = 503
        self.retry_after: int | None = None
        self.failing: dict[str, int] = {}
        self.cut_after: int | None = None
        self.cut = threading.Event()

    def clear(self) -> None:
        self.writes.clear()
        self.turned_away.clear()
        self.failed.clear()

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "GET" or "/api/" not in environ["PATH_INFO"]:
            return self.app(environ, start_response)
        write = (environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("HTTP_IDEMPOTENCY_KEY"))
        if self.unavailable:
            self.turned_away.append(write)
            status = self.unavailable_status
            headers = [("Content-Type", "application/json")]
            if self.retry_after is not None:
                headers.append(("Retry-After", str(self.retry_after)))
            start_response(f"{status} {HTTPStatus(status).phrase}", headers)
            return [b'{"error": "Down for maintenance.", "status": %d}' % status]
        failing = next((status for path, status in self.failing.items() if write[1].endswith(path)), None)
        if failing is not None:
            self.failed.append(write)
            start_response(f"{failing} {HTTPStatus(failing).phrase}", [("Content-Type", "application/json")])
            return [b'{"error": "Something went wrong on our side.", "status": %d}' % failing]
        self.writes.append(write)
        time.sleep(self.delay)
        if self.cut_after is not None and len(self.writes) >= self.cut_after and not self.cut.is_set():
            response = self.app(environ, lambda *args: None)  # applied and committed ...
            getattr(response, "close", lambda: None)()
            self.cut.set()
            environ["werkzeug.socket"].shutdown(socket.SHUT_RDWR)  # ... but the reply never leaves
            raise ConnectionAbortedError("the server went down before it could answer")
        return self.app(environ, start_response)


@dataclass
class Live:
    app: object
    url: str
    wire: Wire
    instance: Path
    database_url: str
    org_slug: str = ""
    org_id: int = 0
    auditor_id: int = 0
    auditor_email: str = ""
    manager_id: int = 0
    manager_email: str = ""
    checklist_id: int = 0
    small_checklist_id: int = 0
    site_id: int = 0
    server: object = None
    thread: threading.Thread | None = None
    apps: list = field(default_factory=list)

    def start(self, app=None) -> None:
        """Serve on this Live's port (a new one the first time)."""
        port = int(self.url.rpartition(":")[2]) if self.url else 0
        self.wire.app = app or self.app
        self.server = make_server("127.0.0.1", port, self.wire, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="live-server", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    def restart(self) -> None:
        """Stop the server and start a new one, with a new app on the same database, on the same port."""
        self.stop()
        app = _app(self.instance, self.database_url)
        self.apps.append(app)
        self.start(app)

    def new_audit(self, small: bool = False) -> int:
        """A new audit in progress by the auditor: of the library's be-your-customer walk, or of a small checklist
        with nothing required (which a manager can submit at once). Its id."""
        from shopper.checklists.models import Checklist

        with self.app.app_context():
            audit = start_audit(
                org_id=self.org_id,
                checklist=db.session.get(Checklist, self.small_checklist_id if small else self.checklist_id),
                site=db.session.get(Site, self.site_id),
                auditor_id=self.auditor_id,
                created_by_id=self.auditor_id,
                scenario="A first-time customer with a billing question",
                due_on=None,
                now=utcnow(),
            )
            db.session.commit()
            return audit.id

    def walk_url(self, audit_id: int, touchpoint_key: str) -> str:
        return f"{self.url}/o/{self.org_slug}/audits/{audit_id}/walk/{touchpoint_key}"


def _database(tmp_path: Path) -> Iterator[str]:
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / 'browser.sqlite3'}"
        return
    from shopper.database import normalize_database_url

    admin = create_engine(normalize_database_url(TEST_DATABASE_URL))
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    try:
        yield f"{TEST_DATABASE_URL}{separator}options=-csearch_path%3D{SCHEMA}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        admin.dispose()


SMALL_CHECKLIST = {
    "title": "Front desk spot check",
    "touchpoints": [
        {
            "key": "front-desk",
            "title": "The front desk",
            "channel": "in-person",
            "promise": "Someone greets you within a minute",
            "items": [
                {"key": "greeted", "type": "check", "prompt": "Were you greeted within a minute?"},
                {"key": "name-badge", "type": "check", "prompt": "Did the person wear a name badge?"},
                {"key": "desk-tidy", "type": "check", "prompt": "Was the desk tidy?"},
            ],
        }
    ],
}


def _seed(app, live: Live) -> None:
    from shopper.checklists import service as checklists

    with app.app_context():
        org = Organization(name="Harbour Dental", slug="harbour-dental", kind=OrgKind.BUSINESS)
        auditor = User(email="sam@harbour.example", name="Sam Auditor", password_hash=PASSWORD_HASH)
        manager = User(email="mo@harbour.example", name="Mo Manager", password_hash=PASSWORD_HASH)
        db.session.add_all([org, auditor, manager])
        db.session.flush()
        site = Site(org_id=org.id, name="Harbour Street clinic")
        db.session.add_all(
            [
                site,
                Membership(org_id=org.id, user_id=auditor.id, role=Role.AUDITOR),
                Membership(org_id=org.id, user_id=manager.id, role=Role.MANAGER),
            ]
        )
        db.session.commit()
        checklist = copy_from_library(org.id, auditor.id, "be-your-customer", utcnow())
        small = checklists.create_checklist(org.id, manager.id, title=SMALL_CHECKLIST["title"])
        checklists.save_draft(small, SMALL_CHECKLIST)
        checklists.publish(small, manager.id, utcnow())
        live.org_slug, live.org_id, live.auditor_id = org.slug, org.id, auditor.id
        live.auditor_email, live.checklist_id, live.site_id = auditor.email, checklist.id, site.id
        live.manager_id, live.manager_email, live.small_checklist_id = manager.id, manager.email, small.id
        db.session.commit()


def _app(instance: Path, database_url: str):
    return make_app(instance, DATABASE_URL=database_url, SERVER_NAME=None, WTF_CSRF_ENABLED=True)


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    """The server, with an organization, an auditor, a manager, a site, the library's be-your-customer checklist
    and a small one."""
    tmp_path = tmp_path_factory.mktemp("live")
    databases = _database(tmp_path)
    database_url = next(databases)
    app = _app(tmp_path / "instance", database_url)
    with app.app_context():
        db.create_all()
    site = Live(app=app, url="", wire=Wire(app), instance=tmp_path / "instance", database_url=database_url)
    site.apps.append(app)
    site.start()
    try:
        _seed(app, site)
        yield site
    finally:
        site.stop()
        for each in site.apps:
            with each.app_context():
                db.session.remove()
                db.engine.dispose()
        next(databases, None)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Debian's Chromium is not installed at {CHROMIUM} (apt-get install chromium); CI installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def sign_in(page, live: Live, email: str = "", remember: bool = False) -> None:
    page.goto(f"{live.url}/login")
    page.fill("input[name=email]", email or live.auditor_email)
    page.fill("input[name=password]", PASSWORD)
    if remember:
        page.check("input[name=remember]")
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


@pytest.fixture
def phone(browser, live):
    """A new phone-sized, touch-screen browser context; the page is signed in as the auditor."""
    context = browser.new_context(**PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, live)
    live.wire.clear()
    try:
        yield page
    finally:
        context.close()
        live.wire.reset()


@pytest.fixture
def pwa_phone(browser, live):
    """The same phone with the service worker at work, as on a real phone; the page is signed in as the auditor.
    Dialogs ("Leave site?" while changes wait) are accepted."""
    context = browser.new_context(**{**PHONE, "service_workers": "allow"})
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live)
    live.wire.clear()
    try:
        yield page
    finally:
        context.close()
        live.wire.reset()
