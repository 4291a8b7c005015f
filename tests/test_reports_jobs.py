"""Report PDFs made off the request (issue 13): a download is a file read or a "being prepared" page, the job
queue makes the PDF when an audit is submitted and when what it shows changes, failures say why, and nothing holds
the database's write lock while WeasyPrint works."""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select

from shopper.audits.models import Audit
from shopper.checklists.service import copy_from_library
from shopper.extensions import db
from shopper.jobs import beat, huey, run_pending
from shopper.orgs.models import Role
from shopper.reports import rendering
from shopper.reports.models import RenderState, ReportPdf, ReportRequest
from shopper.timeutil import utcnow
from tests.committed import committed_database, seed_business
from tests.conftest import TEST_DATABASE_URL, make_app, session_id_for
from tests.test_reports_support import pdf_text, read_pdf, reopen_and_resubmit, walk_and_submit


@pytest.fixture
def world(app, make):
    org = make.org("Harbour Physio")
    owner = make.member(org, Role.OWNER)
    checklist = make.checklist(org, by=owner)
    site = make.site(org, "Harbour Street")
    with app.app_context():
        audit_id = walk_and_submit(org.id, owner.id, checklist.id, site.id, app.config["MEDIA_ROOT"])
    return {"org": org, "owner": owner, "audit_id": audit_id, "pdf": f"/o/{org.slug}/audits/{audit_id}/report.pdf"}


def test_asking_for_a_pdf_never_renders_in_the_request(app, client, login, make, world):
    login(world["owner"])
    waiting = client.get(world["pdf"])
    assert waiting.status_code == 202 and b"Preparing your PDF" in waiting.data
    assert b'data-status-url="' in waiting.data and b"js/wait.js" in waiting.data
    assert make.get(ReportPdf, world["audit_id"]) is None  # nothing was rendered
    request = make.get(ReportRequest, world["audit_id"])
    assert request.state == RenderState.QUEUED and huey.pending_count() == 1
    status = client.get(f"{world['pdf']}/status")
    assert status.get_json()["state"] == "preparing"
    assert huey.pending_count() == 1  # asking again while it is queued queues nothing more
    with app.app_context():
        assert run_pending() == 1
    assert client.get(f"{world['pdf']}/status").get_json()["state"] == "ready"
    with client.get(world["pdf"]) as ready:
        assert ready.status_code == 200 and ready.data.startswith(b"%PDF")
    assert make.get(ReportRequest, world["audit_id"]) is None


def test_the_phone_gets_being_prepared_as_json(client, login, world):
    login(world["owner"])
    answer = client.get(world["pdf"], headers={"Accept": "application/json"})
    assert answer.status_code == 202 and answer.get_json()["state"] == "preparing"
    assert answer.get_json()["status_url"].endswith("/report.pdf/status")


def test_a_submitted_audit_has_its_pdf_made_before_anyone_asks(app, client, login, make):
    org = make.org()
    owner = login(make.member(org, Role.OWNER))
    audit = make.audit(org, owner)
    base = f"/o/{org.slug}/api/audits/{audit.id}"
    for n, (key, value) in enumerate({"answer-time": 30, "transfers": 0, "resolved": "yes"}.items(), start=1):
        body = {"value": value, "client_ts": n, "note": "Sorted at once" if key == "resolved" else ""}
        assert (
            client.put(f"{base}/answers/{key}", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}).status_code
            == 200
        )
    assert client.post(f"{base}/submit", headers={"Idempotency-Key": uuid.uuid4().hex}).status_code == 200
    with app.app_context():
        assert run_pending() == 1
    with client.get(f"/o/{org.slug}/audits/{audit.id}/report.pdf") as response:
        assert response.status_code == 200  # a file read: it was made when the audit was submitted


