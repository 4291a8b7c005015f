from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from shopper.accounts.models import User
from shopper.extensions import db
from shopper.links import SingleUseLink
from shopper.timeutil import UTCDateTime, utcnow


class OrgKind(StrEnum):
    BUSINESS = "business"
    CONSULTANCY = "consultancy"


class Role(StrEnum):
    """Roles in rising order of power; `at_least` compares them."""

    AUDITOR = "auditor"
    MANAGER = "manager"
    OWNER = "owner"

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def at_least(self, other: Role) -> bool:
        return self.rank >= Role(other).rank

    @property
    def label(self) -> str:
        return self.value.capitalize()


class LinkRole(StrEnum):
    """What a consultancy's people may do inside a client: the client-side role the link grants at most."""

    CONSULTANT_AUDITOR = "consultant_auditor"
    CONSULTANT_MANAGER = "consultant_manager"

    @property
    def role(self) -> Role:
        return Role.MANAGER if self is LinkRole.CONSULTANT_MANAGER else Role.AUDITOR

    @property
    def label(self) -> str:
        return "Consultant-manager" if self is LinkRole.CONSULTANT_MANAGER else "Consultant-auditor"


def _in(column: str, enum: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(member.value) for member in enum)})"


class Organization(db.Model):
    __tablename__ = "organization"
    __table_args__ = (CheckConstraint(_in("kind", OrgKind), name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: the URL name: /o/<slug>/...
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20), default=OrgKind.BUSINESS)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: brand fields used by the report
    display_name: Mapped[str | None] = mapped_column(String(120))
    primary_color: Mapped[str | None] = mapped_column(String(7))
    accent_color: Mapped[str | None] = mapped_column(String(7))
    report_footer: Mapped[str | None] = mapped_column(String(200))
    contact_line: Mapped[str | None] = mapped_column(String(200))
    #: the logo's id in media storage (its renditions are <org>/brand/logo-<id>-<rendition>.jpg)
    logo_media_id: Mapped[str | None] = mapped_column(String(36))
    #: a consultancy's reports leave out Shopper's name
    white_label: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="org", cascade="all, delete-orphan", foreign_keys="Membership.org_id"
    )
    sites: Mapped[list[Site]] = relationship(back_populates="org", order_by="Site.name")

    @property
    def is_consultancy(self) -> bool:
        return self.kind == OrgKind.CONSULTANCY

    def __repr__(self) -> str:
        return f"<Organization {self.slug}>"


class Membership(db.Model):
    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("user_id", "org_id"),
        CheckConstraint(_in("role", Role), name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: the consultancy whose invitation made this membership (the first owner of a client it set up): such an owner
    #: never changes or removes another owner
    via_consultancy_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id", ondelete="SET NULL"))

    user: Mapped[User] = relationship(back_populates="memberships")
    org: Mapped[Organization] = relationship(back_populates="memberships", foreign_keys=[org_id])

    @property
    def role_enum(self) -> Role:
        return Role(self.role)


class Site(db.Model):
    """A location or branch of a business: where an audit happens."""

    __tablename__ = "site"
    __table_args__ = (UniqueConstraint("org_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(300))
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    org: Mapped[Organization] = relationship(back_populates="sites")

    @property
    def archived(self) -> bool:
        return self.archived_at is not None


class Invite(SingleUseLink, db.Model):
    """A single-use link that makes its holder a member."""

    __tablename__ = "invite"
    __table_args__ = (CheckConstraint(_in("role", Role), name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    #: set when a consultancy invited the first owner of a client it set up; the membership keeps it
    via_consultancy_id: Mapped[int | None] = mapped_column(ForeignKey("organization.id", ondelete="SET NULL"))

    org: Mapped[Organization] = relationship(foreign_keys=[org_id])
    created_by: Mapped[User | None] = relationship(foreign_keys="Invite.created_by_id")


class ClientLink(db.Model):
    """A consultancy serves a client business. Its people act inside the client with the link's role; once the
    link is revoked they see nothing of the client, while what they made there (audits, reports) stays with it."""

    __tablename__ = "client_link"
    __table_args__ = (
        UniqueConstraint("consultancy_id", "client_id"),
        CheckConstraint("consultancy_id <> client_id", name="not_self"),
        CheckConstraint(_in("role", LinkRole), name="role_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    consultancy_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("organization.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(
        String(30), default=LinkRole.CONSULTANT_MANAGER, server_default=LinkRole.CONSULTANT_MANAGER.value
    )
    #: True when the consultancy created the business (it may then invite the client's first owner)
    created_client: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    consultancy: Mapped[Organization] = relationship(foreign_keys=[consultancy_id])
    client: Mapped[Organization] = relationship(foreign_keys=[client_id])

    @property
    def role_enum(self) -> LinkRole:
        return LinkRole(self.role)

    @property
    def active(self) -> bool:
        return self.revoked_at is None
