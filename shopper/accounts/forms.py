from __future__ import annotations

from wtforms import BooleanField, PasswordField
from wtforms.validators import DataRequired, EqualTo, Length

from shopper.forms import EmailField, Form, NameField

NEW_PASSWORD_KW = {"autocomplete": "new-password"}


def new_password_field(label: str = "Password") -> PasswordField:
    return PasswordField(
        label,
        validators=[DataRequired("Choose a password."), Length(max=200, message="Use at most 200 characters.")],
        render_kw=NEW_PASSWORD_KW,
        description="At least 10 characters. A short sentence is easy to remember and hard to guess.",
    )


class LoginForm(Form):
    email = EmailField()
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password.")], render_kw={"autocomplete": "current-password"}
    )
    remember = BooleanField("Keep me signed in on this device")


class PasswordChangeForm(Form):
    current = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password.")],
        render_kw={"autocomplete": "current-password"},
    )
    new = new_password_field("New password")
    confirm = PasswordField(
        "New password again",
        validators=[DataRequired("Repeat the new password."), EqualTo("new", "The two new passwords differ.")],
        render_kw=NEW_PASSWORD_KW,
    )


class NewMemberForm(Form):
    """Accepting an invite without an account: the account is made on the spot."""

    name = NameField("Your name")
    email = EmailField()
    password = new_password_field()


class ForgotPasswordForm(Form):
    email = EmailField()


class ResetPasswordForm(Form):
    new = new_password_field("New password")
    confirm = PasswordField(
        "New password again",
        validators=[DataRequired("Repeat the new password."), EqualTo("new", "The two new passwords differ.")],
        render_kw=NEW_PASSWORD_KW,
    )
