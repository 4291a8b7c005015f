"""The base form, and the validators and fields shared by every feature's forms."""

from __future__ import annotations

import re

from flask import has_request_context, request
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, ValidationError

from shopper.text import clean_line

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


class Form(FlaskForm):
    """Every form of the app. A one-line text field (a StringField that is neither a text area nor a password) is
    cleaned as one line and stripped, so a line break or a control character never reaches a name, a title or a
    mail header. (Request values are already cleaned of what cannot be stored: see shopper/text.py.)"""

    class Meta:
        def wrap_formdata(self, form, formdata):
            """Flask-WTF makes the form of a JSON body when there is no form body, and a JSON array, number or
            nested object there was a 500. Pages post forms (the phone's JSON goes to the API), so a JSON body is
            read as no form at all, which the form's own validation refuses."""
            given = formdata is None or hasattr(formdata, "getlist")  # else Flask-WTF's "read the request"
            if not given and has_request_context() and request.is_json:
                return None
            return super().wrap_formdata(form, formdata)

        def bind_field(self, form, unbound_field, options):
            field_class = unbound_field.field_class
            one_line = issubclass(field_class, StringField) and not issubclass(
                field_class, TextAreaField | PasswordField
            )
            if one_line:
                options["filters"] = [clean_line, *options.get("filters", ()), *unbound_field.kwargs.get("filters", ())]
            return unbound_field.bind(form=form, **options)


class ConfirmForm(Form):
    """A button that changes something: carries only the CSRF token."""


def email_address(form, field) -> None:
    value = (field.data or "").strip()
    if value and not EMAIL_PATTERN.match(value):
        raise ValidationError("Enter an email address like name@example.com.")


def strip(value):
    return value.strip() if isinstance(value, str) else value


def EmailField(label: str = "Email", required: bool = True) -> StringField:
    validators = [DataRequired("Enter your email address.")] if required else []
    return StringField(
        label,
        validators=[
            *validators,
            Length(max=254, message="An email address has at most 254 characters."),
            email_address,
        ],
        filters=[strip],
        render_kw={"autocomplete": "email", "inputmode": "email", "autocapitalize": "off", "spellcheck": "false"},
    )


def NameField(label: str, max_length: int = 120, required: bool = True) -> StringField:
    validators = [DataRequired(f"Enter {label.lower()}.")] if required else []
    return StringField(
        label,
        validators=[*validators, Length(max=max_length, message=f"Use at most {max_length} characters.")],
        filters=[strip],
    )
