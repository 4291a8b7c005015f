"""Validators and fields shared by every feature's forms."""

from __future__ import annotations

import re

from wtforms import StringField
from wtforms.validators import DataRequired, Length, ValidationError

EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")


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
