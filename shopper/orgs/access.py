"""The one way into an organization's data.

Every organization page lives under /o/<org_slug>/. A blueprint made by `org_blueprint` resolves the organization
and the signed-in user's membership once per request, and answers 404, never 403, to anyone who is not a member:
another organization's pages and rows do not exist for them. Views then load rows only through `scoped()` and
`get_or_404()`, which add the organization filter, so a guessed id from elsewhere is a 404 too.
"""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, current_app, g, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import Select, select

from shopper.errors import wants_json
from shopper.extensions import db
from shopper.orgs.models import Membership, Organization, Role


def org_blueprint(name: str, import_name: str, url_prefix: str = "") -> Blueprint:
    bp = Blueprint(name, import_name, url_prefix="/o/<org_slug>" + url_prefix)
    bp.url_value_preprocessor(_pull_org_slug)
    bp.before_request(_load_membership)
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


def _load_membership():
    if not current_user.is_authenticated:
        if wants_json():  # the phone's sync keeps its queue and asks the person to sign in again
            abort(401)
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))
    membership = membership_for(current_user.id, g.org_slug)
    if membership is None:
        abort(404)
    g.org = membership.org
    g.membership = membership
    return None


def membership_for(user_id: int, org_slug: str | None) -> Membership | None:
    if not org_slug:
        return None
    return db.session.scalar(
        select(Membership).join(Membership.org).where(Organization.slug == org_slug, Membership.user_id == user_id)
    )


def current_org() -> Organization:
    return g.org


def current_membership() -> Membership:
    return g.membership


def current_role() -> Role:
    return g.membership.role_enum


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


def scoped(model) -> Select:
    """SELECT of `model` limited to the current organization."""
    return select(model).where(model.org_id == current_org().id)


def get_or_404(model, row_id, *criteria, options=()):
    row = db.session.scalar(scoped(model).where(model.id == row_id, *criteria).options(*options))
    if row is None:
        abort(404)
    return row
