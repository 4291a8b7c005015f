"""Actions from findings: planning, lists, one action and its history, who may do what, and bad input."""

import io
from datetime import timedelta

import pytest

from shopper.actions.models import Action, ActionEvent
from shopper.orgs.models import Role
from shopper.timeutil import utcnow
from tests.images import oriented_jpeg

WALK = {"answer-time": 240, "transfers": 3, "resolved": ("no", "They asked me to write in")}


@pytest.fixture
def world(make):
    org = make.org("Harbour Physio")
    owner = make.member(org, Role.OWNER)
    manager = make.member(org, Role.MANAGER)
    auditor = make.member(org, Role.AUDITOR)
    checklist = make.checklist(org, by=owner)
    site = make.site(org, "Harbour Street")
    audit = make.submitted_audit(org, auditor, WALK, checklist=checklist, site=site)
    return {
        "org": org,
        "owner": owner,
        "manager": manager,
        "auditor": auditor,
        "colleague": make.member(org, Role.AUDITOR),
        "checklist": checklist,
        "site": site,
        "audit": audit,
        "stranger": make.member(make.org(), Role.OWNER),
        "base": f"/o/{org.slug}/actions",
    }


def findings_of(make, audit):
    from shopper.audits.models import Finding

    with make.app.app_context():
        from shopper.extensions import db

        return {f.item_key: f for f in db.session.query(Finding).filter_by(audit_id=audit.id)}


def tomorrow() -> str:
    return (utcnow().date() + timedelta(days=1)).isoformat()


def action_form(prefix, **values):
    return {f"{prefix}-{name}": value for name, value in values.items()}


def test_owners_turn_a_finding_into_an_action_prefilled_from_the_finding(client, login, make, world):
    login(world["owner"])
    page = client.get(f"{world['base']}/audits/{world['audit'].id}").get_data(as_text=True)
    assert "Turn findings into actions" in page
    assert "Call the billing line: Time until a person answered (4 min: the promise is 1 min)" in page
    finding = findings_of(make, world["audit"])["answer-time"]
    response = client.post(
        f"{world['base']}/audits/{world['audit'].id}/findings/{finding.id}",
        data=action_form(
            f"f{finding.id}",
            title="Put a person on the billing line before 9",
            detail="Rota change",
            assignee_id=world["auditor"].id,
            due_on=tomorrow(),
            priority="high",
        ),
    )
    assert response.status_code == 302
    action = make.find(Action, audit_id=world["audit"].id)
    assert (action.item_key, action.touchpoint_key, action.assignee_id, action.priority, action.status) == (
        "answer-time",
        "billing-line",
        world["auditor"].id,
        "high",
        "open",
    )
    [event] = [make.find(ActionEvent, action_id=action.id)]
    assert (
        event.kind == "created" and "4 min: the promise is 1 min" in event.summary and "high priority" in event.summary
    )
    page = client.get(f"{world['base']}/audits/{world['audit'].id}").get_data(as_text=True)
    assert "Put a person on the billing line before 9" in page
    again = client.post(
        f"{world['base']}/audits/{world['audit'].id}/findings/{finding.id}",
        data=action_form(f"f{finding.id}", title="Twice", priority="normal"),
    )
    assert again.status_code == 409 and make.count(Action, audit_id=world["audit"].id) == 1


