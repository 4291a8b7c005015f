"""Emailing a report: to people inside and outside the organization, each their own mail with a share link and the
PDF attached when it is small enough.

The request only checks the addresses, makes one share link for the sending (it expires like any other and is
revoked on the audit's page), writes a "report_emailed" event to the audit's history and queues one job per
recipient. Each job renders the PDF if it is not in the cache yet (the render path of reports/rendering.py), attaches
it when it is at most REPORT_MAIL_MAX_ATTACHMENT_BYTES (else the mail says it is too large and gives the link), and
sends. A failed delivery is written to the history and raised, so the job queue tries it again (mail.MAIL_RETRIES);
a mail whose PDF was left out says so there too. One job per recipient: a retry never mails anyone twice.
"""

from __future__ import annotations

import contextlib
import re
import smtplib
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, url_for

from shopper.accounts.models import User
from shopper.audits.models import Audit, AuditEvent
from shopper.database import write_transaction
from shopper.extensions import db
from shopper.forms import EMAIL_PATTERN
from shopper.jobs import job
from shopper.mail import MAIL_RETRIES, MAIL_RETRY_SECONDS, Attachment, send_mail
from shopper.orgs.access import people
from shopper.reports import pdf
from shopper.reports.models import ShareLink
from shopper.reports.rendering import render_now
from shopper.reports.service import ReportNotReady
from shopper.reports.share import create_share_link
from shopper.timeutil import utcnow

MAX_RECIPIENTS = 20
MESSAGE_MAX_LENGTH = 2000
ADDRESS_MAX_LENGTH = 254
#: what may separate the typed addresses: commas, semicolons, line breaks and spaces
_SEPARATORS = re.compile(r"[,;\s]+")
#: characters a plain address never needs that would let one entry read as a name, a group or several addresses
_NOT_IN_AN_ADDRESS = re.compile(r"[<>()\[\]\\:\"']")

EMAILED = "report_emailed"
FAILED = "report_mail_failed"
NO_PDF = "report_mail_no_pdf"


class MailingError(ValueError):
    """Refused input; ``str(error)`` is shown as is."""


@dataclass(frozen=True)
class Sending:
    recipients: tuple[str, ...]
    link: ShareLink


def _valid(address: str) -> bool:
    return (
        len(address) <= ADDRESS_MAX_LENGTH
        and EMAIL_PATTERN.match(address) is not None
        and _NOT_IN_AN_ADDRESS.search(address) is None
    )


def recipients_from(typed: str, picked: list[str]) -> tuple[str, ...]:
    """The addresses typed (separated by commas or line breaks) and those of the people picked, each once, in order.
    Raises MailingError naming the entries that are not addresses, or when there are none or too many."""
    entries = [entry for entry in _SEPARATORS.split(typed or "") if entry]
    bad = [entry for entry in entries if not _valid(entry)]
    if bad:
        shown = ", ".join(f"“{entry[:60]}”" for entry in bad[:5]) + (" …" if len(bad) > 5 else "")
        raise MailingError(
            f"Not an email address: {shown}. Write plain addresses like name@example.com, separated by commas or "
            "line breaks."
        )
    unique = tuple(dict.fromkeys(address.lower() for address in [*entries, *picked]))
    if not unique:
        raise MailingError("Enter at least one email address, or pick someone from the team.")
    if len(unique) > MAX_RECIPIENTS:
        raise MailingError(f"Send to at most {MAX_RECIPIENTS} people at once ({len(unique)} given).")
    return unique


def member_choices(org_id: int) -> list[tuple[int, str]]:
    """(user id, name) of the people who may work in the organization: whom the form lets you pick by name."""
    return [(row.id, row.name) for row in db.session.execute(people(org_id))]


def _member_addresses(org_id: int, user_ids: list[int]) -> list[str]:
    if not user_ids:
        return []
    chosen = people(org_id).add_columns(User.email).where(User.id.in_(user_ids))
    return [row.email for row in db.session.execute(chosen)]


def _day(moment: datetime) -> str:
    return moment.strftime("%d %b %Y")


