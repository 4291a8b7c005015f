"""Mail about actions through a real SMTP server on 127.0.0.1: on assignment, and the day-before reminders."""

from datetime import timedelta

import pytest

from shopper.actions.models import Action, ActionEvent
from shopper.jobs import huey, run_pending
from shopper.orgs.models import Role
from shopper.timeutil import utcnow
from tests.conftest import make_app, session_id_for

WALK = {"answer-time": 240, "transfers": 3, "resolved": ("no", "They asked me to write in")}


@pytest.fixture
def world(make):
    org = make.org("Harbour Physio")
    owner = make.member(org, Role.OWNER)
    assignee = make.member(org, Role.AUDITOR, user=make.user("ana@example.com", "Ana"))
    audit = make.submitted_audit(org, assignee, WALK)
    return {"org": org, "owner": owner, "assignee": assignee, "audit": audit}


def signed_in(app, user):
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = session_id_for(app, user)
    return client


def sent_by_the_queue(app) -> None:
    """Mail leaves through the job queue: run it as the consumer would."""
    with app.app_context():
        run_pending()


def finding_id(make, audit, item_key):
    from shopper.audits.models import Finding

    return make.find(Finding, audit_id=audit.id, item_key=item_key).id


def test_the_assignee_is_mailed_on_assignment(mailing, make, smtp, world):
    client = signed_in(mailing, world["owner"])
    fid = finding_id(make, world["audit"], "transfers")
    due = (utcnow().date() + timedelta(days=7)).isoformat()
    response = client.post(
        f"/o/{world['org'].slug}/actions/audits/{world['audit'].id}/findings/{fid}",
        data={
            f"f{fid}-title": "One line for billing",
            f"f{fid}-assignee_id": world["assignee"].id,
            f"f{fid}-due_on": due,
        },
    )
    assert response.status_code == 302
    assert smtp.messages == []  # the request only queued it
    sent_by_the_queue(mailing)
    [message] = smtp.messages
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "[Harbour Physio] New action for you: One line for billing"
    action = make.find(Action, audit_id=world["audit"].id)
    body = message.get_payload()
    assert f"/o/{world['org'].slug}/actions/{action.id}" in body and "One line for billing" in body
    # editing without changing the person mails nobody; handing it to someone else mails them
    client.post(
        f"/o/{world['org'].slug}/actions/{action.id}/edit",
        data={"title": "One line for billing", "assignee_id": world["assignee"].id, "due_on": due, "priority": "high"},
    )
    sent_by_the_queue(mailing)
    assert len(smtp.messages) == 1
    client.post(
        f"/o/{world['org'].slug}/actions/{action.id}/edit",
        data={"title": "One line for billing", "assignee_id": world["owner"].id, "due_on": due},
    )
    sent_by_the_queue(mailing)
    assert len(smtp.messages) == 2 and smtp.messages[1]["To"] == world["owner"].email


def test_all_at_once_sends_one_mail_for_all_the_actions(mailing, make, smtp, world):
    client = signed_in(mailing, world["owner"])
    response = client.post(
        f"/o/{world['org'].slug}/actions/audits/{world['audit'].id}/all", data={"all-assignee_id": world["assignee"].id}
    )
    assert response.status_code == 302
    sent_by_the_queue(mailing)
    [message] = smtp.messages
    assert message["Subject"] == "[Harbour Physio] 3 new actions for you"


def test_a_mail_server_that_is_down_never_slows_or_fails_the_action(tmp_path, app, database, make, world):
    unreachable = make_app(
        tmp_path, DATABASE_URL=app.config["DATABASE_URL"], MAIL_SERVER="127.0.0.1", MAIL_PORT=1, MAIL_USE_TLS=False
    )
    client = signed_in(unreachable, world["owner"])
    fid = finding_id(make, world["audit"], "transfers")
    response = client.post(
        f"/o/{world['org'].slug}/actions/audits/{world['audit'].id}/findings/{fid}",
        data={f"f{fid}-title": "One line", f"f{fid}-assignee_id": world["assignee"].id},
        follow_redirects=True,
    )
    assert response.status_code == 200 and b"letting Ana know by email" in response.data
    assert make.count(Action, audit_id=world["audit"].id) == 1
    with unreachable.app_context():
        run_pending()
    # the refused delivery waits on the queue's schedule to be tried again, the action untouched
    assert huey.scheduled_count() == 1
    assert make.count(Action, audit_id=world["audit"].id) == 1