def test_all_findings_at_once_skips_those_that_already_have_an_action(client, login, make, world):
    make.action(world["audit"], "resolved", by=world["owner"])
    login(world["manager"])
    response = client.post(
        f"{world['base']}/audits/{world['audit'].id}/all",
        data=action_form("all", assignee_id=world["colleague"].id, due_on=tomorrow(), priority="low"),
    )
    assert response.status_code == 302
    assert make.count(Action, audit_id=world["audit"].id) == 3
    made = make.find(Action, audit_id=world["audit"].id, item_key="transfers")
    assert made.assignee_id == world["colleague"].id and made.priority == "low" and "Hand" not in made.title
    assert made.title.startswith("Call the billing line: How many times were you passed on (")
    assert "Question: How many times were you passed on?" in made.detail
    client.post(f"{world['base']}/audits/{world['audit'].id}/all", data=action_form("all", priority="normal"))
    assert make.count(Action, audit_id=world["audit"].id) == 3


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"assignee_id": "stranger"}, "must be a member of this organization"),
        ({"assignee_id": "banana"}, "must be a member of this organization"),
        ({"assignee_id": "99999999999999999999"}, "must be a member of this organization"),
        ({"assignee_id": "auditor in Arabic-Indic digits"}, "must be a member of this organization"),
        ({"due_on": "next tuesday"}, "is not a date like"),
        ({"due_on": "2020-01-01"}, "Pick a due date from today on"),
        ({"title": ""}, "Give the action a title"),
        ({"priority": "urgent"}, "low, normal or high"),
    ],
)
def test_bad_action_input_is_refused_with_a_message_and_nothing_changes(client, login, make, world, values, message):
    finding = findings_of(make, world["audit"])["transfers"]
    if values.get("assignee_id") == "stranger":
        values = {**values, "assignee_id": world["stranger"].id}
    if values.get("assignee_id") == "auditor in Arabic-Indic digits":  # int() reads them: "٣" was member 3
        values = {
            **values,
            "assignee_id": str(world["auditor"].id).translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")),
        }
    login(world["owner"])
    form = {"title": "Fix the hand-offs", "priority": "normal", **values}
    response = client.post(
        f"{world['base']}/audits/{world['audit'].id}/findings/{finding.id}", data=action_form(f"f{finding.id}", **form)
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert make.count(Action, audit_id=world["audit"].id) == 0
    bulk = client.post(f"{world['base']}/audits/{world['audit'].id}/all", data=action_form("all", **form))
    assert bulk.status_code == (422 if "title" not in values else 302)
    if "title" not in values:
        assert make.count(Action, audit_id=world["audit"].id) == 0


def test_auditors_read_actions_but_cannot_plan_or_edit(client, login, make, world):
    action = make.action(world["audit"], "transfers", by=world["owner"], assignee=world["colleague"])
    login(world["auditor"])
    assert client.get(f"{world['base']}/").status_code == 200
    assert "Fix transfers" in client.get(f"{world['base']}/{action.id}").get_data(as_text=True)
    assert client.get(f"{world['base']}/audits/{world['audit'].id}").status_code == 403
    finding = findings_of(make, world["audit"])["answer-time"]
    assert (
        client.post(
            f"{world['base']}/audits/{world['audit'].id}/findings/{finding.id}",
            data=action_form(f"f{finding.id}", title="Mine now"),
        ).status_code
        == 403
    )
    assert client.post(f"{world['base']}/audits/{world['audit'].id}/all").status_code == 403
    assert client.post(f"{world['base']}/{action.id}/edit", data={"title": "Renamed"}).status_code == 403
    refused = client.post(f"{world['base']}/{action.id}/status", data={"status": "doing"})
    assert refused.status_code == 403 and "Only owners and managers" in refused.get_data(as_text=True)
    assert make.get(Action, action.id).status == "open" and make.get(Action, action.id).title == "Fix transfers"


def test_the_assignee_moves_their_action_along_and_closes_it_with_proof(client, login, make, world):
    action = make.action(world["audit"], "transfers", by=world["owner"], assignee=world["auditor"])
    base = f"{world['base']}/{action.id}"
    login(world["auditor"])
    assert client.post(f"{base}/status", data={"status": "doing"}).status_code == 302
    assert make.get(Action, action.id).status == "doing"
    no_note = client.post(f"{base}/status", data={"status": "done", "note": "  "})
    assert no_note.status_code == 422 and "Say what was changed" in no_note.get_data(as_text=True)
    wont = client.post(f"{base}/status", data={"status": "wont_fix", "note": "Too hard"})
    assert wont.status_code == 403
    not_a_photo = client.post(
        f"{base}/status",
        data={"status": "done", "note": "New rota", "photo": (io.BytesIO(b"not an image"), "after.jpg")},
        content_type="multipart/form-data",
    )
    assert not_a_photo.status_code == 422 and "not a photo we can read" in not_a_photo.get_data(as_text=True)
    assert make.get(Action, action.id).status == "doing"
    done = client.post(
        f"{base}/status",
        data={
            "status": "done",
            "note": "One line, one person: no more transfers",
            "photo": (io.BytesIO(oriented_jpeg(1)), "after.jpg"),
        },
        content_type="multipart/form-data",
    )
    assert done.status_code == 302
    closed = make.get(Action, action.id)
    assert closed.status == "done" and closed.closed_at is not None and closed.proof_photo_id
    assert closed.resolution == "One line, one person: no more transfers"
    photo = client.get(f"{base}/proof/thumb.jpg")
    assert photo.status_code == 200 and photo.mimetype == "image/jpeg" and "private" in photo.headers["Cache-Control"]
    assert client.get(f"{base}/proof/original.jpg").status_code == 404
    reopen = client.post(f"{base}/status", data={"status": "open"})
    assert reopen.status_code == 403 and make.get(Action, action.id).status == "done"
    page = client.get(base).get_data(as_text=True)
    assert (
        "Status: Open → In progress." in page and "Status: In progress → Done" in page and "with an after photo" in page
    )


def test_managers_close_as_wont_fix_only_with_a_reason_and_can_reopen(client, login, make, world):
    action = make.action(world["audit"], "transfers", by=world["owner"])
    base = f"{world['base']}/{action.id}"
    login(world["manager"])
    refused = client.post(f"{base}/status", data={"status": "wont_fix", "note": ""})
    assert refused.status_code == 422 and "Say why it won&#39;t be fixed" in refused.get_data(as_text=True)
    assert client.post(f"{base}/status", data={"status": "finished"}).status_code == 422
    blank = client.post(f"{base}/status", data={"status": ""})
    assert blank.status_code == 422 and "Choose open, in progress, done or won" in blank.get_data(as_text=True)
    assert (
        client.post(f"{base}/status", data={"status": "wont_fix", "note": "The line closes in May"}).status_code == 302
    )
    assert make.get(Action, action.id).closed_at is not None
    assert client.post(f"{base}/status", data={"status": "open"}).status_code == 302
    reopened = make.get(Action, action.id)
    assert reopened.status == "open" and reopened.closed_at is None and reopened.resolution == ""
    assert make.count(ActionEvent, action_id=action.id) == 3


def test_editing_records_what_changed(client, login, make, world):
    action = make.action(world["audit"], "transfers", by=world["owner"], assignee=world["auditor"])
    login(world["owner"])
    form = client.get(f"{world['base']}/{action.id}/edit").get_data(as_text=True)
    assert "Fix transfers" in form
    response = client.post(
        f"{world['base']}/{action.id}/edit",
        data={
            "title": "One number for billing",
            "assignee_id": world["manager"].id,
            "due_on": tomorrow(),
            "priority": "high",
        },
    )
    assert response.status_code == 302
    edited = make.get(Action, action.id)
    assert (edited.title, edited.assignee_id, edited.priority) == (
        "One number for billing",
        world["manager"].id,
        "high",
    )
    page = client.get(f"{world['base']}/{action.id}").get_data(as_text=True)
    assert "title: “Fix transfers” → “One number for billing”" in page
    assert f"assigned: {world['auditor'].name} → {world['manager'].name}" in page
    bad = client.post(f"{world['base']}/{action.id}/edit", data={"title": "x", "due_on": "31/12/2026"})
    assert bad.status_code == 422 and "is not a date like" in bad.get_data(as_text=True)
    assert make.get(Action, action.id).title == "One number for billing"


def test_overdue_actions_stand_out_and_my_actions_lists_mine(client, login, make, world):
    late = make.action(
        world["audit"],
        "transfers",
        by=world["owner"],
        assignee=world["auditor"],
        due_on=utcnow().date() - timedelta(days=3),
    )
    make.action(
        world["audit"], "answer-time", by=world["owner"], assignee=world["colleague"], title="For the colleague"
    )
    login(world["auditor"])
    mine = client.get(f"{world['base']}/mine").get_data(as_text=True)
    assert late.title in mine and "For the colleague" not in mine
    assert 'class="overdue"' in mine and "overdue: due" in mine
    everything = client.get(f"{world['base']}/").get_data(as_text=True)
    assert late.title in everything and "For the colleague" in everything
    overdue = client.get(f"{world['base']}/?status=overdue").get_data(as_text=True)
    assert late.title in overdue and "For the colleague" not in overdue


def test_list_filters_with_nonsense_fall_back_to_defaults_with_a_message(client, login, make, world):
    make.action(world["audit"], "transfers", by=world["owner"], assignee=world["auditor"])
    login(world["owner"])
    response = client.get(f"{world['base']}/?status=lost&assignee=abc&site=99999&page=zero")
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "Unknown status" in text and "Unknown assignee" in text and "Unknown site" in text
    assert "does not exist: showing the first page" in text and "Fix transfers" in text
    only = client.get(f"{world['base']}/?assignee={world['colleague'].id}").get_data(as_text=True)
    assert "Fix transfers" not in only


def test_list_pages_make_the_same_number_of_queries_for_3_and_30_actions(
    app, client, login, make, world, count_queries
):
    from shopper.actions.models import Action as ActionModel
    from shopper.extensions import db

    def add(n):
        with app.app_context():
            for i in range(n):
                db.session.add(
                    ActionModel(
                        org_id=world["org"].id,
                        audit_id=world["audit"].id,
                        touchpoint_key="billing-line",
                        item_key=f"extra-{i}-{utcnow().timestamp()}",
                        title=f"Extra {i}",
                        assignee_id=world["auditor"].id,
                    )
                )
            db.session.commit()

    login(world["auditor"])
    add(3)
    counts = []
    for more in (0, 27):
        add(more)
        with count_queries() as listing:
            assert client.get(f"{world['base']}/").status_code == 200
        with count_queries() as mine:
            assert client.get(f"{world['base']}/mine").status_code == 200
        counts.append((listing.count, mine.count))
    assert counts[0] == counts[1]


def test_every_action_route_is_404_for_another_organization(client, login, make, world):
    action = make.action(world["audit"], "transfers", by=world["owner"], assignee=world["auditor"])
    finding = findings_of(make, world["audit"])["answer-time"]
    login(world["stranger"])
    audit = world["audit"].id
    for method, path in [
        ("get", "/"),
        ("get", "/mine"),
        ("get", f"/{action.id}"),
        ("get", f"/{action.id}/edit"),
        ("post", f"/{action.id}/edit"),
        ("post", f"/{action.id}/status"),
        ("get", f"/{action.id}/proof/thumb.jpg"),
        ("get", f"/audits/{audit}"),
        ("post", f"/audits/{audit}/findings/{finding.id}"),
        ("post", f"/audits/{audit}/all"),
        ("post", f"/audits/{audit}/again"),
        ("get", f"/audits/{audit}/compare"),
    ]:
        assert getattr(client, method)(world["base"] + path).status_code == 404, path
    # and through the stranger's own organization: another organization's ids are not found there either
    other = make.org()
    make.member(other, Role.OWNER, user=world["stranger"])
    own = f"/o/{other.slug}/actions"
    for method, path in [
        ("get", f"/{action.id}"),
        ("post", f"/{action.id}/status"),
        ("get", f"/audits/{audit}"),
        ("post", f"/audits/{audit}/findings/{finding.id}"),
        ("post", f"/audits/{audit}/again"),
        ("get", f"/audits/{audit}/compare"),
    ]:
        assert getattr(client, method)(own + path, data={"status": "done", "note": "x"}).status_code == 404, path
    assert make.get(Action, action.id).status == "open"


def test_a_finding_of_another_audit_is_404(client, login, make, world):
    other = make.submitted_audit(world["org"], world["auditor"], WALK, checklist=world["checklist"], site=world["site"])
    finding = findings_of(make, other)["transfers"]
    login(world["owner"])
    response = client.post(
        f"{world['base']}/audits/{world['audit'].id}/findings/{finding.id}",
        data=action_form(f"f{finding.id}", title="Wrong audit"),
    )
    assert response.status_code == 404 and make.count(Action, org_id=world["org"].id) == 0


def test_an_audit_in_progress_has_no_plan_yet(client, login, make, world):
    walking = make.audit(world["org"], world["auditor"], checklist=world["checklist"], site=world["site"])
    login(world["owner"])
    response = client.get(f"{world['base']}/audits/{walking.id}")
    assert response.status_code == 302
    assert client.post(f"{world['base']}/audits/{walking.id}/all", data={}).status_code == 409


def test_the_home_page_answers_what_was_the_last_thing_we_improved(app, client, login, make, world):
    login(world["auditor"])
    assert "The last thing we improved" in client.get(f"/o/{world['org'].slug}/").get_data(as_text=True)
    action = make.action(world["audit"], "transfers", by=world["owner"], title="One line for billing")
    login(world["owner"])
    client.post(f"{world['base']}/{action.id}/status", data={"status": "done", "note": "A single number, one team"})
    login(world["auditor"])
    home = client.get(f"/o/{world['org'].slug}/").get_data(as_text=True)
    assert "One line for billing" in home and "A single number, one team" in home
