"""Forms for actions. They carry CSRF and redisplay what was typed; the rules live in service.py."""

from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from shopper.actions.models import STATUS_LABELS, Priority
from shopper.forms import Form, strip
from shopper.text import MAX_ID

PRIORITIES = [SelectChoice(p.value, p.label) for p in Priority]


def optional_id(value) -> int | None:
    """A member id from a select: blank is nobody; anything that is not a number, or a number too big for an id
    column (a 500 on both databases), is an id no member has."""
    if value in (None, ""):
        return None
    if isinstance(value, int):
        return value
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() and int(text) <= MAX_ID else -1


class AssignFields(Form):
    assignee_id = SelectField("Who is responsible", coerce=optional_id, validate_choice=False)
    due_on = StringField("Due by", filters=[strip], render_kw={"type": "date"})
    priority = SelectField("Priority", choices=PRIORITIES, default=Priority.NORMAL, validate_choice=False)


class ActionForm(AssignFields):
    title = StringField("What will change", filters=[strip], validators=[Length(max=200)])
    detail = TextAreaField("Detail", filters=[strip], validators=[Length(max=5000)])


class StatusForm(Form):
    status = SelectField("Move to", validate_choice=False)
    note = TextAreaField(
        "Note",
        filters=[strip],
        description="For done: what was changed. For won't fix: why not.",
    )
    photo = FileField("After photo (optional, with done)", render_kw={"accept": "image/*"})


class AgainForm(Form):
    auditor_id = SelectField("Who walks it", coerce=optional_id, validate_choice=False)


def status_choices(statuses) -> list[SelectChoice]:
    """The statuses someone may choose, after a blank first choice so a stray tap on Save changes nothing."""
    return [SelectChoice("", "Choose…")] + [SelectChoice(status.value, STATUS_LABELS[status]) for status in statuses]
