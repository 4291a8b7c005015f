"""Every model, imported in one place so Alembic and the mapper registry see them all."""

from shopper.accounts.models import LoginAttempt, User
from shopper.audits.models import Answer, Audit, AuditEvent, Finding, Photo, SyncOp, TouchpointVisit
from shopper.checklists.models import Checklist, ChecklistVersion
from shopper.orgs.models import ClientLink, Invite, Membership, Organization, Site

__all__ = [
    "Answer",
    "Audit",
    "AuditEvent",
    "Finding",
    "Photo",
    "SyncOp",
    "TouchpointVisit",
    "Checklist",
    "ChecklistVersion",
    "ClientLink",
    "Invite",
    "LoginAttempt",
    "Membership",
    "Organization",
    "Site",
    "User",
]
