"""Actions: create them from findings, edit and assign them, move them along, close them with proof, remind.

Every function takes plain arguments (the acting membership, parsed values, the time) and either makes the whole
change, with an event in the action's history, or raises ActionError with a message to show and changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from shopper.accounts.models import User
from shopper.actions.models import Action, ActionEvent, ActionStatus, Priority
from shopper.actions.rules import Change, may_change
from shopper.audits.models import Audit, Finding
from shopper.database import write_transaction
from shopper.extensions import db
from shopper.media import remove, store
from shopper.media.ingest import ingest_image
from shopper.media.keys import PROOF_RENDITIONS, proof_key
from shopper.media.storage import Storage
from shopper.orgs.access import Access, people

MAX_TITLE = 200
MAX_TEXT = 5000


class ActionError(ValueError):
    """A refused change; nothing was written. `status` is the HTTP status a view answers with."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ActionInput:
    """What a person types for an action. `due_on` is the raw text of a date field ("" for none)."""

    title: str
    detail: str = ""
    assignee_id: int | None = None
    due_on: str | date | None = None
    priority: str = Priority.NORMAL


def day(value: date | None) -> str:
    return value.strftime("%d %b %Y") if value is not None else "no date"


def parse_due(value: str | date | None, today: date, previous: date | None = None) -> date | None:
    """A due date from a form: empty means none; it may not lie in the past unless it is unchanged."""
    if value is None or isinstance(value, date):
        due = value
    else:
        text = value.strip()
        if not text:
            return None
        try:
            due = date.fromisoformat(text)
        except ValueError:
            raise ActionError(f"The due date {text!r} is not a date like {today.isoformat()}.") from None
    if due is not None and due < today and due != previous:
        raise ActionError("Pick a due date from today on.")
    return due


def suggested(finding: Finding) -> ActionInput:
    """A first title and detail for a finding: the question and what was found.

    Not the promise: a touchpoint's findings share it, so its actions would all read alike; the promise goes in the
    detail."""
    question = finding.prompt.strip().rstrip(".?")
    title = f"{finding.touchpoint_title}: {question} ({finding.reason})"
    if len(title) > MAX_TITLE:
        title = title[: MAX_TITLE - 1].rstrip() + "…"
    lines = [f"Question: {finding.prompt}", f"Found: {finding.reason}"]
    if finding.promise:
        lines.insert(0, f"Promise: {finding.promise}")
    if (finding.note or "").strip():
        lines.append(f"Auditor's note: {finding.note.strip()}")
    return ActionInput(title=title, detail="\n".join(lines))


