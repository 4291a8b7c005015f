"""Links that work once: invitations, consultancies' offers to serve a business, password resets.

A link carries a random token; only its SHA-256 is stored, so the database alone cannot rebuild a working link.
Using a link is a claim: one conditional UPDATE that marks it used only if it is still unused, unrevoked and
unexpired. Two people opening the same link at the same moment cannot both get in: on PostgreSQL the second UPDATE
waits for the first to commit and then finds the row no longer matches; on SQLite writes are serialized.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String, select, update
from sqlalchemy.orm import Mapped, mapped_column

from shopper.extensions import db
from shopper.timeutil import UTCDateTime, utcnow

TOKEN_BYTES = 32


class LinkRefused(ValueError):
    """A link that cannot be used; the message says why, in words for the person holding it."""

    status = 400


class SingleUseLink:
    """What a link that works once carries: only its token's SHA-256, who may accept it, and its life."""

    #: optional: when set, only an account with this address may accept
    email: Mapped[str | None] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def unusable_because(self, now: datetime) -> str | None:
        """Why the link no longer works, as the end of "This link ...", or None while it works."""
        if self.revoked_at is not None:
            return "is not valid"
        if self.accepted_at is not None:
            return "has already been used"
        if now >= self.expires_at:
            return "has expired"
        return None

    def is_usable(self, now: datetime) -> bool:
        return self.unusable_because(now) is None


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_link(model, token: str, now: datetime, *, noun: str, ask: str):
    """The row of `model` for a token from a link. Raises LinkRefused with a message that says why it cannot be
    used, e.g. "This invitation has expired. Ask for a new one." """
    row = db.session.scalar(select(model).where(model.token_hash == hash_token(token))) if token else None
    problem = "is not valid" if row is None else row.unusable_because(now)
    if problem is not None:
        raise LinkRefused(f"This {noun} {problem}. {ask}")
    return row


def claim(row, user_id: int, now: datetime, *, noun: str) -> None:
    """Mark the link used by `user_id`, only if nobody used, revoked or outlived it meanwhile. Raises LinkRefused
    when someone else's claim came first. Not committed: the caller commits it with what the link grants."""
    model = type(row)
    claimed = db.session.execute(
        update(model)
        .where(
            model.id == row.id,
            model.accepted_at.is_(None),
            model.revoked_at.is_(None),
            model.expires_at > now,
        )
        .values(accepted_at=now, accepted_by_id=user_id)
        .returning(model.id)
        .execution_options(synchronize_session=False)
    ).first()
    if claimed is None:
        raise LinkRefused(f"This {noun} has just been used or withdrawn. Ask for a new one.")
    db.session.expire(row, ["accepted_at", "accepted_by_id"])
