"""The audit pages: start, list, the walk on a phone, review and submit, reopen, photos."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import segno
from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from shopper.audits import service
from shopper.audits.forms import AuditFilterForm, ReopenForm, StartAuditForm, StartLinkForm, SubmitForm
from shopper.audits.models import Audit, Photo
from shopper.audits.progress import walk_progress
from shopper.audits.queries import audits_of, events_of, filtered, known_to, with_list_columns
from shopper.audits.state import audit_state
from shopper.checklists.models import Checklist
from shopper.checklists.sharing import visible_to
from shopper.events import report_changed
from shopper.extensions import db
from shopper.media import serve
from shopper.media.keys import photo_key
from shopper.orgs.access import (
    Access,
    current_access,
    current_org,
    get_or_404,
    may_see_all_audits,
    org_blueprint,
    people,
    require_role,
    scoped,
)
from shopper.orgs.models import Role, Site
from shopper.timeutil import utcnow

bp = org_blueprint("audits", __name__, "/audits")

#: What the packages above audits add to an audit's overview (its actions, its report's share links), each a
#: function (audit, access) -> template values, registered with `overview_part`: the page gets its data from its
#: view, and audits imports none of those packages.
_overview_parts: list[Callable[[Audit, Access], dict]] = []


def overview_part(part: Callable[[Audit, Access], dict]) -> Callable[[Audit, Access], dict]:
    _overview_parts.append(part)
    return part


def _runnable_checklists() -> list[Checklist]:
    """The organization's published checklists and those its consultancies share with it."""
    return db.session.scalars(
        visible_to(current_org().id)
        .where(Checklist.current_version_id.is_not(None), Checklist.archived_at.is_(None))
        .order_by(Checklist.title)
    ).all()


def _live_sites() -> list[Site]:
    return db.session.scalars(scoped(Site).where(Site.archived_at.is_(None)).order_by(Site.name)).all()


@bp.get("/")
def index():
    if not may_see_all_audits():
        return render_template("audits/mine.html", audits=audits_of(current_org().id, current_user.id))
    sites = db.session.scalars(scoped(Site).order_by(Site.name)).all()
    checklists = db.session.scalars(known_to(current_org().id).order_by(Checklist.title)).all()
    members = db.session.execute(people(current_org().id)).all()
    filters, problems = AuditFilterForm(
        request.args,
        sites={s.id for s in sites},
        checklists={c.id for c in checklists},
        auditors={m.id for m in members},
    ).read()
    for problem in problems:
        flash(problem, "error")
    audits = db.session.scalars(with_list_columns(filtered(scoped(Audit), filters))).all()
    return render_template(
        "audits/index.html", audits=audits, filters=filters, sites=sites, checklists=checklists, members=members
    )


@bp.route("/new", methods=["GET", "POST"])
def new():
    form = StartAuditForm()
    checklists, sites = _runnable_checklists(), _live_sites()
    form.checklist_id.choices = [SelectChoice(c.id, c.title) for c in checklists]
    form.site_id.choices = [SelectChoice(s.id, s.name) for s in sites]
    prepares = may_see_all_audits()
    if prepares:
        form.auditor_id.choices = [SelectChoice(p.id, p.name) for p in db.session.execute(people(current_org().id))]
    else:
        form.auditor_id.choices = [SelectChoice(current_user.id, current_user.name)]
    if request.method == "GET":
        form.auditor_id.data = current_user.id
        link = StartLinkForm(request.args, checklists={c.id for c in checklists})
        for problem in link.problems():
            flash(problem, "error")
        if link.checklist.data is not None:
            form.checklist_id.data = link.checklist.data
    if form.validate_on_submit():
        try:
            audit = service.start_audit(
                org_id=current_org().id,
                checklist=next(c for c in checklists if c.id == form.checklist_id.data),
                site=next(s for s in sites if s.id == form.site_id.data),
                auditor_id=form.auditor_id.data,
                created_by_id=current_user.id,
                scenario=form.scenario.data or "",
                due_on=form.due_on.data,
                now=utcnow(),
            )
        except service.AuditError as e:
            flash(str(e), "error")
        else:
            if audit.auditor_id == current_user.id:
                return redirect(
                    url_for(".walk", audit_id=audit.id, touchpoint_key=audit.definition["touchpoints"][0]["key"])
                )
            flash("Audit prepared. Share the link or QR code below with the auditor.", "success")
            return redirect(url_for(".overview", audit_id=audit.id))
    status = 400 if form.errors or request.method == "POST" else 200
    return render_template(
        "audits/new.html", form=form, prepares=prepares, has_checklists=bool(checklists), has_sites=bool(sites)
    ), status


def _progress(audit: Audit):
    return walk_progress(
        audit.definition,
        service.answer_data(audit),
        service.photo_counts(audit),
        {v.touchpoint_key for v in audit.visits if v.effort is not None or v.promise_kept is not None},
    )


