from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ColumnElement,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from shopper.accounts.models import User
from shopper.checklists.models import Checklist, ChecklistVersion
from shopper.extensions import db
from shopper.orgs.models import Organization, Role, Site
from shopper.timeutil import UTCDateTime, utcnow


class AuditStatus(StrEnum):
    ASSIGNED = "assigned"  # prepared by a manager, not opened yet
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"


class Audit(db.Model):
    """One walk through a pinned checklist version, at one site, acting out one scenario."""

    __tablename__ = "audit"
    __table_args__ = (
        CheckConstraint("status IN ('assigned', 'in_progress', 'submitted')", name="status_known"),
        Index("ix_audit_org_status", "org_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="RESTRICT"), index=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklist.id", ondelete="RESTRICT"), index=True)
    #: pinned at creation: later versions of the checklist never change this audit
    checklist_version_id: Mapped[int] = mapped_column(ForeignKey("checklist_version.id", ondelete="RESTRICT"))
    auditor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    scenario: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default=AuditStatus.IN_PROGRESS)
    due_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: overall score in percent at submission (None when nothing was scored)
    score: Mapped[float | None] = mapped_column(Float)
    #: touchpoint scores and counts at submission (reports read it without re-scoring)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    #: bumped by every change, so caches (the PDF) know when to refresh
    revision: Mapped[int] = mapped_column(Integer, default=0)
    #: the touchpoint the auditor last had open, to resume there
    last_touchpoint_key: Mapped[str | None] = mapped_column(String(64))

    org: Mapped[Organization] = relationship()
    site: Mapped[Site] = relationship()
    checklist: Mapped[Checklist] = relationship()
    version: Mapped[ChecklistVersion] = relationship()
    auditor: Mapped[User | None] = relationship(foreign_keys=[auditor_id])
    answers: Mapped[list[Answer]] = relationship(back_populates="audit", cascade="all, delete-orphan")
    visits: Mapped[list[TouchpointVisit]] = relationship(back_populates="audit", cascade="all, delete-orphan")
    photos: Mapped[list[Photo]] = relationship(
        back_populates="audit", cascade="all, delete-orphan", order_by="Photo.created_at"
    )
    findings: Mapped[list[Finding]] = relationship(
        back_populates="audit", cascade="all, delete-orphan", order_by="Finding.position"
    )

    @classmethod
    def visible_to(cls, access) -> ColumnElement[bool]:
        """Which of the organization's audits `access` (shopper.orgs.access.Access) may see; the access layer
        applies it to every load: owners and managers see every audit, anyone else the audits they walk."""
        if access.role_enum.at_least(Role.MANAGER):
            return true()
        return cls.auditor_id == access.user_id

    @classmethod
    def loaded_with(cls) -> tuple:
        """What the access layer loads with an audit it opens: every audit page and phone write reads the pinned
        definition."""
        return (joinedload(cls.version),)

    @property
    def definition(self) -> dict[str, Any]:
        return self.version.definition

    @property
    def is_submitted(self) -> bool:
        return self.status == AuditStatus.SUBMITTED


class Answer(db.Model):
    """The latest answer to one item. Per item, the write with the latest client timestamp wins."""

    __tablename__ = "answer"
    __table_args__ = (UniqueConstraint("audit_id", "item_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"), index=True)
    touchpoint_key: Mapped[str] = mapped_column(String(64))
    item_key: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    note: Mapped[str] = mapped_column(Text, default="")
    flagged: Mapped[bool] = mapped_column(Boolean, default=False)
    #: when the auditor made the change, by the phone's clock (milliseconds since the epoch)
    client_ts: Mapped[int] = mapped_column(db.BigInteger)
    #: the Idempotency-Key of the write that set it: breaks ties between equal timestamps
    op_id: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    audit: Mapped[Audit] = relationship(back_populates="answers")