def email_report(
    audit: Audit,
    sender: User,
    typed: str,
    member_ids: list[int],
    message: str,
    attach: bool,
    now: datetime,
    days: int,
) -> Sending:
    """Send the audit's report to the addresses typed and the members picked: one share link for the sending, its
    event in the audit's history, and one mail job per recipient (queued once the request commits). Raises
    MailingError (nothing is changed then)."""
    if not audit.is_submitted:
        raise MailingError("Only a submitted audit has a report to send.")
    if len(message or "") > MESSAGE_MAX_LENGTH:
        raise MailingError(f"Keep the message to at most {MESSAGE_MAX_LENGTH} characters.")
    recipients = recipients_from(typed, _member_addresses(audit.org_id, member_ids))
    new = create_share_link(audit, sender.id, now, days)
    url = url_for("reports_public.shared_report", token=new.token, _external=True)
    what = "with the PDF attached" if attach else "with the link only"
    reason = f"To {', '.join(recipients)}, {what}; share link …{new.link.hint}, works until {_day(new.link.expires_at)}"
    db.session.add(AuditEvent(audit_id=audit.id, kind=EMAILED, reason=reason, user_id=sender.id, at=now))
    for to in recipients:
        send_report_mail(audit.id, new.link.id, url, to, sender.name, message or "", attach)
    return Sending(recipients, new.link)


@dataclass(frozen=True)
class _Letter:
    subject: str
    opening: str
    closing: str


def _letter(audit: Audit, link: ShareLink, sender: str, message: str, url: str) -> _Letter:
    org = audit.org
    title = audit.definition["title"]
    submitted = _day(audit.submitted_at) if audit.submitted_at else ""
    opening = [f"{sender} sent you the report of an audit at {org.name}: {title}, {audit.site.name}, {submitted}."]
    if message.strip():
        opening += ["", f"{sender} writes:", "", message.strip()]
    closing = [
        "",
        f"Open the report: {url}",
        f"The link works without an account until {_day(link.expires_at)}; it opens this report and nothing else.",
    ]
    return _Letter(
        subject=f"[{org.name}] Report: {title}, {audit.site.name}",
        opening="\n".join(opening),
        closing="\n".join(closing),
    )


def _megabytes(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB"


def _log(audit_id: int, kind: str, reason: str) -> None:
    """An event written at once, so it stays when the job then fails."""
    with write_transaction():
        db.session.add(AuditEvent(audit_id=audit_id, kind=kind, reason=reason, at=utcnow()))


def _not_sent_because(audit: Audit, link: ShareLink | None, now: datetime) -> str | None:
    if link is None:
        return "its share link is gone"
    if not audit.is_submitted:
        return "the audit was reopened for changes"
    if link.revoked_at is not None:
        return f"its share link …{link.hint} was revoked"
    if not link.is_usable(now):
        return f"its share link …{link.hint} expired"
    return None


def _pdf_for(audit_id: int, limit: int) -> tuple[Attachment | None, str]:
    """The PDF as an attachment when it is at most `limit` bytes, else None and what the mail says instead."""
    try:
        document = render_now(audit_id)
    except pdf.RenderError:
        return None, "The PDF could not be made just now: the report's page offers it once it is ready."
    with contextlib.closing(document.stream):
        if document.size > limit:
            return None, (
                f"The PDF ({_megabytes(document.size)}) is too large to attach (the limit is {_megabytes(limit)}): "
                "download it from the report's page."
            )
        return Attachment(document.filename, document.stream.read(), "application", "pdf"), "The PDF is attached."


@job(retries=MAIL_RETRIES, retry_delay=MAIL_RETRY_SECONDS, context=True)
def send_report_mail(
    audit_id: int, link_id: int, url: str, to: str, sender: str, message: str, attach: bool, task=None
) -> None:
    """One recipient's mail of a sending. Not sent (and not tried again) when the audit was reopened or the link
    revoked meanwhile."""
    audit = db.session.get(Audit, audit_id)
    if audit is None:
        return
    link = db.session.get(ShareLink, link_id)
    why_not = _not_sent_because(audit, link, utcnow())
    if link is None or why_not is not None:
        _log(audit_id, FAILED, f"Not sent to {to}: {why_not}")
        return
    letter = _letter(audit, link, sender, message, url)
    attachment, about_pdf = None, "The PDF is on the report's page."
    if attach:
        try:
            attachment, about_pdf = _pdf_for(audit_id, int(current_app.config["REPORT_MAIL_MAX_ATTACHMENT_BYTES"]))
        except ReportNotReady:
            _log(audit_id, FAILED, f"Not sent to {to}: the audit was reopened for changes")
            return
    body = f"{letter.opening}\n\n{about_pdf}\n{letter.closing}\n"
    try:
        send_mail(to, letter.subject, body, [attachment] if attachment else [])
    except (OSError, smtplib.SMTPException) as e:
        retries = task.retries if task is not None else 0
        then = f"tried again in {MAIL_RETRY_SECONDS} s ({retries} more tries)" if retries else "no more tries"
        _log(audit_id, FAILED, f"To {to}: {str(e)[:200] or type(e).__name__}; {then}")
        raise
    if attach and attachment is None:
        _log(audit_id, NO_PDF, f"To {to}: {about_pdf}")
