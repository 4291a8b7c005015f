"""The checklist editor (owners and managers): the touchpoints and items of a draft, and its preview."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for

from shopper.checklists import editor, service
from shopper.checklists.forms import (
    CHANNEL_LABELS,
    EditorForm,
    ItemForm,
    MoveForm,
    NewItemLinkForm,
    PreviewForm,
    SettingsForm,
    TouchpointForm,
)
from shopper.checklists.models import Checklist
from shopper.forms import ConfirmForm
from shopper.orgs.access import get_or_404, org_blueprint, require_role
from shopper.orgs.models import Role

bp = org_blueprint("checklist_editor", __name__, "/checklists")
managers_only = require_role(Role.MANAGER)


def _found(value: Any) -> Any:
    if value is None:
        abort(404)
    return value


def _anchor(edit: editor.Edit) -> str | None:
    if not edit.path:
        return None
    kind = "item" if ".items[" in edit.path else "tp"
    return f"{kind}-{editor.element_at(edit.definition, edit.path)['key']}"


def _saved(checklist: Checklist, edit: editor.Edit, message: str, unchanged: str | None = "Nothing changed."):
    if edit.definition != checklist.draft:
        service.save_draft(checklist, edit.definition)
        flash(message, "success")
    elif unchanged:
        flash(unchanged, "info")
    return redirect(url_for(".edit", checklist_id=checklist.id, _anchor=_anchor(edit)))


def _checked(form: EditorForm, change: Callable[[], editor.Edit]) -> editor.Edit | None:
    """The edit a valid form asks for, if it leaves no problem where it lands; else None, with the problems
    beside the form's fields."""
    if not form.validate_on_submit():
        return None
    try:
        edit = change()
    except editor.EditRefused as refused:
        form.add_refusal(refused)
        return None
    problems = editor.problems_for(edit.definition, edit.path)
    form.show_problems(problems, edit.path, edit.definition)
    return None if problems else edit


def _page(template: str, checklist: Checklist, form: EditorForm, **context: Any):
    status = 400 if form.errors else 200
    return render_template(f"checklists/editor/{template}", checklist=checklist, form=form, **context), status


def _edit_page(checklist: Checklist, status: int = 200):
    return render_template(
        "checklists/editor/edit.html",
        checklist=checklist,
        definition=checklist.draft,
        items=editor.items_by_key(checklist.draft),
        channels=CHANNEL_LABELS,
        confirm=ConfirmForm(),
    ), status


def _refused(checklist: Checklist, message: str, status: int):
    flash(message, "error")
    return _edit_page(checklist, status)


@bp.get("/<int:checklist_id>/edit")
@managers_only
def edit(checklist_id: int):
    return _edit_page(get_or_404(Checklist, checklist_id))


@bp.route("/<int:checklist_id>/settings", methods=["GET", "POST"])
@managers_only
def settings(checklist_id: int):
    checklist = get_or_404(Checklist, checklist_id)
    form = SettingsForm(data=SettingsForm.initial(checklist.draft))
    change = _checked(form, lambda: editor.update_settings(checklist.draft, **form.fields()))
    if change:
        return _saved(checklist, change, "Checklist settings saved.")
    return _page("settings.html", checklist, form)


# Touchpoints ------------------------------------------------------------------------------------------------


@bp.route("/<int:checklist_id>/touchpoints/new", methods=["GET", "POST"])
@managers_only
def new_touchpoint(checklist_id: int):
    checklist = get_or_404(Checklist, checklist_id)
    form = TouchpointForm()
    change = _checked(form, lambda: editor.add_touchpoint(checklist.draft, form.fields()))
    if change:
        return _saved(checklist, change, "Touchpoint added. Now add what the auditor checks there.")
    return _page("touchpoint_form.html", checklist, form, touchpoint=None)


@bp.route("/<int:checklist_id>/touchpoints/<key>", methods=["GET", "POST"])
@managers_only
def edit_touchpoint(checklist_id: int, key: str):
    checklist = get_or_404(Checklist, checklist_id)
    touchpoint = _found(editor.find_touchpoint(checklist.draft, key))
    form = TouchpointForm(data=TouchpointForm.initial(touchpoint))
    change = _checked(form, lambda: editor.update_touchpoint(checklist.draft, key, form.fields()))
    if change:
        return _saved(checklist, change, "Touchpoint saved.")
    return _page("touchpoint_form.html", checklist, form, touchpoint=touchpoint)


@bp.post("/<int:checklist_id>/touchpoints/<key>/move")
@managers_only
def move_touchpoint(checklist_id: int, key: str):
    checklist = get_or_404(Checklist, checklist_id)
    _found(editor.find_touchpoint(checklist.draft, key))
    return _move(checklist, lambda direction: editor.move_touchpoint(checklist.draft, key, direction))


