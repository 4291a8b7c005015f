"""Consultancies and their clients: creating a client, offering to serve an existing business, accepting, revoking,
and preparing the same audit for several clients at once. Plain functions; each commits or changes nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from shopper.accounts.models import User
from shopper.audits.models import Audit
from shopper.audits.service import AuditError, new_audit
from shopper.checklists.models import Checklist, ChecklistShare
from shopper.checklists.sharing import may_run
from shopper.clients.models import ClientInvite
from shopper.extensions import db
from shopper.links import LinkRefused, claim, find_link, hash_token, new_token
from shopper.orgs.access import Access, roles_in
from shopper.orgs.models import ClientLink, LinkRole, Membership, Organization, OrgKind, Role, Site
from shopper.orgs.security_log import Event, record
from shopper.orgs.service import (
    Conflict,
    Forbidden,
    NewInvite,
    OrgError,
    check_invited_address,
    new_invite,
    unique_slug,
)


def _check_consultancy_manager(actor: Access) -> None:
    if not actor.org.is_consultancy:
        raise OrgError("Only a consultancy has clients.")
    if actor.is_consultant or not actor.role_enum.at_least(Role.MANAGER):
        raise Forbidden("Only the consultancy's owners and managers look after its clients.")


def _link_role(role: str) -> LinkRole:
    if role not in set(LinkRole):
        raise OrgError(f"Unknown consultant role: {role!r}.")
    return LinkRole(role)


# The consultancy's side ----------------------------------------------------------------------------------------


def clients_of(consultancy_id: int) -> list[ClientLink]:
    """Every link of the consultancy, active ones first, by client name."""
    return list(
        db.session.scalars(
            select(ClientLink)
            .join(ClientLink.client)
            .where(ClientLink.consultancy_id == consultancy_id)
            .order_by(ClientLink.revoked_at.is_not(None), Organization.name)
        )
    )


def create_client(actor: Access, *, name: str, site_name: str | None, now: datetime) -> ClientLink:
    """A new business the consultancy serves as consultant-manager, with its first site. It has no owner until the
    consultancy invites one."""
    _check_consultancy_manager(actor)
    name = name.strip()
    if not name:
        raise OrgError("Give the client's business a name.")
    client = Organization(name=name, slug=unique_slug(name), kind=OrgKind.BUSINESS, created_at=now)
    db.session.add(client)
    db.session.flush()
    db.session.add(Site(org_id=client.id, name=(site_name or "").strip() or "Main site", created_at=now))
    link = ClientLink(
        consultancy_id=actor.org_id,
        client_id=client.id,
        role=LinkRole.CONSULTANT_MANAGER,
        created_client=True,
        created_by_id=actor.user_id,
        created_at=now,
    )
    db.session.add(link)
    record(
        client.id,
        Event.CONSULTANCY_ADDED,
        actor_id=actor.user_id,
        detail=f"{actor.org.name} set up this business, as {LinkRole.CONSULTANT_MANAGER.label.lower()}",
        at=now,
    )
    db.session.flush()
    return link


def _owner_count(org_id: int) -> int:
    return db.session.scalar(select(func.count()).where(Membership.org_id == org_id, Membership.role == Role.OWNER))


def invite_client_owner(
    actor: Access, link: ClientLink, *, email: str | None, now: datetime, lifetime: timedelta
) -> NewInvite:
    """An owner's invitation into a client the consultancy created, while that client has no owner yet. Once it
    has one, the client's own owners decide who joins."""
    _check_consultancy_manager(actor)
    if link.consultancy_id != actor.org_id or not link.active:
        raise OrgError("That business is not one of your clients.")
    if not link.created_client:
        raise Forbidden(f"{link.client.name} has its own owners: they invite their team.")
    if _owner_count(link.client_id):
        raise Conflict(f"{link.client.name} already has an owner: they invite their team.")
    new = new_invite(
        link.client_id,
        role=Role.OWNER,
        email=email,
        by_id=actor.user_id,
        now=now,
        lifetime=lifetime,
        via_consultancy_id=actor.org_id,
    )
    record(
        link.client_id,
        Event.INVITE_MADE,
        actor_id=actor.user_id,
        detail=f"Owner{f' for {new.invite.email}' if new.invite.email else ''}, by {actor.org.name}",
        at=now,
    )
    return new


