from __future__ import annotations

from wtforms import DateField, RadioField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput

from shopper.forms import EmailField, Form, NameField, strip
from shopper.orgs.models import LinkRole

LINK_ROLE_DESCRIPTIONS = {
    LinkRole.CONSULTANT_MANAGER: "Consultant-manager: prepares audits, reads reports and the dashboard, tracks actions",
    LinkRole.CONSULTANT_AUDITOR: "Consultant-auditor: walks the audits it is given, nothing more",
}
LINK_ROLE_CHOICES = [SelectChoice(role.value, text) for role, text in LINK_ROLE_DESCRIPTIONS.items()]


class NewClientForm(Form):
    name = NameField("The business's name")
    site_name = StringField(
        "Its first site (optional: a shop, an office, a branch)",
        validators=[Length(max=120, message="Use at most 120 characters.")],
        filters=[strip],
    )


class OwnerInviteForm(Form):
    email = EmailField("The owner's email (optional: if given, only they can accept)", required=False)


class ClientInviteForm(Form):
    role = RadioField(
        "What your consultancy may do there", choices=LINK_ROLE_CHOICES, default=LinkRole.CONSULTANT_MANAGER
    )
    email = EmailField("The owner's email (optional: if given, only they can accept)", required=False)


class LinkRoleForm(Form):
    role = SelectField("Access", choices=[SelectChoice(role.value, role.label) for role in LinkRole])


class AcceptClientForm(Form):
    #: any id passes here: accepting refuses a business the person does not own, saying so
    client_id = SelectField(
        "Your business", coerce=int, validators=[DataRequired("Choose your business.")], validate_choice=False
    )


class BulkAuditForm(Form):
    checklist_id = SelectField("Checklist", coerce=int, validators=[DataRequired("Choose a checklist.")])
    client_ids = SelectMultipleField(
        "Clients", coerce=int, option_widget=CheckboxInput(), validators=[DataRequired("Choose at least one client.")]
    )
    auditor_id = SelectField("Who walks them", coerce=int)
    scenario = TextAreaField(
        "Scenario: who are you as a customer, and what do you want?",
        validators=[Length(max=2000, message="Keep the scenario under 2000 characters.")],
        filters=[strip],
    )
    due_on = DateField("Due by (optional)", validators=[Optional()])
