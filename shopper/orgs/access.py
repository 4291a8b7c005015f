"""The one way into an organization's data.

Every organization page lives under /o/<org_slug>/. A blueprint made by `org_blueprint` resolves the organization
and the signed-in user's access to it once per request, and answers 404, never 403, to anyone without access:
another organization's pages and rows do not exist for them. Views then load rows only through `scoped()` and
`get_or_404()`, which add the organization filter, so a guessed id from elsewhere is a 404 too.

Access comes from a membership, or through a consultancy: a member of a consultancy with an active client link
acts inside that client with the link's role (never more than their role in the consultancy). Revoking the link
ends that access on the next request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import wraps

from flask import Blueprint, abort, current_app, g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import Select, select, union
from sqlalchemy.orm import aliased, contains_eager, joinedload

from shopper.accounts.models import User
from shopper.errors import wants_json
from shopper.extensions import db
from shopper.orgs.models import ClientLink, LinkRole, Membership, Organization, Role


@dataclass(frozen=True)
class Access:
    """What the signed-in person may do in one organization, and through whom."""

    org: Organization
    user_id: int
    role_enum: Role
    #: the consultancy this access comes through; None for the organization's own members
    consultancy: Organization | None = None
    #: for a member: the consultancy whose invitation made the membership (see Membership.via_consultancy_id)
    joined_via_consultancy_id: int | None = None

    @property
    def org_id(self) -> int:
        return self.org.id

    @property
    def is_consultant(self) -> bool:
        return self.consultancy is not None


def org_blueprint(name: str, import_name: str, url_prefix: str = "") -> Blueprint:
    bp = Blueprint(name, import_name, url_prefix="/o/<org_slug>" + url_prefix)
    bp.url_value_preprocessor(_pull_org_slug)
    bp.before_request(_load_access)
    bp.app_url_defaults(_push_org_slug)
    return bp


def _pull_org_slug(endpoint, values) -> None:
    if values is not None:
        g.org_slug = values.pop("org_slug", None)


def _push_org_slug(endpoint, values) -> None:
    if "org_slug" in values or "org" not in g:
        return
    if current_app.url_map.is_endpoint_expecting(endpoint, "org_slug"):
        values["org_slug"] = g.org.slug


def _load_access():
    if not current_user.is_authenticated:
        if wants_json():  # the phone's sync keeps its queue and asks the person to sign in again
            abort(401)
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    access = access_for(current_user.id, g.org_slug)
    if access is None:
        abort(404)
    g.org = access.org
    g.access = access
    return None


def access_for(user_id: int, org_slug: str | None) -> Access | None:
    """The user's access to the organization called `org_slug`: their own membership first, else the best role an
    active client link of one of their consultancies grants. None means: this organization does not exist for them."""
    if not org_slug:
        return None
    membership = db.session.scalar(
        select(Membership)
        .join(Membership.org)
        .where(Organization.slug == org_slug, Membership.user_id == user_id)
        .options(contains_eager(Membership.org))
    )
    if membership is not None:
        return Access(membership.org, user_id, membership.role_enum, None, membership.via_consultancy_id)
    client = aliased(Organization)
    rows = db.session.execute(
        select(ClientLink, Membership.role)
        .join(client, client.id == ClientLink.client_id)
        .join(Membership, Membership.org_id == ClientLink.consultancy_id)
        .where(client.slug == org_slug, Membership.user_id == user_id, ClientLink.revoked_at.is_(None))
        .options(contains_eager(ClientLink.client.of_type(client)), joinedload(ClientLink.consultancy))
    ).all()
    best: Access | None = None
    for link, consultancy_role in rows:
        role = consultant_role(link.role, consultancy_role)
        if best is None or role.rank > best.role_enum.rank:
            best = Access(link.client, user_id, role, link.consultancy)
    return best


def consultant_role(link_role: str, consultancy_role: str) -> Role:
    """A consultancy member's role inside a client: the link's role, never more than their role in the consultancy."""
    return min(LinkRole(link_role).role, Role(consultancy_role), key=lambda role: role.rank)


def roles_in(user_id: int, client_ids: Iterable[int]) -> dict[int, Role]:
    """Client id -> the user's role there, as `access_for` decides it (their own membership first, else the best
    min(link role, consultancy role) over active links), for every client in two queries. A client they have no
    access to is absent."""
    ids = sorted(set(client_ids))
    if not ids:
        return {}
    own = {
        org_id: Role(role)
        for org_id, role in db.session.execute(
            select(Membership.org_id, Membership.role).where(Membership.user_id == user_id, Membership.org_id.in_(ids))
        )
    }
    roles = dict(own)
    rows = db.session.execute(
        select(ClientLink.client_id, ClientLink.role, Membership.role)
        .join(Membership, Membership.org_id == ClientLink.consultancy_id)
        .where(ClientLink.client_id.in_(ids), Membership.user_id == user_id, ClientLink.revoked_at.is_(None))
    )
    for client_id, link_role, consultancy_role in rows:
        if client_id in own:
            continue
        role = consultant_role(link_role, consultancy_role)
        if client_id not in roles or role.rank > roles[client_id].rank:
            roles[client_id] = role
    return roles


def people(org_id: int) -> Select:
    """(id, name) of everyone who may work in the organization: its members and the people of every consultancy
    with an active link to it. The choices for "who walks it" and "who is responsible"."""
    members = select(Membership.user_id.label("user_id")).where(Membership.org_id == org_id)
    consultants = (
        select(Membership.user_id.label("user_id"))
        .join(ClientLink, ClientLink.consultancy_id == Membership.org_id)
        .where(ClientLink.client_id == org_id, ClientLink.revoked_at.is_(None))
    )
    ids = union(members, consultants).subquery()
    return select(User.id, User.name).join(ids, ids.c.user_id == User.id).order_by(User.name, User.id)


def current_org() -> Organization:
    return g.org


def current_access() -> Access:
    return g.access


def current_role() -> Role:
    return g.access.role_enum


def require_role(role: Role):
    """Members below `role` get 403: they may know the page exists, they may not use it."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_role().at_least(role):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def members_only(view):
    """A page only the organization's own people use (its team's invitations, its consultancies, its brand): the
    people of a consultancy get 403 there."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_access().is_consultant:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def scoped(model) -> Select:
    """SELECT of `model` limited to the current organization."""
    return select(model).where(model.org_id == current_org().id)


def get_or_404(model, row_id, *criteria, options=()):
    row = db.session.scalar(scoped(model).where(model.id == row_id, *criteria).options(*options))
    if row is None:
        abort(404)
    return row
