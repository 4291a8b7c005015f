import io
import json
import uuid

import pytest

from shopper.audits.models import Audit, AuditEvent
from shopper.orgs.models import Role
from tests.images import oriented_jpeg


@pytest.fixture
def world(make):
    org = make.org()
    owner = make.member(org, Role.OWNER)
    auditor = make.member(org, Role.AUDITOR)
    checklist = make.checklist(org, by=owner)
    site = make.site(org, "Harbour Street")
    return {
        "org": org,
        "owner": owner,
        "auditor": auditor,
        "colleague": make.member(org, Role.AUDITOR),
        "checklist": checklist,
        "site": site,
        "stranger": make.member(make.org(), Role.OWNER),
        "base": f"/o/{org.slug}/audits",
    }


def answer(client, world, audit_id, item, value, **extra):
    return client.put(
        f"/o/{world['org'].slug}/api/audits/{audit_id}/answers/{item}",
        data=json.dumps({"value": value, "client_ts": 1, **extra}),
        content_type="application/json",
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )


def test_an_auditor_starts_an_audit_and_lands_on_the_first_touchpoint(client, login, make, world):
    login(world["auditor"])
    response = client.post(
        f"{world['base']}/new",
        data={
            "checklist_id": world["checklist"].id,
            "site_id": world["site"].id,
            "auditor_id": world["auditor"].id,
            "scenario": "Renewing with an expired card",
        },
    )
    assert response.status_code == 302
    audit = make.find(Audit, org_id=world["org"].id)
    assert response.headers["Location"].endswith(f"/audits/{audit.id}/walk/billing-line")
    assert audit.status == "in_progress" and audit.scenario == "Renewing with an expired card"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "A person answers within a minute" in page and "Time until a person answered" in page


def test_an_auditor_cannot_start_an_audit_for_someone_else(client, login, make, world):
    login(world["auditor"])
    response = client.post(
        f"{world['base']}/new",
        data={"checklist_id": world["checklist"].id, "site_id": world["site"].id, "auditor_id": world["colleague"].id},
    )
    assert response.status_code == 400
    assert make.count(Audit, org_id=world["org"].id) == 0


def test_a_manager_prepares_an_audit_the_auditor_finds_first(client, login, make, world):
    login(world["owner"])
    response = client.post(
        f"{world['base']}/new",
        data={
            "checklist_id": world["checklist"].id,
            "site_id": world["site"].id,
            "auditor_id": world["auditor"].id,
            "due_on": "2026-12-01",
            "scenario": "First visit",
        },
    )
    assert response.status_code == 302
    audit = make.find(Audit, org_id=world["org"].id)
    assert audit.status == "assigned" and str(audit.due_on) == "2026-12-01"
    overview = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "<svg" in overview and f"/audits/{audit.id}" in overview  # link and QR code to hand over
    assert make.get(Audit, audit.id).status == "assigned"  # the manager looking does not start it
    login(world["auditor"])
    home = client.get(f"/o/{world['org'].slug}/").get_data(as_text=True)
    assert "to do" in home and "due 01 Dec 2026" in home
    client.get(f"{world['base']}/{audit.id}")
    assert make.get(Audit, audit.id).status == "in_progress"


@pytest.mark.parametrize(
    "data",
    [
        {"checklist_id": "999999"},
        {"site_id": "999999"},
        {"due_on": "next tuesday"},
        {"scenario": "x" * 2001},
    ],
)
def test_starting_with_bad_input_changes_nothing(client, login, make, world, data):
    login(world["owner"])
    form = {"checklist_id": world["checklist"].id, "site_id": world["site"].id, "auditor_id": world["owner"].id, **data}
    assert client.post(f"{world['base']}/new", data=form).status_code == 400
    assert make.count(Audit, org_id=world["org"].id) == 0


def test_walk_shows_saved_answers_after_a_reload(client, login, make, world):
    audit = make.audit(world["org"], world["auditor"], checklist=world["checklist"], site=world["site"])
    login(world["auditor"])
    answer(client, world, audit.id, "transfers", 3)
    page = client.get(f"{world['base']}/{audit.id}/walk/billing-line").get_data(as_text=True)
    assert 'value="3"' in page
    assert make.get(Audit, audit.id).last_touchpoint_key == "billing-line"
    assert client.get(f"{world['base']}/{audit.id}/walk/nowhere").status_code == 404


