from __future__ import annotations

from collections.abc import Collection

from wtforms import DateField, HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from shopper.audits.models import AuditStatus
from shopper.audits.queries import AuditFilters
from shopper.filters import ChoiceValue, DayValue, FilterForm, IdValue
from shopper.forms import Form, strip


class StartAuditForm(Form):
    checklist_id = SelectField(
        "Checklist (the journey to walk)", coerce=int, validators=[DataRequired("Choose a checklist.")]
    )
    site_id = SelectField("Site", coerce=int, validators=[DataRequired("Choose a site.")])
    scenario = TextAreaField(
        "Scenario: who are you as a customer, and what do you want?",
        validators=[Length(max=2000, message="Keep the scenario under 2000 characters.")],
        filters=[strip],
        description='For example: "a long-standing customer renewing an annual plan with an expired card".',
    )
    auditor_id = SelectField("Who walks it", coerce=int)
    due_on = DateField("Due by (optional)", validators=[Optional()])


class SubmitForm(Form):
    #: made when the page is drawn, so a double tap on "Submit" submits once
    op_id = HiddenField(validators=[DataRequired()])


class ReopenForm(Form):
    reason = TextAreaField(
        "Why reopen it?",
        validators=[DataRequired("Say why: the auditor will see it."), Length(max=5000)],
        filters=[strip],
    )


class AuditFilterForm(FilterForm):
    """The audit list's filters, from the query string."""

    site = IdValue("Site", unknown="Unknown site in the filter", fallback="showing all sites")
    checklist = IdValue("Checklist", unknown="Unknown checklist in the filter", fallback="showing all checklists")
    auditor = IdValue("Auditor", unknown="Unknown auditor in the filter", fallback="showing all auditors")
    status = ChoiceValue(
        "Status", choices=set(AuditStatus), unknown="Unknown status {value}", fallback="showing every status"
    )
    date_from = DayValue("From", name="from", fallback="ignored")
    date_to = DayValue("To", name="to", fallback="ignored")

    def __init__(self, args, *, sites: Collection[int], checklists: Collection[int], auditors: Collection[int]):
        super().__init__(args)
        self.site.allowed, self.checklist.allowed, self.auditor.allowed = sites, checklists, auditors

    def read(self) -> tuple[AuditFilters, list[str]]:
        """The filters to apply, and a message for each value that was dropped."""
        problems = self.problems()
        filters = AuditFilters(
            site_id=self.site.data,
            checklist_id=self.checklist.data,
            auditor_id=self.auditor.data,
            status=self.status.data,
            date_from=self.date_from.data,
            date_to=self.date_to.data,
        )
        return filters, problems


class StartLinkForm(FilterForm):
    """`?checklist=<id>` on the start page: the checklist to choose first (a checklist's page links there)."""

    checklist = IdValue("Checklist", unknown="Unknown checklist in the link", fallback="choose one below")

    def __init__(self, args, *, checklists: Collection[int]):
        super().__init__(args)
        self.checklist.allowed = checklists
