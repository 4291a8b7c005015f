"""Indexes the dashboard's aggregate queries need on tables other packages own. Imported with every model."""

from sqlalchemy import Index

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
