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
from shopper.orgs.access import access_for
from shopper.orgs.models import ClientLink, LinkRole, Membership, Organization, OrgKind, Role, Site
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
            actor = access_for(by.id, org.slug)
            new = create_invite(actor, role=role, email=email, now=utcnow(), lifetime=lifetime)
            db.session.commit()
            return new

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
            db.session.commit()
            return checklist

    def audit(self, org: Organization, auditor: User, checklist=None, site: Site | None = None, scenario: str = ""):
        """An audit in progress by `auditor` (a member or a linked consultant), on SMALL_CHECKLIST unless given."""
        from shopper.audits.service import start_audit
        from shopper.checklists.models import Checklist

        checklist = checklist or self.checklist(org, by=auditor)
        site = site or self.site(org)
        with self.app.app_context():
            audit = start_audit(
                org_id=org.id,
                checklist=db.session.get(Checklist, checklist.id),
                site=db.session.get(Site, site.id),
                auditor_id=auditor.id,
                created_by_id=auditor.id,
                scenario=scenario,
                due_on=None,
                now=utcnow(),
            )
            db.session.commit()
            return audit

    def consultancy(self, name: str | None = None) -> Organization:
        return self.org(name or f"Consultancy {next(_counter)}", kind=OrgKind.CONSULTANCY)

    def client_link(
        self, consultancy: Organization, client: Organization, role: str = LinkRole.CONSULTANT_MANAGER
    ) -> ClientLink:
        """An active link: `consultancy` serves `client` with `role`."""
        return self._save(ClientLink(consultancy_id=consultancy.id, client_id=client.id, role=role))

    def share(self, checklist, shared_with: str = "all", clients=()):
        """Publish a consultancy's checklist to all its clients, or (shared_with="chosen") to `clients`."""
        from shopper.checklists.models import Checklist, ChecklistShare

        with self.app.app_context():
            row = db.session.get(Checklist, checklist.id)
            row.shared_with = shared_with
            db.session.add_all(ChecklistShare(checklist_id=row.id, client_id=client.id) for client in clients)
            db.session.commit()
            return db.session.get(Checklist, checklist.id)

    def get(self, model, row_id):
        with self.app.app_context():
            return db.session.get(model, row_id)

    def find(self, model, **filters):
        with self.app.app_context():
            return db.session.query(model).filter_by(**filters).one_or_none()

    def count(self, model, **filters) -> int:
        with self.app.app_context():
            return db.session.query(model).filter_by(**filters).count()

    def submitted_audit(
        self,
        org: Organization,
        auditor: User,
        answers: dict,
        checklist=None,
        site: Site | None = None,
        submitted_at=None,
        verdicts: dict | None = None,
    ):
        """An audit walked with `answers` (item key -> value, or (value, note)) and submitted, optionally dated
        `submitted_at` (its measures and tallies follow it there); `verdicts` maps touchpoint keys to the wrap-up's
        promise kept (True/False)."""
        import uuid

        from shopper.audits import service as audits
        from shopper.audits import tallies
        from shopper.audits.models import Audit

        audit = self.audit(org, auditor, checklist=checklist, site=site)
        now = utcnow()
        with self.app.app_context():
            audit = db.session.get(Audit, audit.id)
            for n, (key, answer) in enumerate(answers.items(), start=1):
                value, note = answer if isinstance(answer, tuple) else (answer, "")
                audits.save_answer(
                    audit, auditor.id, uuid.uuid4().hex, key, {"value": value, "note": note, "client_ts": n}, now
                )
            for key, kept in (verdicts or {}).items():
                audits.save_visit(audit, auditor.id, uuid.uuid4().hex, key, {"promise_kept": kept, "client_ts": 1}, now)
            audits.submit(audit, auditor.id, uuid.uuid4().hex, now)
            if submitted_at is not None:
                first = audit.submitted_at
                audit.submitted_at = submitted_at
                tallies.write_measures(audit)
                tallies.retally(db.session.connection(), audit.org_id, audit.site_id, audit.checklist_id, first)
            db.session.commit()
            return db.session.get(Audit, audit.id)

    def action(self, audit, item_key: str, by: User, assignee: User | None = None, due_on=None, **fields):
        """An action for the finding `item_key` of a submitted audit, made by `by` (an owner or manager).
        `due_on` is written as given, even in the past (the service refuses past dates)."""
        from shopper.actions.models import Action
        from shopper.actions.service import ActionInput, create_action
        from shopper.audits.models import Audit, Finding

        with self.app.app_context():
            audit = db.session.get(Audit, audit.id)
            finding = db.session.query(Finding).filter_by(audit_id=audit.id, item_key=item_key).one()
            actor = access_for(by.id, db.session.get(Organization, audit.org_id).slug)
            data = ActionInput(
                title=fields.pop("title", f"Fix {item_key}"),
                assignee_id=assignee.id if assignee else None,
                **fields,
            )
            action = create_action(audit, finding, actor, data, utcnow())
            if due_on is not None:
                action.due_on = due_on
            db.session.commit()
            return db.session.get(Action, action.id)