class TouchpointVisit(db.Model):
    """The wrap-up of one touchpoint: how hard it was as a customer, and whether the promise was kept."""

    __tablename__ = "touchpoint_visit"
    __table_args__ = (
        UniqueConstraint("audit_id", "touchpoint_key"),
        CheckConstraint("effort IS NULL OR (effort BETWEEN 1 AND 7)", name="effort_1_to_7"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"), index=True)
    touchpoint_key: Mapped[str] = mapped_column(String(64))
    effort: Mapped[int | None] = mapped_column(SmallInteger)
    promise_kept: Mapped[bool | None] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    client_ts: Mapped[int] = mapped_column(db.BigInteger, default=0)
    op_id: Mapped[str] = mapped_column(String(64), default="")

    audit: Mapped[Audit] = relationship(back_populates="visits")


class Photo(db.Model):
    """Evidence: a photo re-encoded by the server. Its id is the uuid the phone gave it, so a retry is one photo."""

    __tablename__ = "photo"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"), index=True)
    touchpoint_key: Mapped[str] = mapped_column(String(64))
    item_key: Mapped[str | None] = mapped_column(String(64))
    caption: Mapped[str] = mapped_column(String(300), default="")
    #: when the caption was typed, by the phone's clock (milliseconds); the latest caption wins, 0 for the upload's
    caption_ts: Mapped[int] = mapped_column(db.BigInteger, default=0, server_default="0")
    #: the Idempotency-Key of the caption's write: breaks ties between equal timestamps, as for answers
    caption_op_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    audit: Mapped[Audit] = relationship(back_populates="photos")


class PhotoTombstone(db.Model):
    """A deleted photo's id. A late upload of the same uuid (410 Gone) or a late caption cannot bring it back."""

    __tablename__ = "photo_tombstone"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"), index=True)
    deleted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Finding(db.Model):
    """An answer that broke its item's rule (or that the auditor flagged), frozen at submission."""

    __tablename__ = "finding"
    __table_args__ = (Index("ix_finding_org_item", "org_id", "item_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    touchpoint_key: Mapped[str] = mapped_column(String(64))
    touchpoint_title: Mapped[str] = mapped_column(String(200))
    promise: Mapped[str] = mapped_column(Text, default="")
    item_key: Mapped[str] = mapped_column(String(64))
    prompt: Mapped[str] = mapped_column(Text)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    manual: Mapped[bool] = mapped_column(Boolean, default=False)
    note: Mapped[str] = mapped_column(Text, default="")

    audit: Mapped[Audit] = relationship(back_populates="findings")


class AuditEvent(db.Model):
    """What happened to an audit and why: submitted, reopened (with the reason), assigned."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    user: Mapped[User | None] = relationship()


class SyncOp(db.Model):
    """One applied write from a phone, keyed by its Idempotency-Key: a replay gets the first response back."""

    __tablename__ = "sync_op"

    id: Mapped[int] = mapped_column(primary_key=True)
    op_id: Mapped[str] = mapped_column(String(64), unique=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(20))
    #: SHA-256 of what the write asked for (its kind, target and body): the same key with another body is refused;
    #: null for writes recorded before it was kept
    body_hash: Mapped[str | None] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(SmallInteger)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TouchpointMeasure(db.Model):
    """One touchpoint of one submitted audit as the dashboard counts it, written at submission (see measures.py)."""

    __tablename__ = "touchpoint_measure"
    __table_args__ = (UniqueConstraint("audit_id", "touchpoint_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"))
    touchpoint_key: Mapped[str] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float)
    walked: Mapped[bool] = mapped_column(Boolean)
    #: walked, and its promise kept (the wrap-up's verdict, else no finding in the touchpoint)
    kept: Mapped[bool] = mapped_column(Boolean)


class ItemMeasure(db.Model):
    """One numeric answer of one submitted audit (a wait, a count), written at submission. Whether it is within
    target is judged when tallied, against the checklist's newest target."""

    __tablename__ = "item_measure"
    __table_args__ = (UniqueConstraint("audit_id", "item_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"))
    item_key: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)


class TallyKind(StrEnum):
    WALKS = "walks"  # key "": n walks, scored/total their scores
    TOUCHPOINTS = "touchpoints"  # key the touchpoint: n walked, scored/total its scores, kept promises kept
    ITEMS = "items"  # key the item: n answers, total their values, kept answers within the newest target
    FINDINGS = "findings"  # key the item: n walks that found it, kept critical ones, last_at the latest


class MeasureTally(db.Model):
    """The sums of the measures of one organization's submitted walks of one checklist at one site, per day, week
    (starting Monday) and month (UTC), recomputed from the per-audit measures on every submit and reopen of a walk
    in the period. The dashboard reads these, never the answers."""

    __tablename__ = "measure_tally"
    __table_args__ = (
        UniqueConstraint("org_id", "site_id", "checklist_id", "grain", "period", "kind", "key"),
        CheckConstraint("grain IN ('day', 'week', 'month')", name="grain_known"),
        Index("ix_measure_tally_org_kind_grain_period", "org_id", "kind", "grain", "period"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    site_id: Mapped[int] = mapped_column(ForeignKey("site.id", ondelete="CASCADE"))
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklist.id", ondelete="CASCADE"))
    grain: Mapped[str] = mapped_column(String(5))
    #: the first day of the day, week or month
    period: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(12))
    key: Mapped[str] = mapped_column(String(64))
    n: Mapped[int] = mapped_column(Integer)
    scored: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[float] = mapped_column(Float, default=0.0)
    kept: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LatestWalks(db.Model):
    """An organization's latest submitted walks of one checklist, rewritten on every submit and reopen of one: the
    portfolio and "compared with similar businesses" read one row per client and checklist, not every audit."""

    __tablename__ = "latest_walks"
    __table_args__ = (UniqueConstraint("org_id", "checklist_id"), Index("ix_latest_walks_checklist", "checklist_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklist.id", ondelete="CASCADE"))
    #: the latest walk
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: up to RECENT_WALKS (audits.tallies) walks, newest first: [audit id, submitted at (ISO), score or null]
    recent: Mapped[list[Any]] = mapped_column(JSON)
