"""Factories that make real rows. Each returns detached objects whose columns stay readable."""

from __future__ import annotations

import itertools
from datetime import timedelta

from flask import Flask

from shopper.accounts.models import User
from shopper.accounts.passwords import hash_password
from shopper.extensions import db
from shopper.orgs.models import Membership, Organization, OrgKind, Role, Site
from shopper.orgs.service import NewInvite, create_invite
from shopper.timeutil import utcnow

PASSWORD = "correct horse battery staple"
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
            User(email=(email or f"person{n}@example.com").lower(), name=name or f"Person {n}", password_hash=PASSWORD_HASH)
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

    def invite(self, org: Organization, by: User, role: str = Role.AUDITOR, email: str | None = None,
               lifetime: timedelta = timedelta(days=7)) -> NewInvite:
        with self.app.app_context():
            actor = db.session.query(Membership).filter_by(org_id=org.id, user_id=by.id).one()
            return create_invite(actor, role=role, email=email, now=utcnow(), lifetime=lifetime)

    def get(self, model, row_id):
        with self.app.app_context():
            return db.session.get(model, row_id)

    def find(self, model, **filters):
        with self.app.app_context():
            return db.session.query(model).filter_by(**filters).one_or_none()

    def count(self, model, **filters) -> int:
        with self.app.app_context():
            return db.session.query(model).filter_by(**filters).count()