def _member_names(org_id: int, user_ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    rows = db.session.execute(people(org_id).where(User.id.in_(wanted)))
    return {row.id: row.name for row in rows}


def _text(data: ActionInput) -> tuple[str, str]:
    """The title and detail, trimmed and checked."""
    title = (data.title or "").strip()
    if not title:
        raise ActionError("Give the action a title: what will change?")
    if len(title) > MAX_TITLE:
        raise ActionError(f"Keep the title under {MAX_TITLE} characters.")
    detail = (data.detail or "").strip()
    if len(detail) > MAX_TEXT:
        raise ActionError(f"Keep the detail under {MAX_TEXT} characters.")
    return title, detail


@dataclass(frozen=True)
class _Assignment:
    assignee_id: int | None
    assignee_name: str | None
    due_on: date | None
    priority: Priority


def _assignment(org_id: int, data: ActionInput, today: date, previous_due: date | None = None) -> _Assignment:
    """Who, by when and how urgent, checked: the person must be a member, the date a date."""
    try:
        priority = Priority(data.priority or Priority.NORMAL)
    except ValueError:
        raise ActionError("The priority is low, normal or high.") from None
    names = _member_names(org_id, [data.assignee_id])
    if data.assignee_id is not None and data.assignee_id not in names:
        raise ActionError("The person responsible must be a member of this organization.")
    due_on = parse_due(data.due_on, today, previous_due)
    return _Assignment(data.assignee_id, names.get(data.assignee_id), due_on, priority)


def _check(actor: Access, change: Change, action: Action | None = None, status: str | None = None) -> None:
    is_assignee = action is not None and action.assignee_id == actor.user_id
    if not may_change(actor.role_enum, is_assignee, change, status):
        if change == Change.STATUS and is_assignee:
            raise ActionError("As the person responsible you can mark it in progress or done.", 403)
        raise ActionError("Only owners and managers can do that.", 403)


def _event(action: Action, user_id: int | None, kind: str, summary: str, now: datetime) -> None:
    db.session.add(ActionEvent(action=action, user_id=user_id, kind=kind, summary=summary, at=now))


# Creating ---------------------------------------------------------------------------------------------------------


def _check_audit(audit: Audit, actor: Access) -> None:
    if audit.org_id != actor.org_id:
        raise ActionError("That audit is not part of this organization.", 404)
    if not audit.is_submitted:
        raise ActionError("Findings become actions once the audit is submitted.", 409)


def _new_action(
    audit: Audit, finding: Finding, text: tuple[str, str], who: _Assignment, actor: Access, now: datetime
) -> Action:
    title, detail = text
    action = Action(
        org_id=audit.org_id,
        audit_id=audit.id,
        touchpoint_key=finding.touchpoint_key,
        item_key=finding.item_key,
        title=title,
        detail=detail,
        assignee_id=who.assignee_id,
        due_on=who.due_on,
        priority=who.priority,
        status=ActionStatus.OPEN,
        created_by_id=actor.user_id,
        created_at=now,
        updated_at=now,
    )
    db.session.add(action)
    assigned = f"assigned to {who.assignee_name}" if who.assignee_name else "nobody assigned yet"
    _event(
        action,
        actor.user_id,
        "created",
        f"Created from the finding “{finding.prompt}” ({finding.reason}): {assigned}, due {day(who.due_on)}, "
        f"{who.priority.value} priority.",
        now,
    )
    return action


def create_action(audit: Audit, finding: Finding, actor: Access, data: ActionInput, now: datetime) -> Action:
    """One action for one finding of a submitted audit. A finding has at most one action (409 otherwise)."""
    _check(actor, Change.CREATE)
    _check_audit(audit, actor)
    if finding.audit_id != audit.id:
        raise ActionError("That finding is not part of this audit.", 404)
    text, who = _text(data), _assignment(audit.org_id, data, now.date())
    taken = db.session.scalar(select(Action.id).where(Action.audit_id == audit.id, Action.item_key == finding.item_key))
    if taken is not None:
        raise ActionError("This finding already has an action.", 409)
    action = _new_action(audit, finding, text, who, actor, now)
    db.session.flush()
    return action


def create_all(audit: Audit, actor: Access, data: ActionInput, now: datetime) -> list[Action]:
    """An action for every finding that has none yet, titled from the finding; the assignee, due date and priority
    of `data` apply to all of them (its title and detail are not used)."""
    _check(actor, Change.CREATE)
    _check_audit(audit, actor)
    who = _assignment(audit.org_id, data, now.date())
    taken = set(db.session.scalars(select(Action.item_key).where(Action.audit_id == audit.id)))
    created = []
    for finding in audit.findings:
        if finding.item_key not in taken:
            first = suggested(finding)
            created.append(_new_action(audit, finding, (first.title, first.detail), who, actor, now))
    db.session.flush()
    return created


# Changing ---------------------------------------------------------------------------------------------------------


def edit_action(action: Action, actor: Access, data: ActionInput, now: datetime) -> bool:
    """Change title, detail, assignee, due date and priority. Returns whether the assignee changed to someone."""
    _check(actor, Change.EDIT, action)
    title, detail = _text(data)
    who = _assignment(action.org_id, data, now.date(), previous_due=action.due_on)
    changes: list[str] = []
    if title != action.title:
        changes.append(f"title: “{action.title}” → “{title}”")
    if detail != action.detail:
        changes.append("detail changed")
    if who.assignee_id != action.assignee_id:
        before = action.assignee.name if action.assignee else "nobody"
        changes.append(f"assigned: {before} → {who.assignee_name or 'nobody'}")
    if who.due_on != action.due_on:
        changes.append(f"due: {day(action.due_on)} → {day(who.due_on)}")
    if who.priority != action.priority:
        changes.append(f"priority: {action.priority} → {who.priority.value}")
    if not changes:
        return False
    reassigned = who.assignee_id is not None and who.assignee_id != action.assignee_id
    action.title, action.detail, action.assignee_id = title, detail, who.assignee_id
    action.due_on, action.priority, action.updated_at = who.due_on, who.priority, now
    _event(action, actor.user_id, "edited", "Changed " + "; ".join(changes) + ".", now)
    db.session.flush()
    db.session.expire(action, ["assignee"])  # loaded above for the history: the new person is loaded on next use
    return reassigned


def change_status(
    action: Action,
    actor: Access,
    status: str,
    note: str,
    now: datetime,
    photo: bytes | None = None,
    storage: Storage | None = None,
) -> None:
    """Move an action to `status`. Done needs a note on what changed (and may carry an "after" photo); won't fix
    needs the reason. Raises ActionError, or ImageRejected for a photo that is not one; nothing changes then."""
    try:
        target = ActionStatus(status)
    except ValueError:
        raise ActionError("Choose open, in progress, done or won't fix.") from None
    _check(actor, Change.STATUS, action, target)
    note = (note or "").strip()
    if len(note) > MAX_TEXT:
        raise ActionError(f"Keep the note under {MAX_TEXT} characters.")
    if target == ActionStatus.DONE and not note:
        raise ActionError("Say what was changed: the note is how the next walk knows what to look for.")
    if target == ActionStatus.WONT_FIX and not note:
        raise ActionError("Say why it won't be fixed.")
    if photo is not None and target != ActionStatus.DONE:
        raise ActionError("An after photo goes with marking the action done.")
    if target == action.status_enum and photo is None and note == (action.resolution or ""):
        raise ActionError(f"The action is already {target.label.lower()}.", 409)

    old_photo = action.proof_photo_id
    new_photo = None
    saved: list[str] = []
    if photo is not None:
        if storage is None:
            raise ValueError("a photo needs a storage")
        image = ingest_image(photo)  # raises ImageRejected before anything is written
        new_photo = str(uuid.uuid4())
        saved = store(
            storage, {proof_key(action, new_photo, name): image.renditions[name].data for name in PROOF_RENDITIONS}
        )
    try:
        with write_transaction():  # the photo is decoded and stored: the write lock is held for the write only
            _check(actor, Change.STATUS, action, target)  # again, on what is committed now
            if target == action.status_enum:
                summary = f"{target.label}: the note changed"
            else:
                summary = f"Status: {action.status_enum.label} → {target.label}"
            if note and target.closed:
                summary += f": “{note}”"
            if new_photo:
                summary += " (with an after photo)"
            if not target.closed:
                action.closed_at = None
            elif not action.is_closed:
                action.closed_at = now
            action.status = target
            action.resolution = note if target.closed else ""
            if new_photo:
                action.proof_photo_id = new_photo
            action.updated_at = now
            _event(action, actor.user_id, "status", summary + ".", now)
    except BaseException:
        if storage is not None:
            remove(storage, saved)
        raise
    if new_photo and old_photo and storage is not None:
        remove(storage, [proof_key(action, old_photo, name) for name in PROOF_RENDITIONS])


# Reminders --------------------------------------------------------------------------------------------------------


def due_for_reminder(tomorrow: date) -> list[Action]:
    """Actions still to do, due `tomorrow`, with someone responsible, whose reminder for that date has not gone."""
    return list(
        db.session.scalars(
            select(Action)
            .where(
                Action.status.in_([ActionStatus.OPEN, ActionStatus.DOING]),
                Action.due_on == tomorrow,
                Action.assignee_id.is_not(None),
                (Action.reminded_for.is_(None)) | (Action.reminded_for != Action.due_on),
            )
            .options(selectinload(Action.assignee), selectinload(Action.audit).selectinload(Audit.site))
            .order_by(Action.id)
        )
    )


def mark_reminded(action: Action, email: str, now: datetime) -> None:
    """Record that the day-before reminder went out, so a second run of the command sends nothing. The mail has
    gone: the record is committed at once, in a transaction of its own, whatever happens to the rest of the run."""
    with write_transaction():
        action.reminded_for = action.due_on
        _event(action, None, "reminded", f"Reminder sent to {email} for the due date {day(action.due_on)}.", now)


# For the report ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanLine:
    """One finding's action as the report's action plan prints it."""

    title: str
    owner: str  # "" when nobody is assigned
    due_on: date | None
    status: str
    status_label: str
    priority: str
    overdue: bool


def action_plan(audit_id: int, today: date) -> dict[str, PlanLine]:
    """Item key -> the action for that finding of the audit, in one query. Findings without an action are absent."""
    rows = db.session.execute(
        select(Action, User.name)
        .outerjoin(User, User.id == Action.assignee_id)
        .where(Action.audit_id == audit_id)
        .order_by(Action.id)
    )
    plan: dict[str, PlanLine] = {}
    for action, owner in rows:
        plan[action.item_key] = PlanLine(
            title=action.title,
            owner=owner or "",
            due_on=action.due_on,
            status=action.status,
            status_label=action.status_enum.label,
            priority=action.priority,
            overdue=action.is_overdue(today),
        )
    return plan
