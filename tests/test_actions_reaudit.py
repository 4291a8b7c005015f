"""Walking a journey again, and the new walk's comparison with the previous one (across checklist versions)."""

import copy
from datetime import timedelta

import pytest

from shopper.actions.models import Action
from shopper.audits.models import Audit
from shopper.checklists import service as checklists
from shopper.checklists.models import Checklist
from shopper.orgs.models import Role
from shopper.timeutil import utcnow
from tests.factories import SMALL_CHECKLIST

V1 = copy.deepcopy(SMALL_CHECKLIST)
V1["touchpoints"].append(
    {
        "key": "waiting-room",
        "channel": "in-person",
        "title": "Wait in the waiting room",
        "promise": "A calm, clean room",
        "items": [{"key": "clean", "type": "check", "prompt": "Is the room clean?"}],
    }
)
V2 = copy.deepcopy(SMALL_CHECKLIST)
V2["touchpoints"].append(
    {
        "key": "email",
        "channel": "email",
        "title": "Write to support",
        "promise": "An answer the same day",
        "items": [
            {"key": "reply-time", "type": "timer", "prompt": "Time to a reply", "target_max_s": 28800},
            {"key": "helpful", "type": "check", "prompt": "Did the reply help?"},
        ],
    }
)
FIRST = {"answer-time": 240, "transfers": 3, "resolved": ("no", "They asked me to write in"), "clean": "no"}
SECOND = {
    "answer-time": 45,
    "transfers": 3,
    "resolved": ("yes", "Sorted on the call"),
    "reply-time": 600,
    "helpful": "no",
}


@pytest.fixture
def world(make):
    org = make.org()
    owner = make.member(org, Role.OWNER)
    auditor = make.member(org, Role.AUDITOR)
    checklist = make.checklist(org, by=owner, definition=V1)
    site = make.site(org, "Harbour Street")
    first = make.submitted_audit(
        org, auditor, FIRST, checklist=checklist, site=site, submitted_at=utcnow() - timedelta(days=90)
    )
    return {
        "org": org,
        "owner": owner,
        "auditor": auditor,
        "colleague": make.member(org, Role.AUDITOR),
        "checklist": checklist,
        "site": site,
        "first": first,
        "audits": f"/o/{org.slug}/audits",
        "actions": f"/o/{org.slug}/actions",
    }


def publish_v2(make, world):
    with make.app.app_context():
        from shopper.extensions import db

        checklist = db.session.get(Checklist, world["checklist"].id)
        checklists.save_draft(checklist, copy.deepcopy(V2))
        checklists.publish(checklist, world["owner"].id, utcnow())
        db.session.commit()


def test_an_owner_hands_the_same_journey_to_an_auditor_on_the_latest_version(client, login, make, world):
    publish_v2(make, world)
    login(world["owner"])
    overview = client.get(f"{world['audits']}/{world['first'].id}").get_data(as_text=True)
    assert "Walk this journey again" in overview and "Turn findings into actions" in overview
    response = client.post(
        f"{world['actions']}/audits/{world['first'].id}/again", data={"auditor_id": world["colleague"].id}
    )
    assert response.status_code == 302
    new = make.find(Audit, org_id=world["org"].id, auditor_id=world["colleague"].id)
    assert response.headers["Location"].endswith(f"/audits/{new.id}")
    assert (new.checklist_id, new.site_id, new.status) == (world["checklist"].id, world["site"].id, "assigned")
    assert new.checklist_version_id != world["first"].checklist_version_id  # the latest published version
    assert new.created_by_id == world["owner"].id


