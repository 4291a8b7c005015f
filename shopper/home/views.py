from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy.exc import SQLAlchemyError

from shopper.actions.queries import last_improvement
from shopper.audits.queries import audits_of
from shopper.database import ping, reads_first
from shopper.extensions import db
from shopper.orgs.access import current_access, current_org, scoped
from shopper.orgs.models import Site
from shopper.orgs.service import memberships_of
from shopper.orgs.views import org_bp

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return render_template("home/welcome.html")
    memberships = memberships_of(current_user)
    if len(memberships) == 1:
        return redirect(url_for("orgs.home", org_slug=memberships[0].org.slug))
    return redirect(url_for("orgs_public.choose"))


@org_bp.get("/", endpoint="home")
def org_home():
    """An organization's home (the endpoint `orgs.home`): its sites and the auditor's audits. It lives here, above
    orgs and audits, so that orgs need not import audits."""
    if current_org().is_consultancy:
        return redirect(url_for("portfolio.index"))
    sites = db.session.scalars(scoped(Site).where(Site.archived_at.is_(None)).order_by(Site.name)).all()
    return render_template(
        "orgs/home.html",
        sites=sites,
        my_audits=audits_of(current_org().id, current_user.id),
        improved=last_improvement(current_access()),
    )


@bp.get("/healthz")
def healthz():
    """Answers while a report renders or the phones autosave: it reads, and never waits for the write lock."""
    reads_first()
    try:
        ping()
    except SQLAlchemyError:
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
