"""Outgoing mail, only when MAIL_SERVER is configured. Without it Shopper shows links on screen instead."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from flask import current_app


def mail_enabled() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def send_mail(to: str, subject: str, body: str) -> None:
    """Send a plain-text message. Raises OSError/smtplib.SMTPException when the server refuses or is down."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)


def try_send(to: str, subject: str, body: str) -> bool | None:
    """Send when mail is configured: True once sent, False when the server failed (logged; the caller shows the
    link instead), None when mail is off."""
    if not mail_enabled():
        return None
    try:
        send_mail(to, subject, body)
    except (OSError, smtplib.SMTPException):
        current_app.logger.exception("mail to %s failed", to)
        return False
    return True