@bp.post("/<int:checklist_id>/touchpoints/<key>/remove")
@managers_only
def remove_touchpoint(checklist_id: int, key: str):
    checklist = get_or_404(Checklist, checklist_id)
    touchpoint = _found(editor.find_touchpoint(checklist.draft, key))
    return _remove(checklist, lambda: editor.remove_touchpoint(checklist.draft, key), touchpoint["title"])


# Items ------------------------------------------------------------------------------------------------------


@bp.route("/<int:checklist_id>/touchpoints/<key>/items/new", methods=["GET", "POST"])
@managers_only
def new_item(checklist_id: int, key: str):
    checklist = get_or_404(Checklist, checklist_id)
    touchpoint = _found(editor.find_touchpoint(checklist.draft, key))
    link = NewItemLinkForm(request.args)
    problems = link.problems()
    if request.method == "GET":
        for problem in problems:
            flash(problem, "error")
    form = ItemForm(sources=editor.condition_sources(checklist.draft, key), data={"type": link.type.data or "check"})
    change = _checked(form, lambda: editor.add_item(checklist.draft, key, form.fields(checklist.draft)))
    if change:
        return _saved(checklist, change, "Item added.")
    return _page("item_form.html", checklist, form, touchpoint=touchpoint, item=None)


@bp.route("/<int:checklist_id>/items/<key>", methods=["GET", "POST"])
@managers_only
def edit_item(checklist_id: int, key: str):
    checklist = get_or_404(Checklist, checklist_id)
    item = _found(editor.find_item(checklist.draft, key))
    touchpoint = editor.touchpoint_of(checklist.draft, key)
    form = ItemForm(
        sources=editor.condition_sources(checklist.draft, touchpoint["key"], key), data=ItemForm.initial(item)
    )
    change = _checked(form, lambda: editor.update_item(checklist.draft, key, form.fields(checklist.draft)))
    if change:
        return _saved(checklist, change, "Item saved.")
    return _page("item_form.html", checklist, form, touchpoint=touchpoint, item=item)


@bp.post("/<int:checklist_id>/items/<key>/move")
@managers_only
def move_item(checklist_id: int, key: str):
    checklist = get_or_404(Checklist, checklist_id)
    _found(editor.find_item(checklist.draft, key))
    return _move(checklist, lambda direction: editor.move_item(checklist.draft, key, direction))


@bp.post("/<int:checklist_id>/items/<key>/remove")
@managers_only
def remove_item(checklist_id: int, key: str):
    checklist = get_or_404(Checklist, checklist_id)
    item = _found(editor.find_item(checklist.draft, key))
    return _remove(checklist, lambda: editor.remove_item(checklist.draft, key), item["prompt"])


def _move(checklist: Checklist, change: Callable[[str], editor.Edit]):
    form = MoveForm()
    if not form.validate_on_submit():
        return _refused(checklist, "Choose whether to move it up or down.", 400)
    try:
        moved = change(form.direction.data)
    except editor.EditRefused as refused:
        return _refused(checklist, str(refused), 409)
    problems = editor.problems_for(moved.definition, moved.path)
    if problems:
        where = editor.where(moved.definition, problems[0].path)
        return _refused(checklist, f"It cannot move there: in {where}, {problems[0].message}.", 409)
    return _saved(checklist, moved, "Moved.", unchanged=None)


def _remove(checklist: Checklist, change: Callable[[], dict[str, Any]], name: str):
    if not ConfirmForm().validate_on_submit():
        return _refused(checklist, "Nothing was removed: please try again.", 400)
    try:
        definition = change()
    except editor.EditRefused as refused:
        return _refused(checklist, str(refused), 409)
    service.save_draft(checklist, definition)
    flash(f"Removed “{name}”.", "success")
    return redirect(url_for(".edit", checklist_id=checklist.id))


# Preview ----------------------------------------------------------------------------------------------------


@bp.get("/<int:checklist_id>/preview")
def preview(checklist_id: int):
    checklist = get_or_404(Checklist, checklist_id)
    link = PreviewForm(request.args)
    problems = link.problems()
    if problems:
        abort(400, " ".join(problems))
    version = _found(service.version_by_number(checklist, link.version.data)) if link.version.data else None
    definition = version.definition if version else checklist.draft
    return render_template(
        "checklists/preview.html",
        checklist=checklist,
        version=version,
        definition=definition,
        items=editor.items_by_key(definition),
        channels=CHANNEL_LABELS,
    )
