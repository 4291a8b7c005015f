from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from shopper.database import reads_first
from shopper.extensions import db
from shopper.orgs.service import memberships_of

bp = Blueprint("home", __name__)


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return render_template("home/welcome.html")
    memberships = memberships_of(current_user)
    if len(memberships) == 1:
        return redirect(url_for("orgs.home", org_slug=memberships[0].org.slug))
    return redirect(url_for("orgs_public.choose"))


@bp.get("/healthz")
def healthz():
    """Answers while a report renders or the phones autosave: it reads, and never waits for the write lock."""
    reads_first()
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok")
