from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopper.extensions import db
from shopper.orgs.models import Organization
from shopper.timeutil import UTCDateTime, utcnow


class SharedWith(StrEnum):
    """Which of a consultancy's clients may run its checklist (read-only, always the current version)."""

    NONE = "none"
    ALL = "all"
    CHOSEN = "chosen"


class Checklist(db.Model):
    """A customer journey an organization audits. Its `draft` is edited; publishing freezes it as a version."""

    __tablename__ = "checklist"
    __table_args__ = (CheckConstraint("shared_with IN ('none', 'all', 'chosen')", name="shared_with_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    #: the definition being edited (docs/checklist-format.md); may be incomplete until published
    draft: Mapped[dict[str, Any]] = mapped_column(JSON)
    current_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("checklist_version.id", use_alter=True, ondelete="SET NULL")
    )
    #: where it came from: "library:<slug>", "import", "copy", or None when written here
    source: Mapped[str | None] = mapped_column(String(80))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: a consultancy's checklist reaches no client, all of them, or those with a ChecklistShare row
    shared_with: Mapped[str] = mapped_column(String(10), default=SharedWith.NONE, server_default=SharedWith.NONE.value)

    versions: Mapped[list[ChecklistVersion]] = relationship(
        back_populates="checklist",
        foreign_keys="ChecklistVersion.checklist_id",
        order_by="ChecklistVersion.number.desc()",
        cascade="all, delete-orphan",
    )
    current_version: Mapped[ChecklistVersion | None] = relationship(foreign_keys=[current_version_id], post_update=True)
    #: the owner: the organization itself, or the consultancy that shares it
    org: Mapped[Organization] = relationship()

    @property
    def has_unpublished_changes(self) -> bool:
        return self.current_version is None or self.current_version.definition != self.draft


class ChecklistVersion(db.Model):
    """A published definition. Never changed once written: audits pin it."""

    __tablename__ = "checklist_version"
    __table_args__ = (UniqueConstraint("checklist_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklist.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: short human summary of what changed since the previous version
    changes: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    checklist: Mapped[Checklist] = relationship(back_populates="versions", foreign_keys=[checklist_id])


class ChecklistShare(db.Model):
    """A consultancy's checklist published to one chosen client."""

    __tablename__ = "checklist_share"
    __table_args__ = (UniqueConstraint("checklist_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    checklist_id: Mapped[int] = mapped_column(ForeignKey("checklist.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
