"""Reads of audits for lists and home pages, with their filters. The organization scope comes from the caller."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, exists, or_, select
from sqlalchemy.orm import selectinload

from shopper.audits.models import Audit, AuditEvent, AuditStatus
from shopper.checklists.models import Checklist
from shopper.checklists.sharing import visible
from shopper.extensions import db


@dataclass(frozen=True)
class AuditFilters:
    """The audit list's filters (read from the query string by forms.AuditFilterForm); None is "all"."""

    site_id: int | None = None
    checklist_id: int | None = None
    auditor_id: int | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None


def filtered(query: Select, filters: AuditFilters) -> Select:
    if filters.site_id:
        query = query.where(Audit.site_id == filters.site_id)
    if filters.checklist_id:
        query = query.where(Audit.checklist_id == filters.checklist_id)
    if filters.auditor_id:
        query = query.where(Audit.auditor_id == filters.auditor_id)
    if filters.status:
        query = query.where(Audit.status == filters.status)
    if filters.date_from:
        query = query.where(Audit.created_at >= datetime.combine(filters.date_from, time(), UTC))
    if filters.date_to:
        query = query.where(Audit.created_at < datetime.combine(filters.date_to + timedelta(days=1), time(), UTC))
    return query


def with_list_columns(query: Select) -> Select:
    """Everything a list row shows, loaded up front (no query per row)."""
    return query.options(
        selectinload(Audit.site),
        selectinload(Audit.checklist),
        selectinload(Audit.auditor),
        selectinload(Audit.version),
    ).order_by(Audit.created_at.desc())


def audits_of(org_id: int, auditor_id: int) -> list[Audit]:
    """An auditor's own audits: assigned first, then in progress, then the latest submitted."""
    rows = db.session.scalars(
        with_list_columns(select(Audit).where(Audit.org_id == org_id, Audit.auditor_id == auditor_id))
    ).all()
    order = {AuditStatus.ASSIGNED: 0, AuditStatus.IN_PROGRESS: 1, AuditStatus.SUBMITTED: 2}
    return sorted(rows, key=lambda a: order[AuditStatus(a.status)])


def known_to(org_id: int) -> Select[tuple[Checklist]]:
    """Its own checklists, those shared with it, and those its audits were walked on (a revoked consultancy's
    checklists stay known through the audits they made), for filters and dashboards."""
    walked = exists().where(Audit.checklist_id == Checklist.id, Audit.org_id == org_id)
    return select(Checklist).where(or_(visible(org_id), walked))


def events_of(audit: Audit) -> list[AuditEvent]:
    """The audit's history (assigned, started, submitted, reopened), oldest first."""
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.audit_id == audit.id).order_by(AuditEvent.at)))