@bp.get("/<int:audit_id>")
def overview(audit_id: int):
    audit = get_or_404(Audit, audit_id)
    service.open_audit(audit, current_user.id, utcnow())
    events = events_of(audit)
    link = url_for(".overview", audit_id=audit.id, _external=True)
    qr = None
    if not audit.is_submitted and may_see_all_audits():
        qr = segno.make(link, error="m").svg_inline(scale=4, title="Open this audit")
    return render_template(
        "audits/overview.html",
        audit=audit,
        progress=_progress(audit),
        events=events,
        link=link,
        qr=qr,
        reopen_form=ReopenForm(),
        can_reopen=audit.is_submitted and may_see_all_audits(),
        **{name: value for part in _overview_parts for name, value in part(audit, current_access()).items()},
    )


@bp.get("/<int:audit_id>/walk/<touchpoint_key>")
def walk(audit_id: int, touchpoint_key: str):
    audit = get_or_404(Audit, audit_id)
    touchpoints = audit.definition["touchpoints"]
    keys = [tp["key"] for tp in touchpoints]
    if touchpoint_key not in keys:
        abort(404)
    if audit.is_submitted:
        return redirect(url_for(".overview", audit_id=audit.id))
    service.open_audit(audit, current_user.id, utcnow())
    if request.headers.get("Purpose") != "prefetch":  # the service worker keeping the audit offline is not a visit
        service.remember_position(audit, touchpoint_key)
    position = keys.index(touchpoint_key)
    return render_template(
        "audits/walk.html",
        audit=audit,
        touchpoint=touchpoints[position],
        position=position,
        previous_key=keys[position - 1] if position > 0 else None,
        next_key=keys[position + 1] if position + 1 < len(keys) else None,
        progress=_progress(audit),
        state=audit_state(audit),
    )


@bp.get("/<int:audit_id>/review")
def review(audit_id: int):
    audit = get_or_404(Audit, audit_id)
    return render_template(
        "audits/review.html",
        audit=audit,
        missing=service.missing(audit),
        progress=_progress(audit),
        form=SubmitForm(op_id=uuid.uuid4().hex),
        state=audit_state(audit),
    )


@bp.post("/<int:audit_id>/submit")
def submit(audit_id: int):
    audit = get_or_404(Audit, audit_id)
    form = SubmitForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        service.submit(audit, current_user.id, form.op_id.data, utcnow())
    except service.AuditError as e:
        flash(str(e), "error")
        return render_template(
            "audits/review.html",
            audit=audit,
            missing=service.missing(audit),
            progress=_progress(audit),
            form=form,
            state=audit_state(audit),
        ), e.status
    report_changed.send(audit_ids=[audit.id])
    flash("Submitted. Thank you for walking in your customers' shoes.", "success")
    return redirect(url_for(".overview", audit_id=audit.id))


@bp.post("/<int:audit_id>/reopen")
@require_role(Role.MANAGER)
def reopen(audit_id: int):
    audit = get_or_404(Audit, audit_id)
    form = ReopenForm()
    if form.validate_on_submit():
        try:
            service.reopen(audit, current_user.id, form.reason.data, utcnow())
        except service.AuditError as e:
            flash(str(e), "error")
            return redirect(url_for(".overview", audit_id=audit.id))
        flash("Audit reopened: the auditor can change it again.", "success")
    else:
        flash("; ".join(e for errors in form.errors.values() for e in errors), "error")
    return redirect(url_for(".overview", audit_id=audit.id))


@bp.get("/<int:audit_id>/offline.json")
def offline_manifest(audit_id: int):
    """Every URL the walk needs with no network: the service worker fetches and keeps them."""
    audit = get_or_404(Audit, audit_id)
    urls = [
        url_for("orgs.home"),
        url_for(".overview", audit_id=audit.id),
        url_for(".review", audit_id=audit.id),
        url_for("audits_api.state", audit_id=audit.id),
        *(url_for(".walk", audit_id=audit.id, touchpoint_key=tp["key"]) for tp in audit.definition["touchpoints"]),
        *(url_for(".photo_file", audit_id=audit.id, photo_id=p.id, rendition="thumb") for p in audit.photos),
    ]
    return jsonify(audit=audit.id, urls=urls)


@bp.get("/<int:audit_id>/photos/<photo_id>/<any(display, print, thumb):rendition>.jpg")
def photo_file(audit_id: int, photo_id: str, rendition: str):
    """Photos are served only here, to members who may see the audit, never from /static."""
    audit = get_or_404(Audit, audit_id)
    photo = get_or_404(Photo, photo_id.lower(), parent=audit)
    return serve(photo_key(audit, photo.id, rendition), etag=f"{photo.id}-{rendition}")