def test_remind_mails_the_day_before_once_per_action_and_due_date(mailing, make, smtp, world):
    today = utcnow().date()
    tomorrow = today + timedelta(days=1)
    due = make.action(world["audit"], "transfers", by=world["owner"], assignee=world["assignee"], due_on=tomorrow)
    make.action(world["audit"], "answer-time", by=world["owner"], assignee=world["assignee"], due_on=today)
    make.action(world["audit"], "resolved", by=world["owner"], due_on=tomorrow)  # nobody to remind
    runner = mailing.test_cli_runner()
    first = runner.invoke(args=["actions", "remind"])
    assert first.exit_code == 0, first.output
    assert "Reminders sent: 1." in first.output
    [message] = smtp.messages
    assert message["To"] == "ana@example.com" and message["Subject"] == f"[Harbour Physio] Due tomorrow: {due.title}"
    assert tomorrow.strftime("%d %b %Y") in message.get_payload()
    assert f"/actions/{due.id}" in message.get_payload()  # SERVER_NAME is set in the tests
    assert make.get(Action, due.id).reminded_for == tomorrow
    assert make.find(ActionEvent, action_id=due.id, kind="reminded") is not None
    second = runner.invoke(args=["actions", "remind"])
    assert "Reminders sent: 0." in second.output and len(smtp.messages) == 1
    # a new due date earns a new reminder, the day before it
    later = tomorrow + timedelta(days=5)
    with mailing.app_context():
        from shopper.extensions import db

        db.session.get(Action, due.id).due_on = later
        db.session.commit()
    assert "Reminders sent: 0." in runner.invoke(args=["actions", "remind"]).output
    catch_up = runner.invoke(args=["actions", "remind", "--today", (later - timedelta(days=1)).isoformat()])
    assert "Reminders sent: 1." in catch_up.output and len(smtp.messages) == 2


def test_closed_actions_get_no_reminder(mailing, make, smtp, world):
    tomorrow = utcnow().date() + timedelta(days=1)
    action = make.action(world["audit"], "transfers", by=world["owner"], assignee=world["assignee"], due_on=tomorrow)
    with mailing.app_context():
        from shopper.extensions import db

        db.session.get(Action, action.id).status = "done"
        db.session.commit()
    result = mailing.test_cli_runner().invoke(args=["actions", "remind"])
    assert "Reminders sent: 0." in result.output and smtp.messages == []


def test_remind_without_mail_or_with_a_bad_date_says_so(app, database, mailing):
    result = app.test_cli_runner().invoke(args=["actions", "remind"])
    assert result.exit_code == 0 and "Mail is not configured" in result.output
    bad = mailing.test_cli_runner().invoke(args=["actions", "remind", "--today", "tomorrow"])
    assert bad.exit_code != 0 and "is not a date like" in bad.output


def test_a_refused_reminder_is_not_recorded_and_the_command_fails(tmp_path, app, database, make, world):
    unreachable = make_app(
        tmp_path, DATABASE_URL=app.config["DATABASE_URL"], MAIL_SERVER="127.0.0.1", MAIL_PORT=1, MAIL_USE_TLS=False
    )
    tomorrow = utcnow().date() + timedelta(days=1)
    action = make.action(world["audit"], "transfers", by=world["owner"], assignee=world["assignee"], due_on=tomorrow)
    result = unreachable.test_cli_runner().invoke(args=["actions", "remind"])
    assert result.exit_code != 0 and "could not be sent" in result.output
    assert make.get(Action, action.id).reminded_for is None


def test_a_line_break_in_a_title_or_a_refused_mailbox_never_stops_the_other_reminders(mailing, make, smtp, world):
    tomorrow = utcnow().date() + timedelta(days=1)
    broken = make.action(world["audit"], "transfers", by=world["owner"], assignee=world["assignee"], due_on=tomorrow)
    with mailing.app_context():
        from shopper.extensions import db

        db.session.get(Action, broken.id).title = "Fix the queue\r\nBcc: everyone@example.com"
        db.session.commit()
    gone = make.member(world["org"], Role.AUDITOR, user=make.user("gone@example.com", "Gone"))
    make.action(world["audit"], "answer-time", by=world["owner"], assignee=gone, due_on=tomorrow)
    other_org = make.org("Another Business")
    other_owner = make.member(other_org, Role.OWNER)
    other_audit = make.submitted_audit(other_org, other_owner, WALK)
    make.action(other_audit, "transfers", by=other_owner, assignee=other_owner, due_on=tomorrow)
    smtp.refused.add("gone@example.com")
    result = mailing.test_cli_runner().invoke(args=["actions", "remind"])
    assert "Reminders sent: 2." in result.output and result.exit_code == 1
    assert "1 reminder(s) could not be sent" in result.output
    subjects = sorted(" ".join(m["Subject"].split()) for m in smtp.messages)  # a long subject arrives folded
    assert subjects == sorted(
        [
            "[Harbour Physio] Due tomorrow: Fix the queue Bcc: everyone@example.com",
            "[Another Business] Due tomorrow: Fix transfers",
        ]
    )
    assert all(m["Bcc"] is None for m in smtp.messages)
