"""Organizations, members, invites and sites: the rules, as plain functions that take plain arguments."""

from __future__ import annotations

import hashlib
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import contains_eager

from shopper.accounts.models import User
from shopper.extensions import db
from shopper.orgs.access import Access
from shopper.orgs.models import ClientLink, Invite, Membership, Organization, OrgKind, Role, Site


class OrgError(ValueError):
    """A refusal whose message is shown as is. `status` is the HTTP status a view should answer with."""

    status = 400


class Conflict(OrgError):
    status = 409


class Forbidden(OrgError):
    status = 403


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[:50].strip("-") or "org"


def unique_slug(name: str) -> str:
    base = slugify(name)
    taken = set(db.session.scalars(select(Organization.slug).where(Organization.slug.like(f"{base}%"))))
    slug, n = base, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    return slug


def create_organization(*, name: str, kind: str, owner: User) -> Organization:
    if kind not in set(OrgKind):
        raise OrgError(f"Unknown kind of organization: {kind!r}.")
    org = Organization(name=name.strip(), slug=unique_slug(name), kind=kind)
    db.session.add(org)
    db.session.add(Membership(user=owner, org=org, role=Role.OWNER))
    db.session.flush()
    return org


def memberships_of(user: User) -> list[Membership]:
    return list(
        db.session.scalars(
            select(Membership).join(Membership.org).where(Membership.user_id == user.id).order_by(Organization.name)
        )
    )


def clients_served_by(user: User) -> dict[int, list[ClientLink]]:
    """Consultancy id -> its active client links (client loaded), for each consultancy the user belongs to."""
    links = db.session.scalars(
        select(ClientLink)
        .join(Membership, Membership.org_id == ClientLink.consultancy_id)
        .join(ClientLink.client)
        .where(Membership.user_id == user.id, ClientLink.revoked_at.is_(None))
        .options(contains_eager(ClientLink.client))
        .order_by(Organization.name)
    )
    served: dict[int, list[ClientLink]] = {}
    for link in links:
        served.setdefault(link.consultancy_id, []).append(link)
    return served


# Members ------------------------------------------------------------------------------------------------------


def members_of(org: Organization) -> list[Membership]:
    return list(
        db.session.scalars(
            select(Membership).join(Membership.user).where(Membership.org_id == org.id).order_by(User.name)
        )
    )


def _owner_count(org: Organization) -> int:
    return db.session.scalar(select(func.count()).where(Membership.org_id == org.id, Membership.role == Role.OWNER))


def _check_may_manage(actor: Access, role: Role) -> None:
    """Managers manage auditors and managers; only owners make, unmake or remove owners. A consultancy's people
    never manage a client's team: the client decides who belongs to it."""
    if actor.is_consultant:
        raise Forbidden("Only the organization's own owners and managers manage its team.")
    if not actor.role_enum.at_least(Role.MANAGER):
        raise Forbidden("Only owners and managers can manage the team.")
    if role == Role.OWNER and actor.role_enum != Role.OWNER:
        raise Forbidden("Only an owner can do that to an owner.")


def change_role(actor: Access, member: Membership, new_role: str) -> None:
    if new_role not in set(Role):
        raise OrgError(f"Unknown role: {new_role!r}.")
    new_role = Role(new_role)
    _check_may_manage(actor, member.role_enum)
    _check_may_manage(actor, new_role)
    if member.role_enum == Role.OWNER and new_role != Role.OWNER and _owner_count(member.org) <= 1:
        raise Conflict("An organization needs at least one owner. Make someone else an owner first.")
    member.role = new_role
    db.session.commit()


def remove_member(actor: Access, member: Membership) -> None:
    _check_may_manage(actor, member.role_enum)
    if member.role_enum == Role.OWNER and _owner_count(member.org) <= 1:
        raise Conflict("The last owner cannot be removed. Make someone else an owner first.")
    db.session.delete(member)
    db.session.commit()


