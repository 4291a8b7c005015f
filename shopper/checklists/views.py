"""Checklists: the organization's list and the built-in library, import and export, versions and publishing."""

from __future__ import annotations

import re

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField, TextAreaField
from wtforms.validators import Length

from shopper.checklists import io, service, sharing
from shopper.checklists.builtin import builtin_checklists, get_builtin
from shopper.checklists.forms import SharingForm
from shopper.checklists.models import Checklist
from shopper.checklists.schema import DefinitionError
from shopper.extensions import db
from shopper.forms import ConfirmForm, Form, NameField, strip
from shopper.orgs.access import current_org, get_or_404, org_blueprint, require_role, scoped
from shopper.orgs.models import Role
from shopper.timeutil import utcnow

bp = org_blueprint("checklists", __name__, "/checklists")


class NewChecklistForm(Form):
    title = NameField("Title", max_length=200)
    description = TextAreaField("What is this journey for? (optional)", validators=[Length(max=2000)], filters=[strip])


class ImportForm(Form):
    file = FileField("Checklist file (.json or .csv, at most 2 MB)", validators=[FileRequired("Choose a file.")])
    title = StringField(
        "Title (needed for a CSV file; replaces the title of a JSON file)",
        validators=[Length(max=200)],
        filters=[strip],
    )


@bp.get("/")
def index():
    checklists = db.session.scalars(
        scoped(Checklist).order_by(Checklist.archived_at.is_not(None), Checklist.title)
    ).all()
    shared = db.session.scalars(sharing.shared_with(current_org().id)).all()
    return render_template(
        "checklists/index.html",
        checklists=checklists,
        shared=shared,
        audiences=sharing.audiences(current_org()) if current_org().is_consultancy else {},
        library=builtin_checklists(),
        confirm=ConfirmForm(),
    )


@bp.get("/library/<slug>")
def library_item(slug: str):
    try:
        builtin = get_builtin(slug)
    except KeyError:
        abort(404)
    return render_template("checklists/library_item.html", builtin=builtin, confirm=ConfirmForm())


@bp.post("/library/<slug>/copy")
@require_role(Role.MANAGER)
def copy_library_item(slug: str):
    try:
        get_builtin(slug)
    except KeyError:
        abort(404)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    checklist = service.copy_from_library(current_org().id, current_user.id, slug, utcnow())
    flash(f"{checklist.title!r} is now yours: run it as it is, or edit it to fit your business.", "success")
    return redirect(url_for(".detail", checklist_id=checklist.id))


@bp.route("/new", methods=["GET", "POST"])
@require_role(Role.MANAGER)
def new():
    form = NewChecklistForm()
    if form.validate_on_submit():
        checklist = service.create_checklist(
            current_org().id, current_user.id, title=form.title.data, description=form.description.data or ""
        )
        flash("Checklist created. Add the touchpoints of the journey, then publish it.", "success")
        return redirect(url_for("checklist_editor.edit", checklist_id=checklist.id))
    return render_template("checklists/new.html", form=form), 400 if form.errors else 200


@bp.route("/import", methods=["GET", "POST"])
@require_role(Role.MANAGER)
def import_file():
    form = ImportForm()
    problems: list = []
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.stream.read(io.MAX_IMPORT_BYTES + 1)
        try:
            checklist = service.import_checklist(
                current_org().id,
                current_user.id,
                data=data,
                filename=upload.filename or "",
                title=form.title.data,
                now=utcnow(),
            )
        except DefinitionError as e:
            problems = e.problems
        else:
            flash(f"Imported {checklist.title!r} as version 1.", "success")
            return redirect(url_for(".detail", checklist_id=checklist.id))
    status = 400 if (form.errors or problems) else 200
    return render_template("checklists/import.html", form=form, problems=problems), status


def _visible_or_404(checklist_id: int) -> Checklist:
    """The organization's own checklist, or a consultancy's checklist shared with it (read-only)."""
    return get_or_404(Checklist, checklist_id, among=sharing.visible_to(current_org().id))


