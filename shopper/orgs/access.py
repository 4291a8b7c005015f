"""The one way into an organization's data.

Every organization page lives under /o/<org_slug>/. A blueprint made by `org_blueprint` resolves the organization
and the signed-in user's access to it once per request, and answers 404, never 403, to anyone without access:
another organization's pages and rows do not exist for them. Views then load rows only through `scoped()` and
`get_or_404()`, which add the organization filter, so a guessed id from elsewhere is a 404 too. A model may narrow
that filter with its own `visible_to(access)` rule (who sees which audit or action, by role), which both apply too.
A child row (a photo of an audit, a share link, a client link of the consultancy) is loaded with
`get_or_404(Model, id, parent=row)`: only when it belongs to that parent, already loaded through this door.

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
from sqlalchemy import ColumnElement, Select, and_, bindparam, select, union
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import aliased, contains_eager, joinedload

from shopper.accounts import sessions
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
        if g.org_slug:
            sessions.load_with(_signed_in_with_membership, {"org_slug": g.org_slug}, _receive_membership)


#: the user loader's query with the person's own membership of the organization in the URL (None without one)
_signed_in_with_membership = (
    sessions.signed_in_query()
    .add_columns(Membership)
    .outerjoin(Organization, Organization.slug == bindparam("org_slug"))
    .outerjoin(Membership, and_(Membership.org_id == Organization.id, Membership.user_id == User.id))
    .options(contains_eager(Membership.org))
)


def _receive_membership(row) -> None:
    if row is not None:
        g._own_membership = (row[0].id, g.org_slug, row[1])


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
    preloaded = g.pop("_own_membership", None)  # read with the signed-in user by the user loader: used once
    if preloaded is not None and preloaded[:2] == (user_id, org_slug):
        membership = preloaded[2]
    else:
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


def may_see_all_audits() -> bool:
    """Owners and managers see every audit of the organization; anyone else only the audits they walk."""
    return current_role().at_least(Role.MANAGER)


def visible(access: Access, model) -> Select:
    """SELECT of the rows of `model` that `access` may see: the organization's rows, narrowed by the model's own
    `visible_to(access)` criterion where it has one."""
    query = select(model).where(model.org_id == access.org_id)
    rule = getattr(model, "visible_to", None)
    return query if rule is None else query.where(rule(access))


def scoped(model) -> Select:
    """SELECT of `model` limited to what the signed-in person may see in the current organization."""
    return visible(current_access(), model)


def get_or_404(model, row_id, *criteria, parent=None, via=None, among: Select | None = None, options=None):
    """The row of `model` with id `row_id` (and `criteria`), else 404.

    By default, among the rows `scoped(model)` selects. With `parent` (a row already loaded through this door),
    among the rows of `model` that belong to it: the foreign key from `model` to the parent's table decides, or,
    where there are several (a client link names two organizations), the relationship `via` names, e.g.
    `via=ClientLink.consultancy`. With `among`, in a SELECT of `model` made by the query function that owns such a
    rule (the checklists an organization may look at, its consultancies' included). The row comes with what the
    model's `loaded_with()` names (an audit with its checklist version), or with the loader `options` given instead
    (the phone's writes take the version's key only). Aborts with 404, as for any row of another organization."""
    if parent is not None:
        query = select(model).where(_belongs_to(model, parent, via))
    else:
        query = scoped(model) if among is None else among
    if options is None:
        options = getattr(model, "loaded_with", tuple)()
    row = db.session.scalar(query.where(model.id == row_id, *criteria).options(*options))
    if row is None:
        abort(404)
    return row


def _belongs_to(model, parent, via) -> ColumnElement[bool]:
    """model.<foreign key> == the parent's key, for the one foreign key from `model` to the parent's table (or
    `via`'s)."""
    mapper = sa_inspect(type(parent))
    if via is not None:
        pairs = via.property.local_remote_pairs
    else:
        pairs = [(fk.parent, fk.column) for fk in model.__table__.foreign_keys if fk.column.table is mapper.local_table]
    if len(pairs) != 1:
        raise TypeError(f"{model.__name__} has {len(pairs)} keys to {type(parent).__name__}: name one with via=")
    ((local, remote),) = pairs
    return local == getattr(parent, mapper.get_property_by_column(remote).key)
