"""The action rules as plain functions, without a request; and the report's action plan."""

from datetime import date, timedelta

import pytest

from shopper.actions import service
from shopper.actions.models import Action, ActionEvent
from shopper.actions.service import ActionError, ActionInput, parse_due
from shopper.audits.models import Audit, Finding
from shopper.extensions import db
from shopper.orgs.models import Membership, Role
from shopper.timeutil import utcnow

WALK = {"answer-time": 240, "transfers": 3, "resolved": ("no", "They asked me to write in")}
TODAY = date(2026, 6, 15)


@pytest.fixture
def world(make):
    org = make.org()
    owner = make.member(org, Role.OWNER)
    auditor = make.member(org, Role.AUDITOR)
    audit = make.submitted_audit(org, auditor, WALK)
    other = make.org()
    return {
        "org": org,
        "owner": owner,
        "auditor": auditor,
        "audit": audit,
        "other_owner": make.member(other, Role.OWNER),
        "other": other,
    }


def membership(org, user) -> Membership:
    return db.session.query(Membership).filter_by(org_id=org.id, user_id=user.id).one()


def finding(audit_id, item_key) -> Finding:
    return db.session.query(Finding).filter_by(audit_id=audit_id, item_key=item_key).one()


def test_due_dates_are_parsed_and_may_not_lie_in_the_past():
    assert parse_due("2026-07-01", TODAY) == date(2026, 7, 1)
    assert parse_due("  ", TODAY) is None and parse_due(None, TODAY) is None
    assert parse_due(TODAY, TODAY) == TODAY
    with pytest.raises(ActionError, match="not a date like 2026-06-15"):
        parse_due("1 July", TODAY)
    with pytest.raises(ActionError, match="from today on"):
        parse_due("2026-06-14", TODAY)
    assert parse_due("2026-06-14", TODAY, previous=date(2026, 6, 14)) == date(2026, 6, 14)  # unchanged: kept


def test_another_organizations_member_gets_404_and_nothing_changes(ctx, world):
    audit = db.session.get(Audit, world["audit"].id)
    stranger = membership(world["other"], world["other_owner"])
    with pytest.raises(ActionError) as refused:
        service.create_action(audit, finding(audit.id, "transfers"), stranger, ActionInput("Fix"), utcnow())
    assert refused.value.status == 404
    with pytest.raises(ActionError) as refused:
        service.create_all(audit, stranger, ActionInput(""), utcnow())
    assert refused.value.status == 404
    assert db.session.query(Action).count() == 0


def test_a_finding_of_another_audit_and_an_unsubmitted_audit_are_refused(ctx, make, world):
    audit = db.session.get(Audit, world["audit"].id)
    owner = membership(world["org"], world["owner"])
    other = make.submitted_audit(world["org"], world["auditor"], WALK)
    with pytest.raises(ActionError) as refused:
        service.create_action(audit, finding(other.id, "transfers"), owner, ActionInput("Fix"), utcnow())
    assert refused.value.status == 404
    walking = db.session.get(Audit, make.audit(world["org"], world["auditor"]).id)
    with pytest.raises(ActionError) as refused:
        service.create_all(walking, owner, ActionInput(""), utcnow())
    assert refused.value.status == 409


def test_status_changes_follow_the_rules_and_leave_a_history(ctx, make, world):
    made = make.action(world["audit"], "transfers", by=world["owner"], assignee=world["auditor"])
    action = db.session.get(Action, made.id)
    assignee = membership(world["org"], world["auditor"])
    owner = membership(world["org"], world["owner"])
    now = utcnow()
    service.change_status(action, assignee, "doing", "", now)
    with pytest.raises(ActionError, match="already in progress"):
        service.change_status(action, assignee, "doing", "", now)
    with pytest.raises(ActionError, match="after photo goes with marking the action done"):
        service.change_status(action, owner, "wont_fix", "Not ours", now, photo=b"x")
    service.change_status(action, assignee, "done", "One line now", now)
    assert action.closed_at == now and action.resolution == "One line now"
    later = now + timedelta(hours=1)
    service.change_status(action, owner, "wont_fix", "Turned out to be the bank's line", later)
    assert action.closed_at == now  # still closed since the first close
    service.change_status(action, owner, "open", "", later)
    assert action.closed_at is None and action.resolution == ""
    kinds = [e.kind for e in db.session.query(ActionEvent).filter_by(action_id=action.id).order_by(ActionEvent.id)]
    assert kinds == ["created", "status", "status", "status", "status"]