def _detail_page(checklist: Checklist, sharing_form: SharingForm | None = None, status: int = 200, **context):
    if checklist.org_id != current_org().id:
        return render_template(
            "checklists/shared.html", checklist=checklist, consultancy=checklist.org, confirm=ConfirmForm()
        ), status
    if current_org().is_consultancy and sharing_form is None:
        sharing_form = SharingForm.for_checklist(checklist, sharing.active_clients(current_org().id))
    return render_template(
        "checklists/detail.html", checklist=checklist, confirm=ConfirmForm(), sharing_form=sharing_form, **context
    ), status


@bp.get("/<int:checklist_id>")
def detail(checklist_id: int):
    return _detail_page(_visible_or_404(checklist_id))


@bp.post("/<int:checklist_id>/sharing")
@require_role(Role.MANAGER)
def share(checklist_id: int):
    if not current_org().is_consultancy:
        abort(404)  # only a consultancy has clients to share with
    checklist = get_or_404(Checklist, checklist_id)
    clients = sharing.active_clients(current_org().id)
    form = SharingForm.for_checklist(checklist, clients, formdata=True)
    if not form.validate_on_submit():
        return _detail_page(checklist, form, 400)
    try:
        sharing.set_sharing(checklist, current_org(), form.shared_with.data, form.clients.data)
    except sharing.SharingError as e:
        form.shared_with.errors.append(str(e))
        return _detail_page(get_or_404(Checklist, checklist_id), form, 400)
    flash(f"{checklist.title!r} is {sharing.audiences(current_org())[checklist.id]}.", "success")
    return redirect(url_for(".detail", checklist_id=checklist_id))


@bp.post("/<int:checklist_id>/publish")
@require_role(Role.MANAGER)
def publish(checklist_id: int):
    checklist = get_or_404(Checklist, checklist_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        version = service.publish(checklist, current_user.id, utcnow())
    except DefinitionError as e:
        return _detail_page(get_or_404(Checklist, checklist_id), status=400, problems=e.problems)
    except service.NothingToPublish as e:
        flash(str(e), "info")
        return redirect(url_for(".detail", checklist_id=checklist_id))
    flash(
        f"Version {version.number} published: new audits use it; audits already started keep theirs.",
        "success",
    )
    return redirect(url_for(".detail", checklist_id=checklist_id))


@bp.post("/<int:checklist_id>/copy")
@require_role(Role.MANAGER)
def copy(checklist_id: int):
    source = _visible_or_404(checklist_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    checklist = service.copy_checklist(source, current_org().id, current_user.id)
    flash("Copy made: edit it freely, the original is untouched.", "success")
    return redirect(url_for(".detail", checklist_id=checklist.id))


@bp.post("/<int:checklist_id>/archive")
@require_role(Role.MANAGER)
def archive(checklist_id: int):
    checklist = get_or_404(Checklist, checklist_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    archived = request.form.get("archive", "1") == "1"
    service.set_archived(checklist, archived, utcnow())
    flash(f"{checklist.title!r} {'archived' if archived else 'restored'}.", "success")
    return redirect(url_for(".index"))


def _download_name(title: str, number: int, extension: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9]+", "-", title).strip("-").lower()[:60] or "checklist"
    return f"{stem}-v{number}.{extension}"


@bp.get("/<int:checklist_id>/versions/<int:number>.<any(json, csv):fmt>")
def export(checklist_id: int, number: int, fmt: str):
    checklist = _visible_or_404(checklist_id)
    version = service.version_by_number(checklist, number)
    if version is None or (checklist.org_id != current_org().id and version.id != checklist.current_version_id):
        abort(404)  # a client sees only the consultancy's current version
    if fmt == "json":
        body, mimetype = io.export_json(version.definition), "application/json"
    else:
        body, mimetype = io.export_csv(version.definition), "text/csv"
    name = _download_name(checklist.title, number, fmt)
    return Response(
        body,
        mimetype=f"{mimetype}; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
