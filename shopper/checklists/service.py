"""Checklists: create, copy from the library, import, edit the draft, publish versions. No request objects."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from shopper import events
from shopper.checklists import io
from shopper.checklists.builtin import get_builtin
from shopper.checklists.changes import summarize_changes
from shopper.checklists.models import Checklist, ChecklistVersion
from shopper.checklists.schema import DefinitionError, Problem, check_definition
from shopper.extensions import db


class NothingToPublish(ValueError):
    pass


def blank_definition(title: str, description: str = "") -> dict[str, Any]:
    definition: dict[str, Any] = {"title": title.strip(), "touchpoints": []}
    if description.strip():
        definition["description"] = description.strip()
    return definition


def _new_checklist(org_id: int, user_id: int | None, definition: dict[str, Any], source: str | None) -> Checklist:
    checklist = Checklist(
        org_id=org_id,
        title=definition.get("title", ""),
        description=definition.get("description", ""),
        draft=copy.deepcopy(definition),
        source=source,
        created_by_id=user_id,
    )
    db.session.add(checklist)
    db.session.flush()
    return checklist


def create_checklist(org_id: int, user_id: int, *, title: str, description: str = "") -> Checklist:
    """A new, empty draft."""
    return _new_checklist(org_id, user_id, blank_definition(title, description), None)


def copy_from_library(org_id: int, user_id: int, slug: str, now: datetime) -> Checklist:
    """The organization's own copy of a built-in checklist, published as version 1 so it can be run at once."""
    builtin = get_builtin(slug)
    checklist = _new_checklist(org_id, user_id, builtin.definition, f"library:{slug}")
    _publish(checklist, user_id, now)
    return checklist


def import_checklist(
    org_id: int, user_id: int, *, data: bytes, filename: str, title: str | None, now: datetime
) -> Checklist:
    """A checklist from a JSON or CSV file, published as version 1. Raises DefinitionError; nothing is saved then."""
    if filename.lower().endswith(".csv"):
        if not (title and title.strip()):
            raise DefinitionError([Problem("title", "a CSV file has no title: give the checklist a title")])
        definition = io.import_csv(data, title=title.strip())
    else:
        definition = io.import_json(data)
        if title and title.strip():
            definition["title"] = title.strip()
            check_definition(definition)
    checklist = _new_checklist(org_id, user_id, definition, "import")
    _publish(checklist, user_id, now)
    return checklist


def copy_checklist(source: Checklist, org_id: int, user_id: int, *, title: str | None = None) -> Checklist:
    """An editable copy of a checklist's current version (or of its draft when it has none)."""
    definition = copy.deepcopy(source.current_version.definition if source.current_version else source.draft)
    definition["title"] = (title or f"{definition.get('title', '')} (copy)").strip()[:200]
    return _new_checklist(org_id, user_id, definition, "copy")


def save_draft(checklist: Checklist, definition: dict[str, Any]) -> None:
    """Replace the draft (the editor validates the part it changed)."""
    checklist.draft = copy.deepcopy(definition)
    checklist.title = definition.get("title", checklist.title)
    checklist.description = definition.get("description", "")


def _publish(checklist: Checklist, user_id: int | None, now: datetime) -> ChecklistVersion:
    definition = check_definition(copy.deepcopy(checklist.draft))
    previous = checklist.current_version
    if previous is not None and previous.definition == definition:
        raise NothingToPublish(f"Nothing has changed since version {previous.number}.")
    number = (
        db.session.scalar(
            select(func.max(ChecklistVersion.number)).where(ChecklistVersion.checklist_id == checklist.id)
        )
        or 0
    ) + 1
    version = ChecklistVersion(
        checklist_id=checklist.id,
        number=number,
        definition=definition,
        changes=summarize_changes(previous.definition if previous else None, definition),
        created_by_id=user_id,
        created_at=now,
    )
    db.session.add(version)
    db.session.flush()
    checklist.current_version = version
    checklist.title = definition["title"]
    checklist.description = definition.get("description", "")
    db.session.flush()  # current_version_id is set: an audit may start on it in the same transaction
    events.checklist_published.send(
        checklist, checklist_id=checklist.id, previous=previous.definition if previous else None, definition=definition
    )
    return version


def publish(checklist: Checklist, user_id: int, now: datetime) -> ChecklistVersion:
    """Freeze the draft as the next version. Raises DefinitionError or NothingToPublish before changing anything."""
    return _publish(checklist, user_id, now)


def set_archived(checklist: Checklist, archived: bool, now: datetime) -> None:
    checklist.archived_at = now if archived else None


def version_by_number(checklist: Checklist, number: int) -> ChecklistVersion | None:
    return db.session.scalar(
        select(ChecklistVersion).where(ChecklistVersion.checklist_id == checklist.id, ChecklistVersion.number == number)
    )
