from __future__ import annotations

from wtforms import RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length

from shopper.accounts.forms import new_password_field
from shopper.forms import EmailField, Form, NameField, strip
from shopper.orgs.models import OrgKind, Role

ROLE_DESCRIPTIONS = {
    Role.AUDITOR: "Auditor: walks the customer journey and records what happens",
    Role.MANAGER: "Manager: also prepares audits, reads reports, manages the team and sites",
    Role.OWNER: "Owner: everything, including other owners",
}


class SignUpForm(Form):
    name = NameField("Your name")
    email = EmailField()
    password = new_password_field()
    org_name = NameField("Business or consultancy name")
    org_kind = RadioField(
        "You are",
        choices=[
            SelectChoice(OrgKind.BUSINESS.value, "A business auditing its own customer journey"),
            SelectChoice(OrgKind.CONSULTANCY.value, "A consultancy running audits for client businesses"),
        ],
        default=OrgKind.BUSINESS.value,
        validators=[DataRequired("Choose one.")],
    )


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
