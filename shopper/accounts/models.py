from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopper.extensions import db
from shopper.links import SingleUseLink
from shopper.timeutil import UTCDateTime, utcnow

if TYPE_CHECKING:
    from shopper.orgs.models import Membership


class User(UserMixin, db.Model):
    __tablename__ = "user"
    __table_args__ = (CheckConstraint("email = lower(email)", name="email_lower_case"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: always stored lower-case, so sign-in is case-insensitive and the unique index means what it says
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the session generation: bumped to end every session of the user on every device at once (sign out everywhere,
    #: a new password, a role taken away, a membership removed); every session cookie carries the generation it began in
    session_version: Mapped[int] = mapped_column(default=1)
    #: when the person proved they read mail at `email` (a link we mailed them); None until then
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user", cascade="all, delete-orphan")

    #: the device session of this request (not a column): set when signing in and by the user loader
    device_session_id = None

    def get_id(self) -> str:
        """What the session cookie and the remember-me cookie carry: the user, the generation and the device."""
        if not self.device_session_id:
            raise RuntimeError("start a device session (shopper.accounts.sessions.start) before signing a user in")
        return f"{self.id}:{self.session_version}:{self.device_session_id}"

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def __repr__(self) -> str:
        return f"<User {self.email}>"


class DeviceSession(db.Model):
    """One signed-in browser. Signing out of it ends this row, and so every copy of its session and remember-me
    cookies; ending all of a user's sessions is a bump of `User.session_version`."""

    __tablename__ = "device_session"

    #: random, in the signed cookies only
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    #: SHA-256 of the browser's device cookie: a later sign-in from the same browser is from a known device
    device_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginAttempt(db.Model):
    """A failed sign-in, kept for the throttling window only."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_email_at", "email", "attempted_at"),
        Index("ix_login_attempt_ip_at", "ip", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    ip: Mapped[str] = mapped_column(String(64))
    #: the device cookie's SHA-256 when the browser had one that had signed in to this account before
    known_device: Mapped[str | None] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class PasswordReset(SingleUseLink, db.Model):
    """A single-use link to choose a new password: mailed to the person, or made by an owner for a member when no
    mail can be sent. Using it ends every session of the user."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)

    user: Mapped[User] = relationship(foreign_keys=[user_id])
