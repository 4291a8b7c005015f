"""A real Shopper server and Debian's Chromium, driven by Playwright at a phone's size.

The server runs in a background thread on 127.0.0.1 (a random free port) against a database of its own: a fresh
SQLite file, or a dedicated schema when SHOPPER_TEST_DATABASE_URL points at PostgreSQL. Rows are committed for
real, since the server thread cannot see the rolled-back sessions of the other tests. One server and one browser per
module keep the tests fast; each test gets a new audit and a new, signed-in browser context.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
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
from tests.conftest import TEST_DATABASE_URL, make_app
from tests.factories import PASSWORD, PASSWORD_HASH

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "user_agent": (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36"
    ),
    "locale": "en-GB",
    "service_workers": "block",  # the walk's own behaviour, without the offline shell's worker in between
}
SCHEMA = "shopper_browser_test"


@dataclass
class Live:
    app: object
    url: str
    org_slug: str = ""
    org_id: int = 0
    auditor_id: int = 0
    auditor_email: str = ""
    checklist_id: int = 0
    site_id: int = 0

    def new_audit(self) -> int:
        """A new audit of the library's be-your-customer walk, in progress by the auditor: its id."""
        from shopper.checklists.models import Checklist

        with self.app.app_context():
            audit = start_audit(
                org_id=self.org_id,
                checklist=db.session.get(Checklist, self.checklist_id),
                site=db.session.get(Site, self.site_id),
                auditor_id=self.auditor_id,
                created_by_id=self.auditor_id,
                scenario="A first-time customer with a billing question",
                due_on=None,
                now=utcnow(),
            )
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


def _seed(app, live: Live) -> None:
    with app.app_context():
        org = Organization(name="Harbour Dental", slug="harbour-dental", kind=OrgKind.BUSINESS)
        auditor = User(email="sam@harbour.example", name="Sam Auditor", password_hash=PASSWORD_HASH)
        db.session.add_all([org, auditor])
        db.session.flush()
        site = Site(org_id=org.id, name="Harbour Street clinic")
        db.session.add_all([site, Membership(org_id=org.id, user_id=auditor.id, role=Role.AUDITOR)])
        db.session.commit()
        checklist = copy_from_library(org.id, auditor.id, "be-your-customer", utcnow())
        live.org_slug, live.org_id, live.auditor_id = org.slug, org.id, auditor.id
        live.auditor_email, live.checklist_id, live.site_id = auditor.email, checklist.id, site.id


@pytest.fixture(scope="module")
def live(tmp_path_factory) -> Iterator[Live]:
    """The server, with an organization, an auditor, a site and the library's be-your-customer checklist."""
    tmp_path = tmp_path_factory.mktemp("live")
    databases = _database(tmp_path)
    database_url = next(databases)
    previous = os.environ.get("SHOPPER_INSTANCE_PATH")
    try:
        app = make_app(tmp_path / "instance", DATABASE_URL=database_url, SERVER_NAME=None, WTF_CSRF_ENABLED=True)
    finally:  # make_app points the environment at this instance; the session's app must not follow it
        if previous is None:
            os.environ.pop("SHOPPER_INSTANCE_PATH", None)
        else:
            os.environ["SHOPPER_INSTANCE_PATH"] = previous
    with app.app_context():
        db.create_all()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    site = Live(app=app, url=f"http://127.0.0.1:{server.server_port}")
    try:
        _seed(app, site)
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
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


@pytest.fixture
def phone(browser, live):
    """A new phone-sized, touch-screen browser context; the page is signed in as the auditor."""
    context = browser.new_context(**PHONE)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{live.url}/login")
    page.fill("input[name=email]", live.auditor_email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)
    try:
        yield page
    finally:
        context.close()
