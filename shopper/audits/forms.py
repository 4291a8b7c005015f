from __future__ import annotations

from wtforms import DateField, HiddenField, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

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
