"""Pages that decode a photo before they write (a brand's logo, an action's after photo) hold SQLite's write lock
for the write only, never while Pillow works (issue 13: no lock held across slow work)."""

from __future__ import annotations

import io
import sqlite3
import threading
import time

import pytest
from PIL import Image

from shopper.accounts import sessions
from shopper.accounts.models import User
from shopper.actions.models import Action
from shopper.actions.service import ActionInput, create_action
from shopper.audits.models import Audit, Finding
from shopper.checklists.service import copy_from_library
from shopper.extensions import db
from shopper.orgs.access import access_for
from shopper.orgs.models import Organization
from shopper.timeutil import utcnow
from tests.committed import committed_database, seed_business
from tests.conftest import TEST_DATABASE_URL
from tests.test_reports_support import walk_and_submit

pytestmark = pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's database-wide write lock")


def big_photo() -> bytes:
    """A 12 MP JPEG of fine detail: Pillow needs a good part of a second for it on this machine class."""
    picture = Image.effect_noise((4000, 3000), 24).convert("RGB")
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=60)  # about 3 MB: under the 5 MB a logo may be
    return out.getvalue()


@pytest.fixture(scope="module")
def committed(tmp_path_factory):
    with committed_database(tmp_path_factory.mktemp("slow-writes")) as app:
        business = seed_business(app, "slow-dental")
        with app.app_context():
            owner = db.session.get(User, business.user_id)
            checklist = copy_from_library(business.org_id, owner.id, "be-your-customer", utcnow())
            audit_id = walk_and_submit(
                business.org_id, owner.id, checklist.id, business.site_id, app.config["MEDIA_ROOT"]
            )
            audit = db.session.get(Audit, audit_id)
            finding = db.session.query(Finding).filter_by(audit_id=audit_id).first()
            action = create_action(
                audit, finding, access_for(owner.id, business.slug), ActionInput(title="Fix it"), utcnow()
            )
            ids = {
                "org_id": business.org_id,
                "action_id": action.id,
                "session": sessions.start(owner, now=utcnow()),
                "database": db.engine.url.database,
            }
            db.session.commit()
        yield app, ids


def writes_while(request, database: str) -> tuple[object, int, list[str]]:
    """Try short write transactions from another connection while `request()` runs in a thread."""
    done = threading.Event()
    outcome = {}

    def run():
        response = request()
        response.request.environ["wsgi.input"].close()  # the test client spools a big body to a file it keeps open
        response.close()
        outcome["response"] = response
        done.set()

    thread = threading.Thread(target=run)
    thread.start()
    other = sqlite3.connect(database, timeout=0.05, isolation_level=None)
    writes, refused = 0, []
    try:
        while not done.is_set():
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("UPDATE site SET name = name")
                other.execute("COMMIT")
                writes += 1
            except sqlite3.OperationalError as e:
                refused.append(str(e))
            time.sleep(0.01)
    finally:
        thread.join(60)
        other.close()
    return outcome["response"], writes, refused


def test_a_new_logo_is_decoded_without_the_write_lock(committed):
    app, ids = committed
    browser = app.test_client()
    with browser.session_transaction() as session:
        session["_user_id"] = ids["session"]
    photo = big_photo()
    response, writes, refused = writes_while(
        lambda: browser.post(
            "/o/slow-dental/brand",
            data={"logo": (io.BytesIO(photo), "logo.jpg"), "primary_color": "#0f5c63"},
            content_type="multipart/form-data",
        ),
        ids["database"],
    )
    assert response.status_code == 302, response.get_data(as_text=True).split("<main", 1)[-1][:1500]
    assert refused == [] and writes >= 5, (writes, refused)
    with app.app_context():
        assert db.session.get(Organization, ids["org_id"]).logo_media_id is not None


def test_an_after_photo_is_decoded_without_the_write_lock(committed):
    app, ids = committed
    browser = app.test_client()
    with browser.session_transaction() as session:
        session["_user_id"] = ids["session"]
    photo = big_photo()
    response, writes, refused = writes_while(
        lambda: browser.post(
            f"/o/slow-dental/actions/{ids['action_id']}/status",
            data={"status": "done", "note": "A second desk", "photo": (io.BytesIO(photo), "after.jpg")},
            content_type="multipart/form-data",
        ),
        ids["database"],
    )
    assert response.status_code == 302, response.get_data(as_text=True).split("<main", 1)[-1][:1500]
    assert refused == [] and writes >= 5, (writes, refused)
    with app.app_context():
        assert db.session.get(Action, ids["action_id"]).proof_photo_id is not None
