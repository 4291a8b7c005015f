"""Action pages: plan actions from an audit's findings, the lists, one action with its history, walking again,
and then-and-now against the previous walk."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms import SelectChoice

from shopper.actions import queries, reaudit, service
from shopper.actions.forms import ActionFilterForm, ActionForm, AgainForm, AssignFields, StatusForm, status_choices
from shopper.actions.models import Action
from shopper.actions.notify import notify_assignee
from shopper.actions.rules import statuses_for
from shopper.audits.models import Audit, Finding
from shopper.audits.views import overview_part
from shopper.database import slow_before_writing
from shopper.events import report_changed
from shopper.extensions import db
from shopper.media import get_storage, serve
from shopper.media.ingest import ImageRejected
from shopper.media.keys import proof_key
from shopper.orgs.access import (
    Access,
    current_access,
    current_org,
    current_role,
    get_or_404,
    may_see_all_audits,
    org_blueprint,
    people,
    scoped,
)
from shopper.orgs.models import Role, Site
from shopper.timeutil import utcnow

bp = org_blueprint("actions", __name__, "/actions")


def _may_manage() -> bool:
    return current_role().at_least(Role.MANAGER)


def _member_choices(blank: str | None = "Nobody yet") -> list[SelectChoice]:
    choices = [SelectChoice("", blank)] if blank else []
    return choices + [SelectChoice(row.id, row.name) for row in db.session.execute(people(current_org().id))]


def _input(form: AssignFields, title: str = "", detail: str = "") -> service.ActionInput:
    return service.ActionInput(
        title=title,
        detail=detail,
        assignee_id=form.assignee_id.data,
        due_on=form.due_on.data or "",
        priority=form.priority.data or "normal",
    )


def _tell_assignee(actions: list[Action]) -> None:
    """Mail the person responsible, when mail is on, and say so on screen."""
    if notify_assignee(actions, current_org(), current_user.name):
        flash(f"We are letting {actions[0].assignee.name} know by email.", "success")


# Lists ----------------------------------------------------------------------------------------------------------


@bp.get("/")
def index():
    members = db.session.execute(people(current_org().id)).all()
    sites = db.session.scalars(scoped(Site).order_by(Site.name)).all()
    filters, problems = ActionFilterForm(
        request.args, assignees={m.id for m in members}, sites={s.id for s in sites}
    ).read()
    today = utcnow().date()
    query = queries.filtered(scoped(Action), filters, today)
    total = db.session.scalar(queries.count_of(query))
    last = queries.last_page(total)
    if filters.page > last:
        problems.append(f"Page {filters.page} does not exist: showing the last page.")
        filters = replace(filters, page=last)
    for problem in problems:
        flash(problem, "error")
    rows = db.session.scalars(queries.page_of(queries.ordered(queries.with_list_columns(query)), filters.page)).all()
    return render_template(
        "actions/index.html",
        actions=rows[: queries.PAGE_SIZE],
        more=len(rows) > queries.PAGE_SIZE,
        total=total,
        filters=filters,
        views=queries.VIEWS,
        members=members,
        sites=sites,
        today=today,
        page_url=lambda page: url_for(".index", **filters.as_args(page)),
    )


@bp.get("/mine")
def mine():
    now = utcnow()
    rows = db.session.scalars(queries.my_actions(scoped(Action), current_user.id, now - timedelta(days=60))).all()
    return render_template("actions/mine.html", actions=rows, today=now.date())


# One action -----------------------------------------------------------------------------------------------------


def _detail_page(action: Action, status_form: StatusForm | None = None, code: int = 200):
    is_assignee = action.assignee_id == current_user.id
    statuses = [s for s in statuses_for(current_role(), is_assignee) if s != action.status_enum or s.closed]
    form = status_form or StatusForm()
    form.status.choices = status_choices(statuses)
    audit = action.audit
    finding = queries.finding_of(action)
    return render_template(
        "actions/detail.html",
        action=action,
        audit=audit,
        finding=finding,
        events=db.session.scalars(queries.history(action.id)).all(),
        status_form=form if statuses else None,
        may_edit=_may_manage(),
        may_open_audit=may_see_all_audits() or audit.auditor_id == current_user.id,
        today=utcnow().date(),
    ), code


@bp.get("/<int:action_id>")
def detail(action_id: int):
    return _detail_page(get_or_404(Action, action_id))


@bp.route("/<int:action_id>/edit", methods=["GET", "POST"])
def edit(action_id: int):
    action = get_or_404(Action, action_id)
    if not _may_manage():
        abort(403)
    form = ActionForm(obj=action)
    form.assignee_id.choices = _member_choices()
    if request.method == "GET":
        form.due_on.data = action.due_on.isoformat() if action.due_on else ""
        return render_template("actions/edit.html", action=action, form=form)
    if not form.validate_on_submit():
        return render_template("actions/edit.html", action=action, form=form), 400
    try:
        reassigned = service.edit_action(
            action, current_access(), _input(form, form.title.data, form.detail.data), utcnow()
        )
    except service.ActionError as e:
        flash(str(e), "error")
        return render_template("actions/edit.html", action=action, form=form), e.status
    report_changed.send(audit_ids=[action.audit_id])
    flash("Action saved.", "success")
    if reassigned:
        _tell_assignee([action])
    return redirect(url_for(".detail", action_id=action.id))


@bp.post("/<int:action_id>/status")
@slow_before_writing
def status(action_id: int):
    action = get_or_404(Action, action_id)
    form = StatusForm()
    if not form.validate_on_submit():
        return _detail_page(action, form, 400)
    upload = form.photo.data
    photo = upload.read() if upload and upload.filename else None
    try:
        service.change_status(
            action,
            current_access(),
            form.status.data or "",
            form.note.data or "",
            utcnow(),
            photo=photo,
            storage=get_storage(),
        )
    except (service.ActionError, ImageRejected) as e:
        flash(str(e), "error")
        return _detail_page(action, form, getattr(e, "status", 422))
    report_changed.send(audit_ids=[action.audit_id])
    flash(f"Marked {action.status_enum.label.lower()}.", "success")
    return redirect(url_for(".detail", action_id=action.id))


@bp.get("/<int:action_id>/proof/<any(display, thumb):rendition>.jpg")
def proof_photo(action_id: int, rendition: str):
    """The "after" photo, only to members of the organization, never from /static."""
    action = get_or_404(Action, action_id)
    if not action.proof_photo_id:
        abort(404)
    return serve(proof_key(action, action.proof_photo_id, rendition), etag=f"{action.proof_photo_id}-{rendition}")


# From an audit's findings ---------------------------------------------------------------------------------------


def _plan_page(audit: Audit, forms: dict[int, ActionForm] | None = None, bulk: AssignFields | None = None, code=200):
    existing = {
        a.item_key: a
        for a in db.session.scalars(queries.with_list_columns(scoped(Action).where(Action.audit_id == audit.id)))
    }
    choices = _member_choices()
    forms = dict(forms or {})
    reopened = set(forms)
    for finding in audit.findings:
        if finding.item_key in existing or finding.id in forms:
            continue
        first = service.suggested(finding)
        forms[finding.id] = ActionForm(prefix=f"f{finding.id}", formdata=None, title=first.title, detail=first.detail)
    for form in forms.values():
        form.assignee_id.choices = choices
    bulk = bulk or AssignFields(prefix="all", formdata=None)
    bulk.assignee_id.choices = choices
    return render_template(
        "actions/plan.html",
        audit=audit,
        existing=existing,
        forms=forms,
        reopened=reopened,
        bulk=bulk,
        today=utcnow().date(),
    ), code


def _plannable_audit(audit_id: int) -> Audit:
    audit = get_or_404(Audit, audit_id)
    if not _may_manage():
        abort(403)
    return audit


@bp.get("/audits/<int:audit_id>")
def plan(audit_id: int):
    audit = _plannable_audit(audit_id)
    if not audit.is_submitted:
        flash("Findings become actions once the audit is submitted.", "error")
        return redirect(url_for("audits.overview", audit_id=audit.id))
    return _plan_page(audit)


@bp.post("/audits/<int:audit_id>/findings/<int:finding_id>")
def create(audit_id: int, finding_id: int):
    audit = _plannable_audit(audit_id)
    finding = get_or_404(Finding, finding_id, parent=audit)
    form = ActionForm(prefix=f"f{finding.id}")
    form.assignee_id.choices = _member_choices()
    if not form.validate_on_submit():
        return _plan_page(audit, {finding.id: form}, code=400)
    try:
        action = service.create_action(
            audit, finding, current_access(), _input(form, form.title.data, form.detail.data), utcnow()
        )
    except service.ActionError as e:
        flash(str(e), "error")
        return _plan_page(audit, {finding.id: form}, code=e.status)
    report_changed.send(audit_ids=[audit.id])
    flash(f"Action created: {action.title}", "success")
    if action.assignee_id:
        _tell_assignee([action])
    return redirect(url_for(".plan", audit_id=audit.id))


@bp.post("/audits/<int:audit_id>/all")
def create_all(audit_id: int):
    audit = _plannable_audit(audit_id)
    form = AssignFields(prefix="all")
    form.assignee_id.choices = _member_choices()
    if not form.validate_on_submit():
        return _plan_page(audit, bulk=form, code=400)
    try:
        created = service.create_all(audit, current_access(), _input(form), utcnow())
    except service.ActionError as e:
        flash(str(e), "error")
        return _plan_page(audit, bulk=form, code=e.status)
    report_changed.send(audit_ids=[audit.id])
    flash(f"{len(created)} action{'s' if len(created) != 1 else ''} created.", "success")
    if created and created[0].assignee_id:
        _tell_assignee(created)
    return redirect(url_for(".plan", audit_id=audit.id))


@overview_part
def _overview_actions(audit: Audit, access: Access) -> dict:
    """A submitted audit's overview: its findings' actions, walking it again, then and now."""
    return {"actions_block": queries.audit_block(audit, access) if audit.is_submitted else None}


# Walking again, and then and now --------------------------------------------------------------------------------


@bp.post("/audits/<int:audit_id>/again")
def again(audit_id: int):
    audit = get_or_404(Audit, audit_id)
    form = AgainForm()
    if not form.validate_on_submit():
        abort(400)
    auditor_id = form.auditor_id.data if form.auditor_id.data is not None else current_user.id
    try:
        new = reaudit.start_reaudit(audit, current_access(), auditor_id, utcnow())
    except service.ActionError as e:
        flash(str(e), "error")
        return redirect(url_for("audits.overview", audit_id=audit.id))
    if new.auditor_id == current_user.id:
        flash("A new walk of the same journey: compare it with the last one once you submit it.", "success")
        return redirect(url_for("audits.walk", audit_id=new.id, touchpoint_key=new.definition["touchpoints"][0]["key"]))
    flash("A new walk of the same journey is prepared: share its link with the auditor.", "success")
    return redirect(url_for("audits.overview", audit_id=new.id))


@bp.get("/audits/<int:audit_id>/compare")
def compare(audit_id: int):
    audit = get_or_404(Audit, audit_id)
    found = reaudit.comparison_for(audit, None if may_see_all_audits() else current_user.id)
    previous, comparison = found if found else (None, None)
    plan = {}
    if previous is not None:
        shown = scoped(Action).where(Action.audit_id == previous.id)
        keys = set(db.session.scalars(shown.with_only_columns(Action.item_key)))
        plan = {key: line for key, line in service.action_plan(previous.id, utcnow().date()).items() if key in keys}
    return render_template("actions/compare.html", audit=audit, previous=previous, comparison=comparison, plan=plan)
