"""Organizations, members, invites and sites: the rules, as plain functions that take plain arguments."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import contains_eager

from shopper.accounts import service as accounts
from shopper.accounts import sessions
from shopper.accounts.models import User
from shopper.extensions import db
from shopper.links import LinkRefused, claim, find_link, hash_token, new_token
from shopper.orgs.access import Access, access_for
from shopper.orgs.models import ClientLink, Invite, Membership, Organization, OrgKind, Role, Site
from shopper.orgs.security_log import Event, record


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


def sign_up(
    *, name: str, email: str, password: str, org_name: str, org_kind: str, min_length: int
) -> tuple[User, Organization]:
    """A new person with their own organization, as its owner (flushed; the caller's commit keeps both or neither)."""
    user = accounts.create_user(email=email, name=name, password=password, min_length=min_length)
    org = create_organization(name=org_name, kind=org_kind, owner=user)
    return user, org


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


def _check_may_unseat_owner(actor: Access, member: Membership) -> None:
    """An owner whose ownership came through their consultancy (they accepted the owner's invitation of a client
    their consultancy set up) never demotes or removes another owner: a consultancy can never take a business from
    the people who own it."""
    if actor.joined_via_consultancy_id is not None and member.user_id != actor.user_id:
        raise Forbidden(
            "You became an owner through your consultancy, so only the business's other owners can change or "
            "remove an owner."
        )


def change_role(actor: Access, member: Membership, new_role: str, now: datetime) -> None:
    """Give a member another role. When it is a lower one, the member is signed out everywhere: whatever they had
    open was opened with the old role."""
    if new_role not in set(Role):
        raise OrgError(f"Unknown role: {new_role!r}.")
    new_role = Role(new_role)
    old_role = member.role_enum
    _check_may_manage(actor, old_role)
    _check_may_manage(actor, new_role)
    if old_role == Role.OWNER and new_role != Role.OWNER:
        _check_may_unseat_owner(actor, member)
    if old_role == Role.OWNER and new_role != Role.OWNER and _owner_count(member.org) <= 1:
        raise Conflict("An organization needs at least one owner. Make someone else an owner first.")
    if new_role == old_role:
        return
    member.role = new_role
    if new_role.rank < old_role.rank:
        sessions.end_everywhere_for(member.user_id, now)
    record(
        member.org_id,
        Event.ROLE_CHANGED,
        actor_id=actor.user_id,
        subject_id=member.user_id,
        detail=f"{old_role.label} -> {new_role.label}",
        at=now,
    )


def remove_member(actor: Access, member: Membership, now: datetime) -> None:
    """Remove a member; they are signed out everywhere, and the invitations they made and can no longer honour
    stop working (see `invite_problem`)."""
    _check_may_manage(actor, member.role_enum)
    if member.role_enum == Role.OWNER:
        _check_may_unseat_owner(actor, member)
    if member.role_enum == Role.OWNER and _owner_count(member.org) <= 1:
        raise Conflict("The last owner cannot be removed. Make someone else an owner first.")
    sessions.end_everywhere_for(member.user_id, now)
    record(
        member.org_id,
        Event.MEMBER_REMOVED,
        actor_id=actor.user_id,
        subject_id=member.user_id,
        detail=member.role_enum.label,
        at=now,
    )
    db.session.delete(member)


# Invites ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewInvite:
    invite: Invite
    token: str  # shown once, in the link; only its hash is stored


def create_invite(actor: Access, *, role: str, email: str | None, now: datetime, lifetime: timedelta) -> NewInvite:
    if role not in set(Role):
        raise OrgError(f"Unknown role: {role!r}.")
    _check_may_manage(actor, Role(role))
    new = new_invite(actor.org_id, role=role, email=email, by_id=actor.user_id, now=now, lifetime=lifetime)
    record(actor.org_id, Event.INVITE_MADE, actor_id=actor.user_id, detail=_invite_words(new.invite), at=now)
    return new


def _invite_words(invite: Invite) -> str:
    return f"{Role(invite.role).label}" + (f" for {invite.email}" if invite.email else " (anyone with the link)")


def new_invite(
    org_id: int,
    *,
    role: str,
    email: str | None,
    by_id: int,
    now: datetime,
    lifetime: timedelta,
    via_consultancy_id: int | None = None,
) -> NewInvite:
    """An invite row (not committed) and its token; the caller has checked who may invite."""
    token = new_token()
    invite = Invite(
        org_id=org_id,
        role=role,
        email=email.strip().lower() if email else None,
        token_hash=hash_token(token),
        created_by_id=by_id,
        created_at=now,
        expires_at=now + lifetime,
        via_consultancy_id=via_consultancy_id,
    )
    db.session.add(invite)
    db.session.flush()
    return NewInvite(invite, token)


def invite_problem(invite: Invite, now: datetime) -> str | None:
    """Why a pending invitation no longer works although it is unused and unexpired: the person who made it can no
    longer invite for that role (they left, lost the role, or their consultancy's access ended), or the role it
    offers could be given once only and has been given. None while it still works."""
    if not invite.is_usable(now):
        return f"This invitation {invite.unusable_because(now)}. Ask for a new one."
    ended = "This invitation no longer works: the person who made it can no longer invite people in that role."
    if invite.created_by_id is None:
        return ended
    org = db.session.get(Organization, invite.org_id)
    if invite.via_consultancy_id is not None:
        return _consultancy_invite_problem(invite, org)
    maker = access_for(invite.created_by_id, org.slug)
    if maker is None:
        return ended
    try:
        _check_may_manage(maker, Role(invite.role))
    except OrgError:
        return ended
    return None


def _consultancy_invite_problem(invite: Invite, org: Organization) -> str | None:
    """A consultancy invites the first owner of a client it set up, and only while the client has no owner."""
    link = db.session.scalar(
        select(ClientLink).where(
            ClientLink.consultancy_id == invite.via_consultancy_id,
            ClientLink.client_id == invite.org_id,
            ClientLink.revoked_at.is_(None),
            ClientLink.created_client.is_(True),
        )
    )
    maker_role = db.session.scalar(
        select(Membership.role).where(
            Membership.org_id == invite.via_consultancy_id, Membership.user_id == invite.created_by_id
        )
    )
    if link is None or maker_role is None or not Role(maker_role).at_least(Role.MANAGER):
        return "This invitation no longer works: the consultancy that made it no longer looks after this business."
    if _owner_count(org) > 0:
        return f"This invitation no longer works: {org.name} has its owner now, and they invite their team."
    return None


def pending_invites(org: Organization, now: datetime) -> list[Invite]:
    rows = db.session.scalars(
        select(Invite)
        .where(Invite.org_id == org.id, Invite.accepted_at.is_(None), Invite.revoked_at.is_(None))
        .order_by(Invite.created_at.desc())
    )
    return [invite for invite in rows if invite_problem(invite, now) is None]


def revoke_invite(actor: Access, invite: Invite, now: datetime) -> None:
    _check_may_manage(actor, Role(invite.role))
    invite.revoked_at = now
    record(invite.org_id, Event.INVITE_WITHDRAWN, actor_id=actor.user_id, detail=_invite_words(invite), at=now)


def find_invite(token: str, now: datetime) -> Invite:
    """The invitation of a link, still valid. Raises OrgError saying why not."""
    try:
        invite = find_link(Invite, token, now, noun="invitation", ask="Ask for a new one.")
    except LinkRefused as e:
        raise OrgError(str(e)) from None
    problem = invite_problem(invite, now)
    if problem is not None:
        raise OrgError(problem)
    return invite


def check_invited_address(invite, user: User, *, new_account: bool, require_confirmed: bool) -> None:
    """An invitation made out to an address opens only for an account with that address and, where mail can be
    sent (`require_confirmed`), only once the account has proved it reads mail there, or is being made through this
    very link, which the inviter sent to that address."""
    if not invite.email:
        return
    if invite.email != user.email:
        raise Forbidden(f"This invitation is for {invite.email}. Sign in with that address to accept it.")
    if require_confirmed and not new_account and not user.email_verified:
        raise Forbidden(
            f"Please confirm your address {user.email} first: open the confirmation link we mailed you (your "
            "account page sends a new one), then this invitation again."
        )


def _belongs_to(user_id: int, org_id: int | None) -> bool:
    if org_id is None:
        return False
    found = db.session.scalar(select(Membership.id).where(Membership.user_id == user_id, Membership.org_id == org_id))
    return found is not None


def accept_invite(
    invite: Invite, user: User, now: datetime, *, new_account: bool = False, require_confirmed: bool = True
) -> Membership:
    """Make the user a member with the invite's role, and use the invite up, once, whoever else tries at the same
    moment. Everything about who may still be invited is checked again here."""
    problem = invite_problem(invite, now)
    if problem is not None:
        raise Conflict(problem)
    check_invited_address(invite, user, new_account=new_account, require_confirmed=require_confirmed)
    if new_account and invite.email and user.email_verified_at is None:
        user.email_verified_at = now
    existing = db.session.scalar(
        select(Membership).where(Membership.org_id == invite.org_id, Membership.user_id == user.id)
    )
    if existing is not None:
        raise Conflict("You are already a member of this organization.")
    try:
        claim(invite, user.id, now, noun="invitation")
    except LinkRefused as e:
        raise Conflict(str(e)) from None
    membership = Membership(
        org_id=invite.org_id,
        user_id=user.id,
        role=invite.role,
        created_at=now,
        via_consultancy_id=invite.via_consultancy_id if _belongs_to(user.id, invite.via_consultancy_id) else None,
    )
    try:
        with db.session.begin_nested():  # the unique key decides a race; the savepoint keeps the transaction usable
            db.session.add(membership)
            record(
                invite.org_id,
                Event.INVITE_USED,
                actor_id=user.id,
                subject_id=user.id,
                detail=_invite_words(invite),
                at=now,
            )
    except IntegrityError:
        raise Conflict("You are already a member of this organization.") from None
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
    db.session.flush()
    return site


def update_site(site: Site, *, name: str, address: str | None) -> None:
    site.name = _check_site_name(site.org, name, site)
    site.address = (address or "").strip() or None


def set_site_archived(site: Site, archived: bool, now: datetime) -> None:
    site.archived_at = now if archived else None


def reset_link_for_member(actor_id: int, org: Organization, member: Membership, now: datetime, lifetime: timedelta):
    """An owner's reset link for a member who cannot get mail. Only for people whose every membership is in this
    organization and below owner: a link for someone who also belongs elsewhere would let this owner into another
    business's account."""
    if member.user_id == actor_id:
        raise accounts.ResetRefused("Change your own password from your account page.")
    if member.role_enum == Role.OWNER:
        raise accounts.ResetRefused("An owner resets their password themselves, with the link we mail them.")
    elsewhere = db.session.scalar(
        select(func.count()).where(Membership.user_id == member.user_id, Membership.org_id != org.id)
    )
    if elsewhere:
        raise accounts.ResetRefused(
            f"{member.user.name} also belongs to another organization, so only they can reset their password, "
            "with the link we mail them."
        )
    new = accounts.new_reset(member.user, by_id=actor_id, now=now, lifetime=lifetime)
    record(org.id, Event.RESET_LINK_MADE, actor_id=actor_id, subject_id=member.user_id, at=now)
    return new
