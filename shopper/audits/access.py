"""Which audits a member may see: auditors their own, managers and owners every audit of the organization."""

from __future__ import annotations

from flask import abort
from flask_login import current_user
from sqlalchemy.orm import joinedload

from shopper.audits.models import Audit
from shopper.orgs.access import current_role, get_or_404
from shopper.orgs.models import Role


def may_see_all_audits() -> bool:
    return current_role().at_least(Role.MANAGER)


def get_audit_or_404(audit_id: int) -> Audit:
    audit = get_or_404(Audit, audit_id, options=[joinedload(Audit.version)])
    if not may_see_all_audits() and audit.auditor_id != current_user.id:
        abort(404)
    return audit
