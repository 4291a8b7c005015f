from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectField, StringField
from wtforms.validators import Length

from shopper.forms import EmailField, NameField, strip
from shopper.orgs.models import Role

ROLE_DESCRIPTIONS = {
    Role.AUDITOR: "Auditor: walks the customer journey and records what happens",
    Role.MANAGER: "Manager: also prepares audits, reads reports, manages the team and sites",
    Role.OWNER: "Owner: everything, including other owners",
}


class InviteForm(FlaskForm):
    role = SelectField(
        "Role",
        choices=[SelectChoice(role.value, text) for role, text in ROLE_DESCRIPTIONS.items()],
        default=Role.AUDITOR.value,
    )
    email = EmailField("Their email (optional: if given, only they can accept)", required=False)


class RoleForm(FlaskForm):
    role = SelectField("Role", choices=[SelectChoice(role.value, role.label) for role in Role])


class SiteForm(FlaskForm):
    name = NameField("Name")
    address = StringField(
        "Address (optional)", validators=[Length(max=300, message="Use at most 300 characters.")], filters=[strip]
    )


class ConfirmForm(FlaskForm):
    """A button that changes something: carries only the CSRF token."""
