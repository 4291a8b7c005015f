"""Every model, imported in one place so Alembic and the mapper registry see them all."""

from shopper.accounts.models import DeviceSession, LoginAttempt, PasswordReset, User
from shopper.actions.models import Action, ActionEvent
from shopper.audits.models import Answer, Audit, AuditEvent, Finding, Photo, PhotoTombstone, SyncOp, TouchpointVisit
from shopper.checklists.models import Checklist, ChecklistShare, ChecklistVersion
from shopper.clients.models import ClientInvite
from shopper.dashboard.models import ix_audit_org_submitted, ix_finding_audit_touchpoint
from shopper.orgs.models import ClientLink, Invite, Membership, Organization, Site
from shopper.orgs.security_log import SecurityEvent
from shopper.reports.models import ReportBundle, ReportPdf, ReportRequest, ShareLink

__all__ = [
    "Action",
    "ActionEvent",
    "Answer",
    "Audit",
    "AuditEvent",
    "Finding",
    "Photo",
    "PhotoTombstone",
    "SyncOp",
    "TouchpointVisit",
    "Checklist",
    "ChecklistShare",
    "ChecklistVersion",
    "ClientInvite",
    "ClientLink",
    "DeviceSession",
    "Invite",
    "LoginAttempt",
    "Membership",
    "Organization",
    "PasswordReset",
    "ReportBundle",
    "ReportPdf",
    "ReportRequest",
    "SecurityEvent",
    "ShareLink",
    "Site",
    "User",
    "ix_audit_org_submitted",
    "ix_finding_audit_touchpoint",
]
