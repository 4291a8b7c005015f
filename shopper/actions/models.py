"""An action is one fix for one finding: who does it, by when, and how it ended. Every change leaves an event."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    or_,
    select,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopper.accounts.models import User
from shopper.audits.models import Audit
from shopper.extensions import db
from shopper.orgs.models import Role
from shopper.timeutil import UTCDateTime, utcnow


class ActionStatus(StrEnum):
    OPEN = "open"
    DOING = "doing"
    DONE = "done"
    WONT_FIX = "wont_fix"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def closed(self) -> bool:
        return self in (ActionStatus.DONE, ActionStatus.WONT_FIX)


STATUS_LABELS = {
    ActionStatus.OPEN: "Open",
    ActionStatus.DOING: "In progress",
    ActionStatus.DONE: "Done",
    ActionStatus.WONT_FIX: "Won't fix",
}


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"

    @property
    def label(self) -> str:
        return self.value.capitalize()


def _in(column: str, enum: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(member.value) for member in enum)})"


class Action(db.Model):
    """A fix for one finding of a submitted audit. The finding is found again by (audit, item key): findings are
    rewritten when an audit is reopened and submitted again, their item keys are not."""

    __tablename__ = "action"
    __table_args__ = (
        UniqueConstraint("audit_id", "item_key"),
        CheckConstraint(_in("status", ActionStatus), name="status_known"),
        CheckConstraint(_in("priority", Priority), name="priority_known"),
        Index("ix_action_org_status_due", "org_id", "status", "due_on"),
        Index("ix_action_org_closed", "org_id", "closed_at"),
        Index("ix_action_assignee_status", "assignee_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    audit_id: Mapped[int] = mapped_column(ForeignKey("audit.id", ondelete="CASCADE"))
    touchpoint_key: Mapped[str] = mapped_column(String(64))
    item_key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str] = mapped_column(Text, default="")
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    due_on: Mapped[date | None] = mapped_column(Date)
    priority: Mapped[str] = mapped_column(String(10), default=Priority.NORMAL)
    status: Mapped[str] = mapped_column(String(10), default=ActionStatus.OPEN)
    #: what was changed (done) or why nothing will be (won't fix)
    resolution: Mapped[str] = mapped_column(Text, default="")
    #: the "after" photo's id in media storage: <org>/actions/<action>/<id>-<rendition>.jpg
    proof_photo_id: Mapped[str | None] = mapped_column(String(36))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the due date the day-before reminder went out for: one reminder per action per due date
    reminded_for: Mapped[date | None] = mapped_column(Date)

    audit: Mapped[Audit] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    events: Mapped[list[ActionEvent]] = relationship(
        back_populates="action", cascade="all, delete-orphan", order_by="ActionEvent.id"
    )

    @classmethod
    def visible_to(cls, access) -> ColumnElement[bool]:
        """Which of the organization's actions `access` (shopper.orgs.access.Access) may see; the access layer
        applies it to every load, and any other action does not exist for them (404). Owners and managers see every
        action; anyone else, member or consultant, the actions of the audits they walk (the audits
        `Audit.visible_to` shows them) and the actions they are responsible for."""
        if access.role_enum.at_least(Role.MANAGER):
            return true()
        walked = select(Audit.id).where(Audit.org_id == access.org_id, Audit.auditor_id == access.user_id)
        return or_(cls.audit_id.in_(walked), cls.assignee_id == access.user_id)

    @property
    def status_enum(self) -> ActionStatus:
        return ActionStatus(self.status)

    @property
    def priority_enum(self) -> Priority:
        return Priority(self.priority)

    @property
    def is_closed(self) -> bool:
        return self.status_enum.closed

    def is_overdue(self, today: date) -> bool:
        return not self.is_closed and self.due_on is not None and self.due_on < today


class ActionEvent(db.Model):
    """One change to an action, in words: who, when, what."""

    __tablename__ = "action_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    action_id: Mapped[int] = mapped_column(ForeignKey("action.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: created, edited, status, photo or reminded
    kind: Mapped[str] = mapped_column(String(20))
    summary: Mapped[str] = mapped_column(Text)

    action: Mapped[Action] = relationship(back_populates="events")
    user: Mapped[User | None] = relationship()