# Invites ------------------------------------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewInvite:
    invite: Invite
    token: str  # shown once, in the link; only its hash is stored


def create_invite(actor: Access, *, role: str, email: str | None, now: datetime, lifetime: timedelta) -> NewInvite:
    if role not in set(Role):
        raise OrgError(f"Unknown role: {role!r}.")
    _check_may_manage(actor, Role(role))
    new = new_invite(actor.org_id, role=role, email=email, by_id=actor.user_id, now=now, lifetime=lifetime)
    db.session.commit()
    return new


def new_invite(
    org_id: int, *, role: str, email: str | None, by_id: int, now: datetime, lifetime: timedelta
) -> NewInvite:
    """An invite row (not committed) and its token; the caller has checked who may invite."""
    token = secrets.token_urlsafe(32)
    invite = Invite(
        org_id=org_id,
        role=role,
        email=email.strip().lower() if email else None,
        token_hash=hash_token(token),
        created_by_id=by_id,
        created_at=now,
        expires_at=now + lifetime,
    )
    db.session.add(invite)
    return NewInvite(invite, token)


def pending_invites(org: Organization, now: datetime) -> list[Invite]:
    rows = db.session.scalars(
        select(Invite)
        .where(Invite.org_id == org.id, Invite.accepted_at.is_(None), Invite.revoked_at.is_(None))
        .order_by(Invite.created_at.desc())
    )
    return [invite for invite in rows if invite.is_usable(now)]


def revoke_invite(actor: Access, invite: Invite, now: datetime) -> None:
    _check_may_manage(actor, Role(invite.role))
    invite.revoked_at = now
    db.session.commit()


def find_link(model, token: str, now: datetime, *, noun: str, ask: str):
    """The row of `model` (an Invite or a ClientInvite) for a token from a link. Raises OrgError with a message
    that says why it cannot be used, e.g. "This invitation has expired. Ask for a new one." """
    row = db.session.scalar(select(model).where(model.token_hash == hash_token(token)))
    problem = "is not valid" if row is None else row.unusable_because(now)
    if problem is not None:
        raise OrgError(f"This {noun} {problem}. {ask}")
    return row


def find_invite(token: str, now: datetime) -> Invite:
    return find_link(Invite, token, now, noun="invitation", ask="Ask for a new one.")


def accept_invite(invite: Invite, user: User, now: datetime) -> Membership:
    """Make the user a member with the invite's role, and use the invite up. Commits."""
    if invite.email and invite.email != user.email:
        raise Forbidden(f"This invitation is for {invite.email}. Sign in with that address to accept it.")
    existing = db.session.scalar(
        select(Membership).where(Membership.org_id == invite.org_id, Membership.user_id == user.id)
    )
    if existing is not None:
        raise Conflict("You are already a member of this organization.")
    membership = Membership(org_id=invite.org_id, user_id=user.id, role=invite.role, created_at=now)
    invite.accepted_at = now
    invite.accepted_by_id = user.id
    db.session.add(membership)
    db.session.commit()
    return membership


# Sites --------------------------------------------------------------------------------------------------------


def _check_site_name(org: Organization, name: str, site: Site | None = None) -> str:
    name = name.strip()
    clash = db.session.scalar(
        select(Site).where(
            Site.org_id == org.id, func.lower(Site.name) == name.lower(), Site.id != (site.id if site else 0)
        )
    )
    if clash is not None:
        raise Conflict(f"There is already a site called {clash.name!r}.")
    return name


def add_site(org: Organization, *, name: str, address: str | None) -> Site:
    site = Site(org_id=org.id, name=_check_site_name(org, name), address=(address or "").strip() or None)
    db.session.add(site)
    db.session.commit()
    return site


def update_site(site: Site, *, name: str, address: str | None) -> None:
    site.name = _check_site_name(site.org, name, site)
    site.address = (address or "").strip() or None
    db.session.commit()


def set_site_archived(site: Site, archived: bool, now: datetime) -> None:
    site.archived_at = now if archived else None
    db.session.commit()