def test_a_new_action_makes_the_pdf_again(app, client, login, make, world):
    with app.app_context():
        rendering.render_now(world["audit_id"]).stream.close()
    before = make.get(ReportPdf, world["audit_id"]).fingerprint
    login(world["owner"])
    assert client.post(f"/o/{world['org'].slug}/actions/audits/{world['audit_id']}/all", data={}).status_code == 302
    with app.app_context():
        run_pending()
    assert make.get(ReportPdf, world["audit_id"]).fingerprint != before  # the action plan is in the report


def test_a_new_brand_makes_the_recent_reports_wearing_it_again(app, client, login, make, world):
    with app.app_context():
        rendering.render_now(world["audit_id"]).stream.close()
    before = make.get(ReportPdf, world["audit_id"]).fingerprint
    login(world["owner"])
    assert client.post(f"/o/{world['org'].slug}/brand", data={"primary_color": "#123456"}).status_code == 302
    with app.app_context():
        assert run_pending() == 1
    assert make.get(ReportPdf, world["audit_id"]).fingerprint != before


def test_a_failed_render_says_why_and_can_be_tried_again(app, client, login, make, world, monkeypatch):
    login(world["owner"])
    monkeypatch.setitem(app.config, "REPORT_RENDER_TIMEOUT", 0.001)
    client.get(world["pdf"])
    with app.app_context():
        run_pending()
    failed = client.get(f"{world['pdf']}/status").get_json()
    assert failed["state"] == "failed" and "took longer than 0.001 seconds" in failed["message"]
    page = client.get(world["pdf"])
    assert page.status_code == 202 and b"Try again" in page.data
    monkeypatch.setitem(app.config, "REPORT_RENDER_TIMEOUT", 25)
    retried = client.post(f"{world['pdf']}/retry")
    assert retried.status_code == 303 and retried.headers["Location"].endswith("/report.pdf")
    assert client.get(f"{world['pdf']}/status").get_json()["state"] == "preparing"
    with app.app_context():
        run_pending()
    with client.get(world["pdf"]) as response:
        assert response.status_code == 200


def test_a_request_forgotten_by_a_restarted_consumer_is_asked_again(app, client, login, make, world):
    login(world["owner"])
    client.get(world["pdf"])
    huey.flush()  # the consumer restarted with an empty queue (an in-memory Redis, say)
    with app.app_context():
        request = db.session.get(ReportRequest, world["audit_id"])
        request.requested_at = utcnow() - rendering.REQUEST_PATIENCE - timedelta(seconds=1)
        db.session.commit()
    assert client.get(f"{world['pdf']}/status").get_json()["state"] == "preparing"
    assert huey.pending_count() == 1


def test_a_share_link_waits_for_its_pdf_the_same_way(app, client, login, world):
    login(world["owner"])
    created = client.post(f"/o/{world['org'].slug}/audits/{world['audit_id']}/report/shares").get_data(as_text=True)
    link = created.split("http://shopper.test/r/")[1].split('"')[0]
    visitor = app.test_client()
    waiting = visitor.get(f"/r/{link}/report.pdf")
    assert waiting.status_code == 202 and b"Preparing your PDF" in waiting.data
    with app.app_context():
        run_pending()
    assert visitor.get(f"/r/{link}/report.pdf/status").get_json()["state"] == "ready"
    with visitor.get(f"/r/{link}/report.pdf") as response:
        assert response.status_code == 200 and response.data.startswith(b"%PDF")