def test_review_links_to_what_is_missing_then_submit_and_reopen(client, login, make, world):
    audit = make.audit(world["org"], world["auditor"], checklist=world["checklist"], site=world["site"])
    login(world["auditor"])
    answer(client, world, audit.id, "resolved", "no")
    review = client.get(f"{world['base']}/{audit.id}/review").get_data(as_text=True)
    assert f"/audits/{audit.id}/walk/billing-line#item-answer-time" in review
    assert "needs a note as evidence" in review
    refused = client.post(f"{world['base']}/{audit.id}/submit", data={"op_id": uuid.uuid4().hex})
    assert refused.status_code == 422
    answer(client, world, audit.id, "answer-time", 240)
    answer(client, world, audit.id, "resolved", "no", note="They asked me to write in", client_ts=2)
    done = client.post(f"{world['base']}/{audit.id}/submit", data={"op_id": uuid.uuid4().hex})
    assert done.status_code == 302
    summary = client.get(f"{world['base']}/{audit.id}").get_data(as_text=True)
    assert "4 min: the promise is 1 min" in summary and "answered no" in summary
    assert client.post(f"{world['base']}/{audit.id}/reopen", data={"reason": "More photos"}).status_code == 403
    login(world["owner"])
    client.post(f"{world['base']}/{audit.id}/reopen", data={"reason": ""})
    assert make.get(Audit, audit.id).status == "submitted"
    client.post(f"{world['base']}/{audit.id}/reopen", data={"reason": "Add the photo of the queue"})
    assert make.get(Audit, audit.id).status == "in_progress"
    assert make.find(AuditEvent, audit_id=audit.id, kind="reopened").reason == "Add the photo of the queue"


def test_list_filters_and_nonsense_filters(client, login, make, world):
    make.audit(world["org"], world["auditor"], checklist=world["checklist"], site=world["site"], scenario="Walk one")
    other_site = make.site(world["org"], "Riverside")
    make.audit(world["org"], world["colleague"], checklist=world["checklist"], site=other_site, scenario="Walk two")
    login(world["owner"])
    everything = client.get(f"{world['base']}/").get_data(as_text=True)
    assert "Walk one" in everything and "Walk two" in everything
    only = client.get(f"{world['base']}/?site={other_site.id}&status=in_progress").get_data(as_text=True)
    assert "Walk two" in only and "Walk one" not in only
    nonsense = client.get(f"{world['base']}/?site=banana&status=lost&from=yesterday&auditor=-1")
    assert nonsense.status_code == 200
    text = nonsense.get_data(as_text=True)
    assert "Walk one" in text and "Walk two" in text
    assert "Unknown site" in text and "Unknown status" in text and "not a date" in text


def test_auditors_see_only_their_own_audits(client, login, make, world):
    mine = make.audit(world["org"], world["auditor"], checklist=world["checklist"], site=world["site"], scenario="Mine")
    theirs = make.audit(
        world["org"], world["colleague"], checklist=world["checklist"], site=world["site"], scenario="Theirs"
    )
    login(world["auditor"])
    listing = client.get(f"{world['base']}/").get_data(as_text=True)
    assert "Mine" in listing and "Theirs" not in listing
    assert client.get(f"{world['base']}/{mine.id}").status_code == 200
    assert client.get(f"{world['base']}/{theirs.id}").status_code == 404


def test_photos_are_served_privately_and_only_to_those_who_may_see_the_audit(client, login, make, world):
    audit = make.audit(world["org"], world["auditor"], checklist=world["checklist"], site=world["site"])
    login(world["auditor"])
    photo_id = str(uuid.uuid4())
    client.post(
        f"/o/{world['org'].slug}/api/audits/{audit.id}/photos",
        data={"id": photo_id, "touchpoint_key": "billing-line", "file": (io.BytesIO(oriented_jpeg(1)), "p.jpg")},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    url = f"{world['base']}/{audit.id}/photos/{photo_id}/thumb.jpg"
    response = client.get(url)
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    assert "private" in response.headers["Cache-Control"] and "public" not in response.headers["Cache-Control"]
    assert response.data[:2] == b"\xff\xd8"
    assert client.get(f"{world['base']}/{audit.id}/photos/{photo_id}/original.jpg").status_code == 404
    login(world["colleague"])
    assert client.get(url).status_code == 404


def test_every_audit_route_is_404_for_another_organization(client, login, make, world):
    audit = make.audit(world["org"], world["auditor"], checklist=world["checklist"], site=world["site"])
    login(world["stranger"])
    base = f"{world['base']}/{audit.id}"
    for method, path in [
        ("get", "/"),
        ("get", ""),
        ("get", "/walk/billing-line"),
        ("get", "/review"),
        ("post", "/submit"),
        ("post", "/reopen"),
        ("get", f"/photos/{uuid.uuid4()}/thumb.jpg"),
    ]:
        target = world["base"] + "/" if path == "/" else base + path
        assert getattr(client, method)(target).status_code == 404, path
    stranger_org = make.find(Audit, id=audit.id)
    assert stranger_org.status == "in_progress"


def test_demo_prepares_an_audit_for_the_demo_auditor(app, client):
    app.test_cli_runner().invoke(args=["demo"])
    app.test_cli_runner().invoke(args=["demo"])
    client.post("/login", data={"email": "auditor@demo.shopper.test", "password": "demo-auditor-takes-notes"})
    home = client.get("/o/demo/").get_data(as_text=True)
    assert "to do" in home and "prepared " in home and "started " not in home
