"""Indexes the dashboard's aggregate queries need on tables other packages own. Imported with every model."""

from sqlalchemy import Index

from shopper.actions.models import Action
from shopper.audits.models import Audit, Finding

#: submitted audits of an organization in a date range: every dashboard figure starts here
ix_audit_org_submitted = Index(
    "ix_audit_org_status_submitted",
    Audit.__table__.c.org_id,
    Audit.__table__.c.status,
    Audit.__table__.c.submitted_at,
)

#: "is there a finding in this touchpoint of this walk?", asked for every touchpoint of every walk in the range
ix_finding_audit_touchpoint = Index(
    "ix_finding_audit_touchpoint", Finding.__table__.c.audit_id, Finding.__table__.c.touchpoint_key
)

#: a site's latest walks of a checklist in a range (the dashboard's "latest score" and "previous" per site)
ix_audit_site_checklist_submitted = Index(
    "ix_audit_site_checklist_submitted",
    Audit.__table__.c.site_id,
    Audit.__table__.c.checklist_id,
    Audit.__table__.c.status,
    Audit.__table__.c.submitted_at,
    Audit.__table__.c.id,
)

#: the walks of a checklist, by organization (a published target change, the portfolio's comparisons)
ix_audit_checklist_org = Index("ix_audit_checklist_org", Audit.__table__.c.checklist_id, Audit.__table__.c.org_id)

#: the organization's actions by status and closing date: open and overdue counts, "done within the range"
ix_action_org_status_closed = Index(
    "ix_action_org_status_closed",
    Action.__table__.c.org_id,
    Action.__table__.c.status,
    Action.__table__.c.closed_at,
)
