"""Factories that make real rows. Each returns detached objects whose columns stay readable."""

from __future__ import annotations

import copy
import itertools
from datetime import timedelta

from flask import Flask

from shopper.accounts.models import User
from shopper.accounts.passwords import hash_password
from shopper.checklists import service as checklists
from shopper.extensions import db
from shopper.orgs.models import Membership, Organization, OrgKind, Role, Site
from shopper.orgs.service import NewInvite, create_invite
from shopper.timeutil import utcnow

PASSWORD = "correct horse battery staple"

SMALL_CHECKLIST = {
    "title": "Billing line check",
    "touchpoints": [
        {
            "key": "billing-line",
            "title": "Call the billing line",
            "channel": "phone",
            "promise": "A person answers within a minute",
            "items": [
                {
                    "key": "answer-time",
                    "type": "timer",
                    "prompt": "Time until a person answered",
                    "target_max_s": 60,
                    "weight": 2,
                    "required": True,
                },
                {
                    "key": "transfers",
                    "type": "counter",
                    "prompt": "How many times were you passed on?",
                    "target_max": 1,
                },
                {
                    "key": "resolved",
                    "type": "check",
                    "prompt": "Was the question resolved on this call?",
                    "critical": True,
                    "evidence": {"prompt": "What did they say?", "require": "note"},
                },
                {
                    "key": "tone",
                    "type": "rating",
                    "prompt": "How did the call feel?",
                    "scale": 5,
                    "show_if": {"item": "resolved", "equals": "yes"},
                },
            ],
        }
    ],
}
PASSWORD_HASH = hash_password(PASSWORD)  # hashed once: scrypt per test would dominate the suite's time

_counter = itertools.count(1)


class Factories:
    def __init__(self, app: Flask):
        self.app = app

    def _save(self, *rows):
        with self.app.app_context():
            db.session.add_all(rows)
            db.session.commit()
        return rows[0]

    def user(self, email: str | None = None, name: str | None = None) -> User:
        n = next(_counter)
        return self._save(
            User(
                email=(email or f"person{n}@example.com").lower(),
                name=name or f"Person {n}",
                password_hash=PASSWORD_HASH,
            )
        )

    def org(self, name: str | None = None, kind: str = OrgKind.BUSINESS) -> Organization:
        n = next(_counter)
        return self._save(Organization(name=name or f"Business {n}", slug=f"org-{n}", kind=kind))

    def member(self, org: Organization, role: str = Role.OWNER, user: User | None = None) -> User:
        user = user or self.user()
        self._save(Membership(org_id=org.id, user_id=user.id, role=role))
        return user

    def membership(self, org: Organization, user: User) -> Membership:
        with self.app.app_context():
            return db.session.query(Membership).filter_by(org_id=org.id, user_id=user.id).one()

    def site(self, org: Organization, name: str | None = None) -> Site:
        return self._save(Site(org_id=org.id, name=name or f"Site {next(_counter)}"))

    def invite(
        self,
        org: Organization,
        by: User,
        role: str = Role.AUDITOR,
        email: str | None = None,
        lifetime: timedelta = timedelta(days=7),
    ) -> NewInvite:
        with self.app.app_context():
            actor = db.session.query(Membership).filter_by(org_id=org.id, user_id=by.id).one()
            return create_invite(actor, role=role, email=email, now=utcnow(), lifetime=lifetime)

    def checklist(
        self, org: Organization, by: User | None = None, definition: dict | None = None, publish: bool = True
    ):
        """A checklist with `definition` as its draft (SMALL_CHECKLIST by default), published as version 1."""
        definition = copy.deepcopy(definition or SMALL_CHECKLIST)
        with self.app.app_context():
            checklist = checklists.create_checklist(org.id, by.id if by else None, title=definition["title"])
            checklists.save_draft(checklist, definition)
            if publish:
                checklists.publish(checklist, by.id if by else None, utcnow())
            return checklist

    def audit(self, org: Organization, auditor: User, checklist=None, site: Site | None = None, scenario: str = ""):
        """An audit in progress by `auditor` (who must be a member), on SMALL_CHECKLIST unless given."""
        from shopper.audits.service import start_audit
        from shopper.checklists.models import Checklist

        checklist = checklist or self.checklist(org, by=auditor)
        site = site or self.site(org)
        with self.app.app_context():
            return start_audit(
                org_id=org.id,
                checklist=db.session.get(Checklist, checklist.id),
                site=db.session.get(Site, site.id),
                auditor_id=auditor.id,
                created_by_id=auditor.id,
                scenario=scenario,
                due_on=None,
                now=utcnow(),
            )

    def get(self, model, row_id):
        with self.app.app_context():
            return db.session.get(model, row_id)

    def find(self, model, **filters):
        with self.app.app_context():
            return db.session.query(model).filter_by(**filters).one_or_none()

    def count(self, model, **filters) -> int:
        with self.app.app_context():
            return db.session.query(model).filter_by(**filters).count()
