"""Issue 12: an action is seen by whoever may see its audit (owners and managers: every audit; auditors, members or
consultants: the audits they walk) and by the person responsible for it. Any other action is a 404, like another
organization's. Each test also opens the same pages as a manager, who sees everything, so a rule that hid every
action would fail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shopper.actions.models import Action
from shopper.extensions import db
from shopper.orgs.models import LinkRole, Role
from shopper.timeutil import utcnow

BAD = {"answer-time": 240, "transfers": 3, "resolved": ("no", "They asked me to write in")}


def close(app, action_id: int, resolution: str) -> None:
    with app.app_context():
        action = db.session.get(Action, action_id)
        action.status, action.resolution, action.closed_at = "done", resolution, datetime.now(UTC)
        db.session.commit()


def build(app, make, org, owner, walker, colleague, manager):
    """`walker`'s walk (then `colleague`'s earlier walk of the same journey at the same site) and four actions:
    on the walker's walk for the manager; on the colleague's walk for the walker, for the colleague, and one done
    for nobody."""
    checklist, site = make.checklist(org, by=owner), make.site(org, "Harbour Street")
    earlier = utcnow() - timedelta(days=30)
    theirs = make.submitted_audit(org, colleague, BAD, checklist=checklist, site=site, submitted_at=earlier)
    mine = make.submitted_audit(org, walker, BAD, checklist=checklist, site=site)
    actions = {
        "on my walk": make.action(mine, "transfers", by=owner, assignee=manager, title="Fix on my walk"),
        "mine to do": make.action(theirs, "answer-time", by=owner, assignee=walker, title="Fix for the walker"),
        "theirs": make.action(theirs, "transfers", by=owner, assignee=colleague, title="Fix on their walk"),
        "done, theirs": make.action(theirs, "resolved", by=owner, title="Fixed their queue"),
    }
    close(app, actions["done, theirs"].id, "A second desk at lunchtime")
    return {"mine": mine, "theirs": theirs, "actions": actions}


@pytest.fixture
def consultancy_world(app, make):
    """A consultancy's manager acting in a client through a consultant-auditor link: an auditor there."""
    consultancy = make.consultancy("Clear Line Consulting")
    make.member(consultancy, Role.OWNER)
    consultant = make.member(consultancy, Role.MANAGER)
    client = make.org("Harbour Physio")
    owner, manager = make.member(client, Role.OWNER), make.member(client, Role.MANAGER)
    colleague = make.member(client, Role.AUDITOR)
    make.client_link(consultancy, client, LinkRole.CONSULTANT_AUDITOR)
    world = build(app, make, client, owner, consultant, colleague, manager)
    return {**world, "org": client, "person": consultant, "manager": manager, "colleague": colleague}


@pytest.fixture
def member_world(app, make):
    org = make.org("Harbour Physio")
    owner, manager = make.member(org, Role.OWNER), make.member(org, Role.MANAGER)
    auditor, colleague = make.member(org, Role.AUDITOR), make.member(org, Role.AUDITOR)
    world = build(app, make, org, owner, auditor, colleague, manager)
    return {**world, "org": org, "person": auditor, "manager": manager, "colleague": colleague}


@pytest.fixture(params=["consultant-auditor", "member auditor"])
def world(request):
    return request.getfixturevalue("consultancy_world" if request.param == "consultant-auditor" else "member_world")


def page(client, url: str) -> tuple[int, str]:
    response = client.get(url)
    return response.status_code, response.get_data(as_text=True)


SEEN = ("Fix on my walk", "Fix for the walker")
HIDDEN = ("Fix on their walk", "Fixed their queue")


def test_the_list_shows_only_the_actions_of_their_walks_and_those_they_are_responsible_for(client, login, world):
    base = f"/o/{world['org'].slug}/actions"
    login(world["person"])
    status, listing = page(client, f"{base}/?status=all")
    assert status == 200
    assert all(title in listing for title in SEEN) and not any(title in listing for title in HIDDEN)
    assert "2 actions" in listing
    _, mine = page(client, f"{base}/mine")
    assert "Fix for the walker" in mine and "Fix on my walk" not in mine and "Fix on their walk" not in mine
    _, theirs_only = page(client, f"{base}/?status=all&assignee={world['colleague'].id}")
    assert "Fix on their walk" not in theirs_only and "0 actions" in theirs_only

    login(world["manager"])
    _, everything = page(client, f"{base}/?status=all")
    assert all(title in everything for title in SEEN + HIDDEN) and "4 actions" in everything


def test_another_persons_action_is_404_and_their_own_opens(app, client, login, make, world):
    base = f"/o/{world['org'].slug}/actions"
    actions = world["actions"]
    login(world["person"])
    for name in ("theirs", "done, theirs"):
        action = actions[name]
        assert client.get(f"{base}/{action.id}").status_code == 404, name
        assert client.get(f"{base}/{action.id}/edit").status_code == 404, name
        assert client.get(f"{base}/{action.id}/proof/thumb.jpg").status_code == 404, name
        refused = client.post(f"{base}/{action.id}/status", data={"status": "doing"})
        assert refused.status_code == 404, name
    assert make.get(Action, actions["theirs"].id).status == "open"

    status, detail = page(client, f"{base}/{actions['mine to do'].id}")
    assert status == 200 and "Fix for the walker" in detail and "Time until a person answered" in detail
    assert page(client, f"{base}/{actions['on my walk'].id}")[0] == 200
    moved = client.post(f"{base}/{actions['mine to do'].id}/status", data={"status": "doing"})
    assert moved.status_code == 302 and make.get(Action, actions["mine to do"].id).status == "doing"

    login(world["manager"])
    for action in actions.values():
        assert client.get(f"{base}/{action.id}").status_code == 200


def test_the_home_page_and_the_comparison_show_only_what_they_may_see(app, client, login, make, world):
    home = f"/o/{world['org'].slug}/"
    compare = f"/o/{world['org'].slug}/actions/audits/{world['mine'].id}/compare"
    login(world["person"])
    assert "Fixed their queue" not in page(client, home)[1]
    status, comparison = page(client, compare)
    # the earlier walk is a colleague's, which they may not open: no comparison with it, nothing of it shown
    assert status == 200 and "first submitted walk" in comparison
    assert "Fix on their walk" not in comparison and "Fix for the walker" not in comparison
    close(app, world["actions"]["on my walk"].id, "One line for billing")
    assert "Fix on my walk" in page(client, home)[1]

    login(world["manager"])
    close(app, world["actions"]["done, theirs"].id, "A second desk at lunchtime")  # the latest again
    assert "Fixed their queue" in page(client, home)[1]
    _, comparison = page(client, compare)
    assert "Action: Fix for the walker" in comparison and "Action: Fix on their walk" in comparison
