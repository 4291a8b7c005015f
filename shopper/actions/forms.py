"""Forms for actions. They carry CSRF and redisplay what was typed; the rules live in service.py."""

from __future__ import annotations

from collections.abc import Collection

from flask_wtf.file import FileField
from wtforms import SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import Length

from shopper.actions.models import STATUS_LABELS, ActionStatus, Priority
from shopper.actions.queries import VIEWS, ActionFilters
from shopper.filters import ChoiceValue, FilterForm, IdValue, NumberValue, number
from shopper.forms import Form, strip

PRIORITIES = [SelectChoice(p.value, p.label) for p in Priority]


def optional_id(value) -> int | None:
    """A member id from a select: blank is nobody, anything that is not a number (in ASCII digits, within bounds) is
    an id no member has."""
    if value in (None, ""):
        return None
    if isinstance(value, int):
        return value
    found = number(str(value))
    return found if found is not None else -1


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


class ActionFilterForm(FilterForm):
    """The action list's filters and page, from the query string."""

    status = ChoiceValue(
        "Status",
        choices={*VIEWS, *ActionStatus},
        unknown="Unknown status {value}",
        fallback="showing open and in-progress actions",
    )
    assignee = IdValue("Assignee", unknown="Unknown assignee in the filter", fallback="showing everyone's actions")
    site = IdValue("Site", unknown="Unknown site in the filter", fallback="showing every site")
    page = NumberValue("Page", invalid="Page {value} does not exist", fallback="showing the first page")

    def __init__(self, args, *, assignees: Collection[int], sites: Collection[int]):
        super().__init__(args)
        self.assignee.allowed, self.site.allowed = assignees, sites

    def read(self) -> tuple[ActionFilters, list[str]]:
        """The filters to apply, and a message for each value that fell back to its default."""
        problems = self.problems()
        filters = ActionFilters(
            status=self.status.data or "active",
            assignee_id=self.assignee.data,
            site_id=self.site.data,
            page=self.page.data or 1,
        )
        return filters, problems