def test_without_a_consumer_the_page_says_so_instead_of_waiting_forever(tmp_path, app, database, make, world):
    queued = make_app(tmp_path, DATABASE_URL=app.config["DATABASE_URL"], JOBS_BACKEND="sqlite")
    try:
        browser = queued.test_client()
        with browser.session_transaction() as session:
            session["_user_id"] = session_id_for(queued, world["owner"])
        state = browser.get(f"{world['pdf']}/status").get_json()
        assert state["state"] == "no-worker" and "jobs run" in state["message"]
        with queued.app_context():
            beat()  # a consumer is there now
        assert browser.get(f"{world['pdf']}/status").get_json()["state"] == "preparing"
    finally:
        with app.app_context():
            from shopper import jobs

            jobs.init_app(app)  # the suite's queue again (init_app of the other app pointed it elsewhere)


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="SQLite's database-wide write lock; PostgreSQL has none to hold")
def test_no_write_lock_is_held_while_the_pdf_renders(tmp_path):
    with committed_database(tmp_path) as app:
        business = seed_business(app, "lock-dental")
        org_id = business.org_id
        with app.app_context():
            checklist = copy_from_library(org_id, business.user_id, "be-your-customer", utcnow())
            audit_id = walk_and_submit(
                org_id,
                business.user_id,
                checklist.id,
                business.site_id,
                app.config["MEDIA_ROOT"],
                photos_per_touchpoint=2,
            )
            database = db.engine.url.database
        rendering_done = threading.Event()

        def render():
            with app.app_context():
                rendering.render_now(audit_id).stream.close()
            rendering_done.set()

        thread = threading.Thread(target=render)
        thread.start()
        writes, refused = 0, []
        other = sqlite3.connect(database, timeout=0.2, isolation_level=None)
        try:
            while not rendering_done.is_set():
                try:
                    other.execute("BEGIN IMMEDIATE")
                    other.execute("UPDATE organization SET name = name WHERE id = ?", (org_id,))
                    other.execute("COMMIT")
                    writes += 1
                except sqlite3.OperationalError as e:
                    refused.append(str(e))
                time.sleep(0.02)
        finally:
            thread.join(60)
            other.close()
        assert refused == [] and writes >= 5, (writes, refused)
        with app.app_context():
            assert db.session.scalar(select(ReportPdf.audit_id)) == audit_id
            assert db.session.get(Audit, audit_id).is_submitted


def test_a_browser_revalidates_its_pdf_and_never_keeps_a_stale_one(app, client, login, make, world):
    with app.app_context():
        rendering.render_now(world["audit_id"]).stream.close()
    login(world["owner"])
    with client.get(world["pdf"]) as first:
        assert first.status_code == 200 and first.data.startswith(b"%PDF")
    etag = first.headers["ETag"]
    assert etag.strip('"') == make.get(ReportPdf, world["audit_id"]).fingerprint
    assert "max-age=0" in first.headers["Cache-Control"]  # kept, but asked about again before each use
    with client.get(world["pdf"], headers={"If-None-Match": etag}) as again:
        assert again.status_code == 304 and again.data == b""

    with app.app_context():
        reopen_and_resubmit(world["audit_id"], world["owner"].id)
    with client.get(world["pdf"], headers={"If-None-Match": etag}) as changed:
        assert changed.status_code == 202  # the old copy is not "not modified": the new one is being made
    with app.app_context():
        run_pending()
    with client.get(world["pdf"], headers={"If-None-Match": etag}) as fresh:
        assert fresh.status_code == 200 and fresh.data.startswith(b"%PDF")
    assert fresh.headers["ETag"] != etag
    revision = make.get(Audit, world["audit_id"]).revision
    assert f"(revision {revision})" in " ".join(pdf_text(read_pdf(fresh.data)).split())  # the resubmitted report
    with client.get(world["pdf"], headers={"If-None-Match": fresh.headers["ETag"]}) as revalidated:
        assert revalidated.status_code == 304


def test_rerender_after_a_deploy_queues_the_recent_reports_only(app, make, world):
    runner = app.test_cli_runner()
    queued = runner.invoke(args=["report", "rerender", "--days", "7"])
    assert queued.exit_code == 0 and "Queued 1 report PDF(s)." in queued.output
    assert huey.pending_count() == 1
    with app.app_context():
        assert run_pending() == 1
    assert make.get(ReportPdf, world["audit_id"]) is not None
    with app.app_context():
        audit = db.session.get(Audit, world["audit_id"])
        audit.submitted_at = utcnow() - timedelta(days=8)
        db.session.commit()
    assert "Queued 0 report PDF(s)." in runner.invoke(args=["report", "rerender", "--days", "7"]).output
    assert huey.pending_count() == 0
