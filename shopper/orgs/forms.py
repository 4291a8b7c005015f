from __future__ import annotations

from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length

from shopper.forms import EmailField, Form, NameField, strip
from shopper.orgs.models import Role

ROLE_DESCRIPTIONS = {
    Role.AUDITOR: "Auditor: walks the customer journey and records what happens",
    Role.MANAGER: "Manager: also prepares audits, reads reports, manages the team and sites",
    Role.OWNER: "Owner: everything, including other owners",
}


class InviteForm(Form):
    role = SelectField(
        "Role",
        choices=[SelectChoice(role.value, text) for role, text in ROLE_DESCRIPTIONS.items()],
        default=Role.AUDITOR.value,
    )
    email = EmailField("Their email (optional: if given, only they can accept)", required=False)


class RoleForm(Form):
    role = SelectField("Role", choices=[SelectChoice(role.value, role.label) for role in Role])


class SiteForm(Form):
    name = NameField("Name")
    address = StringField(
        "Address (optional)", validators=[Length(max=300, message="Use at most 300 characters.")], filters=[strip]
    )


class ConfirmForm(Form):
    """A button that changes something: carries only the CSRF token."""
