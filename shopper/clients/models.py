from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopper.extensions import db
from shopper.links import SingleUseLink
from shopper.orgs.models import LinkRole, Organization, _in


class ClientInvite(SingleUseLink, db.Model):
    """A consultancy's single-use offer to serve an existing business. The business's owner accepts it, and only
    then does the consultancy see anything of that business."""

    __tablename__ = "client_invite"
    __table_args__ = (CheckConstraint(_in("role", LinkRole), name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    consultancy_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(30))
    #: the business that accepted
    client_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id", ondelete="SET NULL"))

    consultancy: Mapped[Organization] = relationship(foreign_keys=[consultancy_id])

    @property
    def role_enum(self) -> LinkRole:
        return LinkRole(self.role)
