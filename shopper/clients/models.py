from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopper.extensions import db
from shopper.orgs.models import LinkRole, Organization, _in
from shopper.timeutil import UTCDateTime, utcnow


class ClientInvite(db.Model):
    """A consultancy's single-use offer to serve an existing business. The business's owner accepts it, and only
    then does the consultancy see anything of that business. Only the token's SHA-256 is stored."""

    __tablename__ = "client_invite"
    __table_args__ = (CheckConstraint(_in("role", LinkRole), name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    consultancy_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(30))
    #: optional: when set, only an account with this address may accept
    email: Mapped[str | None] = mapped_column(String(254))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    #: the business that accepted
    client_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    consultancy: Mapped[Organization] = relationship(foreign_keys=[consultancy_id])

    @property
    def role_enum(self) -> LinkRole:
        return LinkRole(self.role)

    def is_usable(self, now: datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at
