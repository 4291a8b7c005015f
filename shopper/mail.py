"""Outgoing mail, only when MAIL_SERVER is configured. Without it Shopper shows links on screen instead.

Mail never goes out inside a request: `send_later` puts it on the job queue, whose consumer sends it and tries
again a few times when the server is down. Header values are made one line whatever they hold (an action title with
a line break once stopped every reminder), so no text of a person's can add or split a header. A message may carry
files (`Attachment`: the report's PDF), each a part of its own with a plain ASCII file name.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from flask import current_app

from shopper.jobs import job
from shopper.text import clean_text

MAIL_RETRIES = 5
MAIL_RETRY_SECONDS = 60


def mail_enabled() -> bool:
    return bool(current_app.config.get("MAIL_SERVER"))


def header(value: str, limit: int = 300) -> str:
    """A header value on one line, without control characters, of reasonable length."""
    return " ".join(clean_text(value, single_line=True).split())[:limit]


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str = "application"
    subtype: str = "octet-stream"


def send_mail(to: str, subject: str, body: str, attachments: Sequence[Attachment] = ()) -> None:
    """Send a plain-text message now, with `attachments` if any. Raises OSError/smtplib.SMTPException when the server
    refuses or is down."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = header(config["MAIL_FROM"])
    message["To"] = header(to)
    message["Subject"] = header(subject)
    message.set_content(clean_text(body))
    for attachment in attachments:
        message.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=header(attachment.filename, 120),
        )
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(message)


@job(retries=MAIL_RETRIES, retry_delay=MAIL_RETRY_SECONDS)
def deliver(to: str, subject: str, body: str) -> None:
    send_mail(to, subject, body)


def send_later(to: str, subject: str, body: str) -> bool:
    """Queue a message when mail is configured; False when mail is off (the caller shows the link instead)."""
    if not mail_enabled():
        return False
    deliver(to, subject, body)
    return True
