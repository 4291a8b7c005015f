"""An organization's security log: who signed in, who changed whose role or removed whom, which invitations were
used, which consultancies got, changed or lost access, who reset a password. Its owners read it; nothing in it can
be edited. Events are added in the same transaction as what they record, so the log never tells of a change that
did not happen, nor misses one that did."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, mapped_column, relationship, selectinload

from shopper.accounts.models import User
from shopper.events import AccountEvent, account_changed
from shopper.extensions import db
from shopper.orgs.models import Membership
from shopper.timeutil import UTCDateTime, utcnow

PAGE = 200


class Event(StrEnum):
    SIGNED_IN = "signed_in"
    SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"
    RESET_LINK_MADE = "reset_link_made"
    ROLE_CHANGED = "role_changed"
    MEMBER_REMOVED = "member_removed"
    INVITE_MADE = "invite_made"
    INVITE_WITHDRAWN = "invite_withdrawn"
    INVITE_USED = "invite_used"
    CONSULTANCY_ADDED = "consultancy_added"
    CONSULTANCY_CHANGED = "consultancy_changed"
    CONSULTANCY_REVOKED = "consultancy_revoked"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    Event.SIGNED_IN: "Signed in",
    Event.SIGNED_OUT_EVERYWHERE: "Signed out on every device",
    Event.PASSWORD_CHANGED: "Changed their password",
    Event.PASSWORD_RESET: "Chose a new password with a reset link",
    Event.RESET_LINK_MADE: "Made a password reset link",
    Event.ROLE_CHANGED: "Changed a role",
    Event.MEMBER_REMOVED: "Removed a member",
    Event.INVITE_MADE: "Made an invitation",
    Event.INVITE_WITHDRAWN: "Withdrew an invitation",
    Event.INVITE_USED: "Joined with an invitation",
    Event.CONSULTANCY_ADDED: "Gave a consultancy access",
    Event.CONSULTANCY_CHANGED: "Changed a consultancy's access",
    Event.CONSULTANCY_REVOKED: "Ended a consultancy's access",
}


class SecurityEvent(db.Model):
    __tablename__ = "security_event"
    __table_args__ = (Index("ix_security_event_org_at", "org_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    #: who did it (None once their account is gone)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    #: whom it was done to, when that is a person
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    #: the facts in words: "manager -> auditor", "invitation for sam@example.com as auditor", a consultancy's name
    detail: Mapped[str] = mapped_column(String(300), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    subject: Mapped[User | None] = relationship(foreign_keys=[subject_id])

    @property
    def label(self) -> str:
        return Event(self.kind).label


def record(
    org_id: int,
    kind: Event,
    *,
    actor_id: int | None,
    subject_id: int | None = None,
    detail: str = "",
    ip: str = "",
    at: datetime | None = None,
) -> None:
    """Add an event to the organization's log (not committed: it goes with the change it records)."""
    db.session.add(
        SecurityEvent(
            org_id=org_id,
            kind=kind,
            actor_id=actor_id,
            subject_id=subject_id,
            detail=detail[:300],
            ip=(ip or "")[:64],
            at=at or utcnow(),
        )
    )


def record_for_member(user_id: int, kind: Event, *, detail: str = "", ip: str = "", at: datetime) -> None:
    """An event about a person's own account (a sign-in, a new password), in the log of every organization they
    belong to."""
    for org_id in db.session.scalars(select(Membership.org_id).where(Membership.user_id == user_id)):
        record(org_id, kind, actor_id=user_id, subject_id=user_id, detail=detail, ip=ip, at=at)


@account_changed.connect
def _on_account_changed(sender, *, user_id: int, kind: AccountEvent, at: datetime, detail: str = "", ip: str = ""):
    record_for_member(user_id, Event(kind), detail=detail, ip=ip, at=at)


def events_of(org_id: int) -> list[SecurityEvent]:
    """The organization's latest events, newest first."""
    return list(
        db.session.scalars(
            select(SecurityEvent)
            .where(SecurityEvent.org_id == org_id)
            .options(selectinload(SecurityEvent.actor), selectinload(SecurityEvent.subject))
            .order_by(SecurityEvent.at.desc(), SecurityEvent.id.desc())
            .limit(PAGE)
        )
    )
