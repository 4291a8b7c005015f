"""Demo data for a first look: a business with two sites, an owner, an auditor, the walk-through checklist and an
audit prepared for the auditor. Idempotent: running it again adds nothing."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from shopper.accounts.models import User
from shopper.accounts.passwords import hash_password
from shopper.audits.models import Audit
from shopper.audits.service import start_audit
from shopper.checklists.models import Checklist
from shopper.checklists.service import copy_from_library
from shopper.extensions import db
from shopper.orgs.models import Membership, Organization, OrgKind, Role, Site
from shopper.timeutil import utcnow

DEMO_SLUG = "demo"
DEMO_CHECKLIST = "be-your-customer"
DEMO_PEOPLE = (
    ("owner@demo.shopper.test", "Olivia Owner", Role.OWNER, "demo-owner-walks-the-line"),
    ("auditor@demo.shopper.test", "Arthur Auditor", Role.AUDITOR, "demo-auditor-takes-notes"),
)
DEMO_SITES = (
    ("Harbour Street clinic", "12 Harbour Street"),
    ("Riverside branch", "3 Riverside Walk"),
)


@dataclass(frozen=True)
class DemoResult:
    org: Organization
    credentials: tuple[tuple[str, str], ...]


def load_demo() -> DemoResult:
    org = db.session.scalar(select(Organization).where(Organization.slug == DEMO_SLUG))
    if org is None:
        org = Organization(slug=DEMO_SLUG, name="Harbour Physio (demo)", kind=OrgKind.BUSINESS)
        db.session.add(org)
        db.session.flush()
    for email, name, role, password in DEMO_PEOPLE:
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, name=name, password_hash=hash_password(password))
            db.session.add(user)
            db.session.flush()
        membership = db.session.scalar(
            select(Membership).where(Membership.org_id == org.id, Membership.user_id == user.id)
        )
        if membership is None:
            db.session.add(Membership(org_id=org.id, user_id=user.id, role=role))
    existing = set(db.session.scalars(select(Site.name).where(Site.org_id == org.id)))
    for name, address in DEMO_SITES:
        if name not in existing:
            db.session.add(Site(org_id=org.id, name=name, address=address))
    db.session.commit()
    _prepare_demo_audit(org)
    return DemoResult(org, tuple((email, password) for email, _, _, password in DEMO_PEOPLE))


def _prepare_demo_audit(org: Organization) -> None:
    checklist = db.session.scalar(
        select(Checklist).where(Checklist.org_id == org.id, Checklist.source == f"library:{DEMO_CHECKLIST}")
    )
    owner, auditor = (db.session.scalar(select(User).where(User.email == email)) for email, *_ in DEMO_PEOPLE)
    if checklist is None:
        checklist = copy_from_library(org.id, owner.id, DEMO_CHECKLIST, utcnow())
    if db.session.scalar(select(Audit.id).where(Audit.org_id == org.id)) is None:
        site = db.session.scalar(select(Site).where(Site.org_id == org.id, Site.name == DEMO_SITES[0][0]))
        start_audit(
            org_id=org.id,
            checklist=checklist,
            site=site,
            auditor_id=auditor.id,
            created_by_id=owner.id,
            scenario="A long-standing client renewing their yearly plan with a card that has just expired.",
            due_on=None,
            now=utcnow(),
        )
