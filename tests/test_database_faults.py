"""The database misbehaving under the app (issue 13): SQLite's write lock held by another process, PostgreSQL
connections killed. Requests answer 503 with Retry-After, which the phone's outbox retries, never a traceback; and a
killed connection costs no request at all when the pool checks it on the way out."""

from __future__ import annotations

import sqlite3
import uuid

import pytest
from sqlalchemy import create_engine, func, select, text

from shopper.accounts import sessions
from shopper.accounts.models import User
from shopper.audits.models import Answer
from shopper.audits.service import start_audit
from shopper.checklists.models import Checklist
from shopper.checklists.service import copy_from_library
from shopper.database import normalize_database_url
from shopper.extensions import db
from shopper.orgs.models import Site
from shopper.timeutil import utcnow
from tests.committed import committed_database, seed_business
from tests.conftest import TEST_DATABASE_URL


@pytest.fixture
def committed(tmp_path):
    with committed_database(tmp_path) as app:
        app.config["SQLITE_BUSY_TIMEOUT_MS"] = 200
        business = seed_business(app, "fault-dental")
        with app.app_context():
            owner = db.session.get(User, business.user_id)
            checklist = copy_from_library(business.org_id, owner.id, "be-your-customer", utcnow())
            audit = start_audit(
                org_id=business.org_id,
                checklist=db.session.get(Checklist, checklist.id),
                site=db.session.get(Site, business.site_id),
                auditor_id=owner.id,
                created_by_id=owner.id,
                scenario="",
                due_on=None,
                now=utcnow(),
            )
            item_key = audit.definition["touchpoints"][0]["items"][0]["key"]
            identifier = sessions.start(owner, now=utcnow())
            db.session.commit()
            ids = {"audit": audit.id, "item": item_key, "session": identifier}
        yield app, ids


def signed_in(app, ids):
    browser = app.test_client()
    with browser.session_transaction() as session:
        session["_user_id"] = ids["session"]
    return browser


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's write lock: PostgreSQL has no database-wide lock")
def test_another_process_holding_sqlites_write_lock_gives_503_with_retry_after(committed):
    app, ids = committed
    app.config["PROPAGATE_EXCEPTIONS"] = False
    browser = signed_in(app, ids)
    with app.app_context():
        path = db.engine.url.database
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        write = browser.put(
            f"/o/fault-dental/api/audits/{ids['audit']}/answers/{ids['item']}",
            json={"value": "yes", "client_ts": 1},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert write.status_code == 503 and write.is_json and write.headers["Retry-After"] == "2"
        form = browser.post("/o/fault-dental/sites", data={"name": "Second site"})
        assert form.status_code == 503 and "Retry-After" in form.headers and b"busy for a moment" in form.data
        assert browser.get("/healthz").status_code == 200  # reading needs no write lock
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    again = browser.put(
        f"/o/fault-dental/api/audits/{ids['audit']}/answers/{ids['item']}",
        json={"value": "yes", "client_ts": 1},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert again.status_code == 200


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="killing backends is PostgreSQL's (SQLite has no server)")
def test_postgresql_connections_killed_under_the_app_cost_no_request(committed):
    app, ids = committed
    app.config["PROPAGATE_EXCEPTIONS"] = False
    browser = signed_in(app, ids)
    for _ in range(3):  # fill the pool with connections the app will reuse
        assert browser.get("/o/fault-dental/audits/").status_code == 200
    admin = create_engine(normalize_database_url(TEST_DATABASE_URL))
    with admin.begin() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'idle'"
            )
        ).scalar()
    admin.dispose()
    assert killed >= 1
    answers = [browser.get("/o/fault-dental/audits/").status_code for _ in range(5)]
    answers.append(
        browser.put(
            f"/o/fault-dental/api/audits/{ids['audit']}/answers/{ids['item']}",
            json={"value": "yes", "client_ts": 2},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        ).status_code
    )
    assert answers == [200] * 6
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Answer)) == 1
