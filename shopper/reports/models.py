"""Rows owned by the report feature: share links, and the record of the cached PDF of each audit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopper.accounts.models import User
from shopper.audits.models import Audit
from shopper.extensions import db
from shopper.timeutil import UTCDateTime, utcnow


class ShareLink(db.Model):
    """A secret link that opens one audit's report, read-only, without an account. Only the token's SHA-256 is kept."""

    __tablename__ = "share_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"), index=True)
    #: hex SHA-256 of the token in the link; the token itself is shown once and never stored
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: a few characters of the token, so people can tell their links apart in the list
    hint: Mapped[str] = mapped_column(String(8))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    audit: Mapped[Audit] = relationship()
    created_by: Mapped[User | None] = relationship()

    def is_usable(self, now: datetime) -> bool:
        return self.revoked_at is None and now < self.expires_at


class ReportPdf(db.Model):
    """The PDF last rendered for an audit. `fingerprint` hashes everything the PDF is made from (the audit at its
    revision, the brand, the page size, the stylesheet), so a stored file is reused until one of them changes."""

    __tablename__ = "report_pdf"

    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    #: the audit's revision when it was rendered (for people reading the table; the fingerprint decides)
    revision: Mapped[int] = mapped_column(Integer)
    storage_key: Mapped[str] = mapped_column(String(200))
    bytes: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)
    render_ms: Mapped[int] = mapped_column(Integer)
    rendered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RenderState(StrEnum):
    QUEUED = "queued"
    FAILED = "failed"


class ReportRequest(db.Model):
    """A PDF asked for that is not ready yet: the fingerprint it will have, and how the last try went. The job that
    makes the PDF removes the row once the PDF of that fingerprint is in the cache."""

    __tablename__ = "report_request"
    __table_args__ = (CheckConstraint("state IN ('queued', 'failed')", name="state_known"),)

    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(10), default=RenderState.QUEUED)
    #: why the last render failed, in words for the person who asked
    error: Mapped[str] = mapped_column(Text, default="")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BundleState(StrEnum):
    QUEUED = "queued"
    READY = "ready"
    FAILED = "failed"


class ReportBundle(db.Model):
    """A ZIP of the latest report of each client of a consultancy, made by a job for the person who asked."""

    __tablename__ = "report_bundle"
    __table_args__ = (CheckConstraint("state IN ('queued', 'ready', 'failed')", name="state_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(10), default=BundleState.QUEUED)
    storage_key: Mapped[str | None] = mapped_column(String(200))
    bytes: Mapped[int | None] = mapped_column(Integer)
    #: what went in and what was left out, client by client: the README.txt of the ZIP
    summary: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
