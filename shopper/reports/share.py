"""Share links: a random token in a URL opens one audit's report, read-only, without an account.

Only the token's SHA-256 is stored, so the database alone cannot rebuild a working link; the token is shown once,
when the link is made. A link works until it expires (30 days by default) or is revoked. Any token that is
malformed, unknown, expired or revoked finds nothing, and the caller answers 404 to all of them alike.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from shopper.audits.models import Audit
from shopper.extensions import db
from shopper.reports.models import ShareLink

DEFAULT_LIFETIME_DAYS = 30
MAX_LIFETIME_DAYS = 365
TOKEN_BYTES = 32
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32)


class ShareError(ValueError):
    """A refused change to share links; ``str(error)`` is shown as is."""


@dataclass(frozen=True)
class NewShareLink:
    link: ShareLink
    token: str  # shown once, never stored


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def create_share_link(
    audit: Audit, user_id: int | None, now: datetime, days: int = DEFAULT_LIFETIME_DAYS
) -> NewShareLink:
    """A new link to the audit's report. Raises ShareError for an audit with no report yet or a bad lifetime."""
    if not audit.is_submitted:
        raise ShareError("Only a submitted audit has a report to share.")
    if not 1 <= days <= MAX_LIFETIME_DAYS:
        raise ShareError(f"A share link lasts from 1 to {MAX_LIFETIME_DAYS} days.")
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = ShareLink(
        org_id=audit.org_id,
        audit_id=audit.id,
        token_hash=token_hash(token),
        hint=token[:6],
        created_by_id=user_id,
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    db.session.add(link)
    db.session.flush()
    return NewShareLink(link, token)


def find_share_link(token: str, now: datetime) -> ShareLink | None:
    """The usable link for ``token``, or None (malformed, unknown, revoked or expired: all the same to callers)."""
    if not isinstance(token, str) or not _TOKEN.match(token):
        return None
    link = db.session.scalar(select(ShareLink).where(ShareLink.token_hash == token_hash(token)))
    if link is None or not link.is_usable(now) or link.audit.org_id != link.org_id:
        return None
    return link


def revoke_share_link(link: ShareLink, now: datetime) -> None:
    """Revoke once: one conditional UPDATE, so two people revoking at the same moment keep the first time."""
    db.session.execute(
        update(ShareLink).where(ShareLink.id == link.id, ShareLink.revoked_at.is_(None)).values(revoked_at=now)
    )
    db.session.refresh(link)


def share_links_of(audit: Audit) -> list[ShareLink]:
    """The audit's links, newest first, revoked and expired ones included (the list says which)."""
    return list(
        db.session.scalars(
            select(ShareLink)
            .where(ShareLink.audit_id == audit.id, ShareLink.org_id == audit.org_id)
            .order_by(ShareLink.created_at.desc(), ShareLink.id.desc())
        )
    )


@dataclass(frozen=True)
class ShareRow:
    link: ShareLink
    status: str
    usable: bool


def _share_status(link: ShareLink, now: datetime) -> tuple[str, bool]:
    if link.revoked_at is not None:
        return f"revoked {link.revoked_at.strftime('%d %b %Y')}", False
    if now >= link.expires_at:
        return f"expired {link.expires_at.strftime('%d %b %Y')}", False
    return f"works until {link.expires_at.strftime('%d %b %Y')}", True


def share_rows(audit: Audit, now: datetime) -> list[ShareRow]:
    """For the audit overview: each of the audit's share links with what it does today."""
    return [ShareRow(link, *_share_status(link, now)) for link in share_links_of(audit)]
