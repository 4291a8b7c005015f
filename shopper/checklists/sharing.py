"""A consultancy's checklists published to its clients: who may see and run which checklist.

A client sees a consultancy's checklist while the consultancy has an active link to it, the checklist has a
published version, is not archived, and is shared with all clients or with this one. The client runs it (always
the current version; running audits keep theirs) but edits only a copy of its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import contains_eager

from shopper.checklists.models import Checklist, ChecklistShare, SharedWith
from shopper.extensions import db
from shopper.orgs.models import ClientLink, Organization


class SharingError(ValueError):
    """A refusal whose message is shown as is."""


def _shared_with(org_id: int) -> ColumnElement[bool]:
    """True for a consultancy's checklist that the organization `org_id` may run today."""
    linked = exists().where(
        ClientLink.consultancy_id == Checklist.org_id,
        ClientLink.client_id == org_id,
        ClientLink.revoked_at.is_(None),
    )
    chosen = exists().where(ChecklistShare.checklist_id == Checklist.id, ChecklistShare.client_id == org_id)
    return and_(
        linked,
        Checklist.current_version_id.is_not(None),
        Checklist.archived_at.is_(None),
        or_(Checklist.shared_with == SharedWith.ALL, and_(Checklist.shared_with == SharedWith.CHOSEN, chosen)),
    )


def shared_with(org_id: int):
    """The consultancies' checklists the organization may run, each with its `org` (the consultancy) loaded."""
    return (
        select(Checklist)
        .join(Checklist.org)
        .options(contains_eager(Checklist.org))
        .where(Checklist.org_id != org_id, _shared_with(org_id))
        .order_by(Organization.name, Checklist.title)
    )


def visible(org_id: int) -> ColumnElement[bool]:
    """True for a checklist the organization may look at: its own and those shared with it."""
    return or_(Checklist.org_id == org_id, _shared_with(org_id))


def visible_to(org_id: int):
    """Every checklist the organization may look at: its own and those shared with it."""
    return select(Checklist).where(visible(org_id))


def published_checklists(org_id: int) -> list[Checklist]:
    """The organization's own checklists with a published version, not archived, by title: what a consultancy
    starts for several clients at once."""
    return list(
        db.session.scalars(
            select(Checklist)
            .where(
                Checklist.org_id == org_id,
                Checklist.current_version_id.is_not(None),
                Checklist.archived_at.is_(None),
            )
            .order_by(Checklist.title)
        )
    )


def may_run(checklist: Checklist, org_id: int) -> bool:
    if checklist.org_id == org_id:
        return True
    return db.session.scalar(select(Checklist.id).where(Checklist.id == checklist.id, _shared_with(org_id))) is not None


def active_clients(consultancy_id: int) -> list[Organization]:
    return list(
        db.session.scalars(
            select(Organization)
            .join(ClientLink, ClientLink.client_id == Organization.id)
            .where(ClientLink.consultancy_id == consultancy_id, ClientLink.revoked_at.is_(None))
            .order_by(Organization.name)
        )
    )


def chosen_client_ids(checklist: Checklist) -> set[int]:
    return set(db.session.scalars(select(ChecklistShare.client_id).where(ChecklistShare.checklist_id == checklist.id)))


def set_sharing(checklist: Checklist, consultancy: Organization, scope: str, client_ids: Iterable[int]) -> None:
    """Publish a consultancy's checklist to no client, all clients, or the chosen ones. Raises SharingError with
    nothing changed for a business's checklist, an unknown scope, an empty choice or a business that is not an
    active client."""
    if not consultancy.is_consultancy or checklist.org_id != consultancy.id:
        raise SharingError("Only a consultancy shares its checklists with clients.")
    if scope not in set(SharedWith):
        raise SharingError(f"Choose who sees the checklist (not {scope!r}).")
    wanted = set(client_ids) if scope == SharedWith.CHOSEN else set()
    if scope == SharedWith.CHOSEN and not wanted:
        raise SharingError("Choose at least one client, or share with none.")
    clients = {org.id for org in active_clients(consultancy.id)}
    if wanted - clients:
        raise SharingError("You can only share with your current clients; one of those chosen is not a client.")
    if scope != SharedWith.NONE and checklist.current_version_id is None:
        raise SharingError("Publish a version first: clients always run the latest published version.")
    checklist.shared_with = scope
    existing = {
        share.client_id: share
        for share in db.session.scalars(select(ChecklistShare).where(ChecklistShare.checklist_id == checklist.id))
    }
    for client_id, share in existing.items():
        if client_id not in wanted:
            db.session.delete(share)
    db.session.add_all(ChecklistShare(checklist_id=checklist.id, client_id=c) for c in wanted - existing.keys())


def audiences(consultancy: Organization) -> dict[int, str]:
    """Checklist id -> `audience_text` for every checklist of the consultancy, in three queries."""
    clients = active_clients(consultancy.id)
    names = {client.id: client.name for client in clients}
    chosen: dict[int, list[str]] = {}
    rows = db.session.execute(
        select(ChecklistShare.checklist_id, ChecklistShare.client_id)
        .join(Checklist, Checklist.id == ChecklistShare.checklist_id)
        .where(Checklist.org_id == consultancy.id)
    )
    for checklist_id, client_id in rows:
        if client_id in names:
            chosen.setdefault(checklist_id, []).append(names[client_id])
    result = {}
    for checklist_id, shared_with in db.session.execute(
        select(Checklist.id, Checklist.shared_with).where(Checklist.org_id == consultancy.id)
    ):
        if shared_with == SharedWith.ALL:
            result[checklist_id] = f"shared with all clients ({len(clients)})"
        elif shared_with == SharedWith.CHOSEN:
            result[checklist_id] = "shared with " + (
                ", ".join(sorted(chosen.get(checklist_id, []))) or "no current client"
            )
        else:
            result[checklist_id] = "not shared"
    return result
