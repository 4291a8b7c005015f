from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import BooleanField, IntegerField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput

from shopper.forms import Form, NameField, strip
from shopper.reports.mailing import ADDRESS_MAX_LENGTH, MAX_RECIPIENTS, MESSAGE_MAX_LENGTH
from shopper.reports.share import DEFAULT_LIFETIME_DAYS, MAX_LIFETIME_DAYS


def _text(label: str, max_length: int, description: str = "") -> StringField:
    return StringField(
        label,
        validators=[Length(max=max_length, message=f"Use at most {max_length} characters.")],
        filters=[strip],
        description=description,
    )


class BrandForm(Form):
    display_name = NameField("Name on reports", required=False)
    primary_color = _text(
        "Primary colour",
        20,
        "Written as # and six hexadecimal digits, e.g. #1d4e89. The cover and the headings put white text on it, "
        "so it must be dark enough to read (contrast at least 4.5:1). Leave empty for Shopper's blue.",
    )
    accent_color = _text(
        "Accent colour",
        20,
        "For lines, markers and highlights, e.g. #f2a541. Leave empty for Shopper's amber.",
    )
    report_footer = _text(
        "Report footer", 200, 'Printed at the foot of every PDF page, e.g. "Confidential: for the team only".'
    )
    contact_line = _text("Contact line", 200, "Who to ask about the report, e.g. a name and an email address.")
    logo = FileField(
        "Logo",
        description="PNG or JPEG, at most 5 MB. It appears on the report's cover.",
        render_kw={"accept": "image/png,image/jpeg"},
    )
    remove_logo = BooleanField("Remove the current logo")
    #: a consultancy's only (the view removes it from a business's form)
    white_label = BooleanField(
        "Leave Shopper's name off our reports",
        description="Your reports, and your clients' reports on your checklists, then name only you and your "
        "client: on the web page, in the PDF and its document properties, and behind share links.",
    )


class ShareForm(Form):
    days = IntegerField(
        "Link works for (days)",
        default=DEFAULT_LIFETIME_DAYS,
        validators=[
            Optional(),
            NumberRange(1, MAX_LIFETIME_DAYS, f"Choose from 1 to {MAX_LIFETIME_DAYS} days."),
        ],
    )


class EmailReportForm(Form):
    """Who gets the report by mail: addresses typed and people of the organization ticked (the view sets the
    choices), with an optional message and, unless unticked, the PDF attached."""

    recipients = TextAreaField(
        "Email addresses",
        validators=[
            Length(
                max=MAX_RECIPIENTS * (ADDRESS_MAX_LENGTH + 2),
                message=f"That is more than {MAX_RECIPIENTS} addresses.",
            )
        ],
        filters=[strip],
        description=f"Up to {MAX_RECIPIENTS}, inside or outside your organization, separated by commas or line breaks.",
        render_kw={"rows": 3, "autocapitalize": "off", "spellcheck": "false", "inputmode": "email"},
    )
    members = SelectMultipleField(
        "People of the team",
        coerce=int,
        option_widget=CheckboxInput(),
        invalid_choice_message="Pick people from the list: someone ticked is no longer in the team.",
        invalid_value_message="Pick people from the list.",
    )
    message = TextAreaField(
        "Message (optional)",
        validators=[
            Length(max=MESSAGE_MAX_LENGTH, message=f"Keep the message to at most {MESSAGE_MAX_LENGTH} characters.")
        ],
        filters=[strip],
        description="Sent as plain text above the link.",
        render_kw={"rows": 4},
    )
    attach = BooleanField("Attach the PDF", default=True)
