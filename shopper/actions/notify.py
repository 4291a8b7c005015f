"""Mail about actions: to the person responsible when an action is assigned to them, and the day before it is due.

Mail goes out only when MAIL_SERVER is configured, through the job queue. A link to the action is included when the
URL can be built: in a request, or from a job or the command line when SERVER_NAME (and PREFERRED_URL_SCHEME) are
set. Reminders run once a day in the job consumer (and from `flask actions remind`); one message that fails never
stops the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from flask import current_app, has_request_context, url_for
from huey import crontab
from sqlalchemy import select

from shopper.actions.models import Action
from shopper.actions.service import day, due_for_reminder, mark_reminded
from shopper.extensions import db
from shopper.jobs import job
from shopper.mail import mail_enabled, send_later, send_mail
from shopper.orgs.models import Organization
from shopper.timeutil import utcnow


def _link(action: Action, org_slug: str) -> str | None:
    if not (has_request_context() or current_app.config.get("SERVER_NAME")):
        return None
    return url_for("actions.detail", org_slug=org_slug, action_id=action.id, _external=True)


def _body(action: Action, opening: str, link: str | None) -> str:
    lines = [opening, "", action.title]
    if action.detail:
        lines += ["", action.detail]
    lines += ["", f"Due: {day(action.due_on)} · priority {action.priority}"]
    lines += ["", f"Open it here: {link}" if link else "Find it in Shopper under Actions > My actions."]
    return "\n".join(lines) + "\n"


def assignment_message(actions: list[Action], org: Organization, assigned_by: str) -> tuple[str, str]:
    """One message for one or several actions given to the same person at once."""
    if len(actions) == 1:
        action = actions[0]
        subject = f"[{org.name}] New action for you: {action.title}"
        opening = f"{assigned_by} made you responsible for this action in {org.name}."
        return subject, _body(action, opening, _link(action, org.slug))
    subject = f"[{org.name}] {len(actions)} new actions for you"
    parts = [f"{assigned_by} made you responsible for {len(actions)} actions in {org.name}."]
    for action in actions:
        parts.append(_body(action, "---", _link(action, org.slug)).rstrip("\n"))
    return subject, "\n\n".join(parts) + "\n"


def reminder_message(action: Action, org: Organization) -> tuple[str, str]:
    subject = f"[{org.name}] Due tomorrow: {action.title}"
    opening = f"A reminder from {org.name}: this action is due tomorrow, {day(action.due_on)}."
    return subject, _body(action, opening, _link(action, org.slug))


def notify_assignee(actions: list[Action], org: Organization, assigned_by: str) -> bool:
    """Queue mail to the person responsible for `actions` (all given to the same person). False when mail is off or
    nobody is responsible."""
    if not mail_enabled() or not actions or actions[0].assignee is None:
        return False
    subject, body = assignment_message(actions, org, assigned_by)
    return send_later(actions[0].assignee.email, subject, body)


@dataclass(frozen=True)
class Reminders:
    sent: int
    failed: int


def send_reminders(today: date, now: datetime) -> Reminders:
    """Send the day-before reminders for actions due tomorrow, once per action and due date. Each sent reminder is
    recorded at once, so a run that stops half-way, or a second run, sends none twice."""
    actions = due_for_reminder(today + timedelta(days=1))
    orgs = {
        org.id: org
        for org in db.session.scalars(select(Organization).where(Organization.id.in_({a.org_id for a in actions})))
    }
    sent = failed = 0
    for action in actions:
        try:
            subject, body = reminder_message(action, orgs[action.org_id])
            send_mail(action.assignee.email, subject, body)
        except Exception:  # whatever went wrong with this one, the others still go
            current_app.logger.exception("action reminder mail failed for action %s", action.id)
            failed += 1
            continue
        mark_reminded(action, action.assignee.email, now)
        sent += 1
    return Reminders(sent, failed)


@job(periodic=crontab(hour="7", minute="0"))
def daily_reminders() -> None:
    if mail_enabled():
        now = utcnow()
        send_reminders(now.date(), now)