def test_an_auditor_walks_their_own_audit_again_and_only_for_themselves(client, login, make, world):
    login(world["auditor"])
    overview = client.get(f"{world['audits']}/{world['first'].id}").get_data(as_text=True)
    assert "Walk this journey again" in overview and "Turn findings into actions" not in overview
    refused = client.post(
        f"{world['actions']}/audits/{world['first'].id}/again",
        data={"auditor_id": world["colleague"].id},
        follow_redirects=True,
    )
    assert "Only owners and managers can hand a walk to someone else" in refused.get_data(as_text=True)
    assert make.count(Audit, org_id=world["org"].id) == 1
    mine = client.post(f"{world['actions']}/audits/{world['first'].id}/again", data={})
    new = make.find(Audit, org_id=world["org"].id, status="in_progress")
    assert mine.headers["Location"].endswith(f"/audits/{new.id}/walk/billing-line")
    login(world["colleague"])  # another auditor does not see this audit at all
    assert client.post(f"{world['actions']}/audits/{world['first'].id}/again", data={}).status_code == 404


def test_a_walk_in_progress_cannot_be_walked_again_yet(client, login, make, world):
    walking = make.audit(world["org"], world["auditor"], checklist=world["checklist"], site=world["site"])
    login(world["owner"])
    response = client.post(f"{world['actions']}/audits/{walking.id}/again", data={}, follow_redirects=True)
    assert "once this walk is submitted" in response.get_data(as_text=True)
    assert make.count(Audit, org_id=world["org"].id) == 2


def test_the_new_walk_shows_what_changed_since_the_last_one(client, login, make, world):
    make.action(world["first"], "transfers", by=world["owner"], assignee=world["auditor"], title="One line for billing")
    publish_v2(make, world)
    second = make.submitted_audit(
        world["org"], world["auditor"], SECOND, checklist=world["checklist"], site=world["site"]
    )
    login(world["owner"])
    overview = client.get(f"{world['audits']}/{second.id}").get_data(as_text=True)
    assert "Then and now" in overview
    assert "Call the billing line: 0% → 75%, Time until a person answered: 4 min → 45 s" in overview
    assert "<strong>0% → 67%</strong>" in overview  # the overall score, held down by the critical cap before
    assert "2 fixed · 1 still open · 1 new · 1 no longer checked" in overview
    assert "Write to support: new in this version" in overview
    assert "Wait in the waiting room: no longer checked" in overview
    page = client.get(f"{world['actions']}/audits/{second.id}/compare").get_data(as_text=True)
    for heading in ("Fixed (2)", "Still open (1)", "New in this version (1)", "No longer checked (1)"):
        assert heading in page
    assert "Action: One line for billing · Open" in page  # the open finding's action from the last walk
    first_page = client.get(f"{world['actions']}/audits/{world['first'].id}/compare").get_data(as_text=True)
    assert "first submitted walk" in first_page


def test_the_previous_walk_is_the_latest_earlier_one_of_the_same_checklist_and_site(app, make, world):
    from shopper.actions.reaudit import previous_walk
    from shopper.extensions import db

    other_site = make.site(world["org"], "Riverside")
    make.submitted_audit(world["org"], world["auditor"], FIRST, checklist=world["checklist"], site=other_site)
    middle = make.submitted_audit(
        world["org"],
        world["auditor"],
        FIRST,
        checklist=world["checklist"],
        site=world["site"],
        submitted_at=utcnow() - timedelta(days=30),
    )
    latest = make.submitted_audit(
        world["org"], world["auditor"], FIRST, checklist=world["checklist"], site=world["site"]
    )
    with app.app_context():
        assert previous_walk(db.session.get(Audit, latest.id)).id == middle.id
        assert previous_walk(db.session.get(Audit, middle.id)).id == world["first"].id
        assert previous_walk(db.session.get(Audit, world["first"].id)) is None


def test_the_overview_block_counts_findings_with_actions(client, login, make, world):
    make.action(world["first"], "transfers", by=world["owner"])
    login(world["owner"])
    overview = client.get(f"{world['audits']}/{world['first'].id}").get_data(as_text=True)
    assert "1 of 4 findings have an action." in overview
    assert make.count(Action, audit_id=world["first"].id) == 1