@dataclass(frozen=True)
class NewClientInvite:
    invite: ClientInvite
    token: str  # shown once, in the link; only its hash is stored


def invite_business(
    actor: Access, *, role: str, email: str | None, now: datetime, lifetime: timedelta
) -> NewClientInvite:
    """An offer to serve an existing business, for its owner to accept."""
    _check_consultancy_manager(actor)
    token = new_token()
    invite = ClientInvite(
        consultancy_id=actor.org_id,
        role=_link_role(role),
        email=email.strip().lower() if email else None,
        token_hash=hash_token(token),
        created_by_id=actor.user_id,
        created_at=now,
        expires_at=now + lifetime,
    )
    db.session.add(invite)
    db.session.flush()
    return NewClientInvite(invite, token)


def pending_client_invites(consultancy_id: int, now: datetime) -> list[ClientInvite]:
    rows = db.session.scalars(
        select(ClientInvite)
        .where(
            ClientInvite.consultancy_id == consultancy_id,
            ClientInvite.accepted_at.is_(None),
            ClientInvite.revoked_at.is_(None),
        )
        .order_by(ClientInvite.created_at.desc())
    )
    return [invite for invite in rows if invite.is_usable(now)]


def withdraw_client_invite(actor: Access, invite: ClientInvite, now: datetime) -> None:
    _check_consultancy_manager(actor)
    if invite.consultancy_id != actor.org_id:
        raise OrgError("That invitation is not yours.")
    invite.revoked_at = now


# The business's side -------------------------------------------------------------------------------------------


def find_client_invite(token: str, now: datetime) -> ClientInvite:
    """Raises OrgError saying why the link cannot be used."""
    try:
        return find_link(ClientInvite, token, now, noun="link", ask="Ask the consultancy for a new one.")
    except LinkRefused as e:
        raise OrgError(str(e)) from None


def businesses_owned_by(user: User, consultancy_id: int) -> list[Organization]:
    """The businesses the user owns that the consultancy does not serve yet: what they may accept the offer for."""
    served = select(ClientLink.client_id).where(
        ClientLink.consultancy_id == consultancy_id, ClientLink.revoked_at.is_(None)
    )
    return list(
        db.session.scalars(
            select(Organization)
            .join(Membership, Membership.org_id == Organization.id)
            .where(
                Membership.user_id == user.id,
                Membership.role == Role.OWNER,
                Organization.kind == OrgKind.BUSINESS,
                Organization.id.not_in(served),
            )
            .order_by(Organization.name)
        )
    )


def accept_client_invite(
    invite: ClientInvite, user: User, client_id: int, now: datetime, *, require_confirmed: bool = True
) -> ClientLink:
    """The owner of a business lets the consultancy in with the offered role. A link the business revoked earlier
    comes back to life; nothing of what the consultancy could see before returns with it but the business's data.
    The link is used once, whoever else tries at the same moment."""
    check_invited_address(invite, user, new_account=False, require_confirmed=require_confirmed)
    if client_id not in {org.id for org in businesses_owned_by(user, invite.consultancy_id)}:
        raise Forbidden("Choose one of the businesses you own that this consultancy does not serve yet.")
    try:
        claim(invite, user.id, now, noun="link")
    except LinkRefused as e:
        raise Conflict(str(e)) from None
    try:
        with db.session.begin_nested():  # the unique key decides a race; the savepoint keeps the transaction usable
            link = db.session.scalar(
                select(ClientLink).where(
                    ClientLink.consultancy_id == invite.consultancy_id, ClientLink.client_id == client_id
                )
            )
            if link is None:
                link = ClientLink(consultancy_id=invite.consultancy_id, client_id=client_id, created_at=now)
                db.session.add(link)
            link.role = invite.role
            link.created_by_id = user.id
            link.revoked_at = None
            link.revoked_by_id = None
            invite.client_id = client_id
            record(
                client_id,
                Event.CONSULTANCY_ADDED,
                actor_id=user.id,
                detail=f"{invite.consultancy.name}, as {invite.role_enum.label.lower()}",
                at=now,
            )
    except IntegrityError:
        raise Conflict("That consultancy has just been given access to this business.") from None
    return link