def test_editing_with_no_change_records_nothing(ctx, make, world):
    made = make.action(world["audit"], "transfers", by=world["owner"], assignee=world["auditor"])
    action = db.session.get(Action, made.id)
    owner = membership(world["org"], world["owner"])
    same = ActionInput(action.title, action.detail, action.assignee_id, "", "normal")
    assert service.edit_action(action, owner, same, utcnow()) is False
    assert db.session.query(ActionEvent).filter_by(action_id=action.id).count() == 1
    with pytest.raises(ActionError) as refused:
        service.edit_action(action, membership(world["org"], world["auditor"]), same, utcnow())
    assert refused.value.status == 403


def test_suggested_titles_come_from_the_question_and_the_answer(ctx, world):
    first = service.suggested(finding(world["audit"].id, "resolved"))
    assert first.title == "Call the billing line: Was the question resolved on this call (answered no)"
    assert "Promise: A person answers within a minute" in first.detail
    assert "Question: Was the question resolved on this call?" in first.detail
    assert "Auditor's note: They asked me to write in" in first.detail
    same_promise = [
        service.suggested(
            Finding(touchpoint_title="Front desk", promise="Seen within 5 minutes", prompt=q, reason="answered no")
        ).title
        for q in ("Were you greeted?", "Was the queue explained?", "Were you seen on time?")
    ]
    assert len(set(same_promise)) == 3
    assert not any("Seen within 5 minutes" in title for title in same_promise)
    long = Finding(touchpoint_title="T" * 150, promise="P", prompt="Q" * 150, reason="R", note="")
    assert len(service.suggested(long).title) == service.MAX_TITLE


def test_the_action_plan_is_plain_data_per_finding_in_one_query(ctx, make, world, count_queries):
    make.action(
        world["audit"], "transfers", by=world["owner"], assignee=world["auditor"], due_on=date(2026, 6, 1), title="One"
    )
    make.action(world["audit"], "resolved", by=world["owner"], title="Two")
    db.session.execute(db.select(Action.id))  # the session's transaction is open before counting
    with count_queries() as queries:
        plan = service.action_plan(world["audit"].id, TODAY)
    assert queries.count == 1
    assert set(plan) == {"transfers", "resolved"}
    one = plan["transfers"]
    assert (one.title, one.owner, one.due_on, one.status_label, one.overdue) == (
        "One",
        world["auditor"].name,
        date(2026, 6, 1),
        "Open",
        True,
    )
    assert plan["resolved"].owner == "" and plan["resolved"].overdue is False


def test_the_report_shows_the_real_actions(client, login, make, world):
    make.action(
        world["audit"],
        "transfers",
        by=world["owner"],
        assignee=world["auditor"],
        due_on=utcnow().date() + timedelta(days=3),
        title="One line for billing",
    )
    login(world["owner"])
    page = client.get(f"/o/{world['org'].slug}/audits/{world['audit'].id}/report").get_data(as_text=True)
    plan = page[page.index('id="actions-heading"') :]
    plan = plan[: plan.index("</table>")]
    assert "Action: One line for billing" in plan and world["auditor"].name in plan
    assert (utcnow().date() + timedelta(days=3)).strftime("%d %b %Y") in plan and "<td>Open</td>" in plan
    assert plan.count('class="write-in"') == 6  # the two findings without an action keep their blanks