def consultancies_of(client_id: int) -> list[ClientLink]:
    """The consultancies that serve or served the business, active first."""
    return list(
        db.session.scalars(
            select(ClientLink)
            .join(ClientLink.consultancy)
            .where(ClientLink.client_id == client_id)
            .order_by(ClientLink.revoked_at.is_not(None), Organization.name)
        )
    )


def _check_client_owner(actor: Access, link: ClientLink) -> None:
    if link.client_id != actor.org_id:
        raise OrgError("That consultancy does not serve this business.")
    if actor.is_consultant or actor.role_enum != Role.OWNER:
        raise Forbidden("Only the business's owners decide which consultancies have access.")


def revoke_link(actor: Access, link: ClientLink, now: datetime) -> None:
    """The business ends the consultancy's access at once. Audits and reports made meanwhile stay with the business;
    the consultancy's checklists stop being offered to it."""
    _check_client_owner(actor, link)
    if not link.active:
        raise Conflict(f"{link.consultancy.name} has no access already.")
    link.revoked_at = now
    link.revoked_by_id = actor.user_id
    record(link.client_id, Event.CONSULTANCY_REVOKED, actor_id=actor.user_id, detail=link.consultancy.name, at=now)
    for share in db.session.scalars(
        select(ChecklistShare)
        .join(Checklist, Checklist.id == ChecklistShare.checklist_id)
        .where(Checklist.org_id == link.consultancy_id, ChecklistShare.client_id == link.client_id)
    ):
        db.session.delete(share)


def change_link_role(actor: Access, link: ClientLink, role: str, now: datetime) -> None:
    _check_client_owner(actor, link)
    if not link.active:
        raise Conflict(f"{link.consultancy.name} has no access: it needs a new invitation from them.")
    old = link.role_enum
    link.role = _link_role(role)
    if link.role_enum != old:
        record(
            link.client_id,
            Event.CONSULTANCY_CHANGED,
            actor_id=actor.user_id,
            detail=f"{link.consultancy.name}: {old.label} -> {link.role_enum.label}",
            at=now,
        )


# Bulk ----------------------------------------------------------------------------------------------------------


def start_for_clients(
    actor: Access,
    checklist: Checklist,
    client_ids: list[int],
    *,
    auditor_id: int,
    scenario: str,
    due_on: date | None,
    now: datetime,
) -> list[Audit]:
    """The same prepared audit for several clients at once, at each client's first live site. Every client is
    checked first: one problem and no audit is made, with every problem listed."""
    _check_consultancy_manager(actor)
    if checklist.org_id != actor.org_id:
        raise OrgError("Choose one of your consultancy's checklists.")
    if not client_ids:
        raise OrgError("Choose at least one client.")
    clients = {link.client_id: link.client for link in clients_of(actor.org_id) if link.active}
    roles = roles_in(actor.user_id, clients)
    problems, plans = [], []
    for client_id in dict.fromkeys(client_ids):
        client = clients.get(client_id)
        if client is None:
            problems.append("One of the chosen businesses is not your client.")
            continue
        if not roles[client_id].at_least(Role.MANAGER):
            problems.append(f"{client.name}: you have auditor access only there, so you cannot prepare audits.")
            continue
        if not may_run(checklist, client.id):
            problems.append(f"{client.name}: share the checklist with them first.")
            continue
        site = db.session.scalar(
            select(Site).where(Site.org_id == client.id, Site.archived_at.is_(None)).order_by(Site.name)
        )
        if site is None:
            problems.append(f"{client.name} has no site to audit yet.")
            continue
        plans.append((client, site))
    if problems:
        raise OrgError(" ".join(dict.fromkeys(problems)))
    audits = []
    try:
        for client, site in plans:
            audits.append(
                new_audit(
                    org_id=client.id,
                    checklist=checklist,
                    site=site,
                    auditor_id=auditor_id,
                    created_by_id=actor.user_id,
                    scenario=scenario,
                    due_on=due_on,
                    now=now,
                )
            )
    except AuditError as e:
        raise OrgError(f"{client.name}: {e}") from e
    return audits
