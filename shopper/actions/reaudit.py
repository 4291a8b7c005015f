"""Walking a journey again, and reading two walks of it side by side (the comparison itself is in compare.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from shopper.actions.compare import Comparison, FindingFact, WalkFacts, compare_walks
from shopper.actions.service import ActionError
from shopper.audits.models import Answer, Audit, AuditStatus, Finding, TouchpointVisit
from shopper.audits.service import AuditError, start_audit
from shopper.extensions import db
from shopper.orgs.access import Access
from shopper.orgs.models import Role


def start_reaudit(audit: Audit, actor: Access, auditor_id: int, now: datetime) -> Audit:
    """A new walk of a submitted audit's journey: same checklist (its latest published version), same site and
    scenario. Owners and managers may hand it to anyone who works there; an auditor may walk their own audit again."""
    if audit.org_id != actor.org_id:
        raise ActionError("That audit is not part of this organization.", 404)
    if not audit.is_submitted:
        raise ActionError("Walk it again once this walk is submitted.", 409)
    manager = actor.role_enum.at_least(Role.MANAGER)
    if not manager and (audit.auditor_id != actor.user_id or auditor_id != actor.user_id):
        raise ActionError("Only owners and managers can hand a walk to someone else.", 403)
    try:
        return start_audit(
            org_id=audit.org_id,
            checklist=audit.checklist,
            site=audit.site,
            auditor_id=auditor_id,
            created_by_id=actor.user_id,
            scenario=audit.scenario or "",
            due_on=None,
            now=now,
        )
    except AuditError as e:
        raise ActionError(str(e), e.status) from e


def previous_walk(audit: Audit, walked_by: int | None = None) -> Audit | None:
    """The latest submitted walk of the same checklist at the same site before this one (any version); with
    `walked_by`, only among that person's own walks (an auditor sees no one else's)."""
    query = select(Audit).where(
        Audit.org_id == audit.org_id,
        Audit.checklist_id == audit.checklist_id,
        Audit.site_id == audit.site_id,
        Audit.status == AuditStatus.SUBMITTED,
        Audit.id != audit.id,
    )
    if audit.submitted_at is not None:
        query = query.where(Audit.submitted_at < audit.submitted_at)
    if walked_by is not None:
        query = query.where(Audit.auditor_id == walked_by)
    return db.session.scalar(
        query.options(joinedload(Audit.version)).order_by(Audit.submitted_at.desc(), Audit.id.desc()).limit(1)
    )


def walk_facts(audits: Sequence[Audit]) -> dict[int, WalkFacts]:
    """The plain facts of submitted walks, in three queries however many walks and answers."""
    ids = [audit.id for audit in audits]
    answers: dict[int, dict] = {audit_id: {} for audit_id in ids}
    for row in db.session.execute(
        select(Answer.audit_id, Answer.item_key, Answer.value).where(Answer.audit_id.in_(ids))
    ):
        answers[row.audit_id][row.item_key] = row.value
    verdicts: dict[int, dict] = {audit_id: {} for audit_id in ids}
    wrapped: dict[int, set] = {audit_id: set() for audit_id in ids}
    visits = select(
        TouchpointVisit.audit_id, TouchpointVisit.touchpoint_key, TouchpointVisit.effort, TouchpointVisit.promise_kept
    ).where(TouchpointVisit.audit_id.in_(ids))
    for row in db.session.execute(visits):
        verdicts[row.audit_id][row.touchpoint_key] = row.promise_kept
        if row.effort is not None or row.promise_kept is not None:
            wrapped[row.audit_id].add(row.touchpoint_key)
    findings: dict[int, list] = {audit_id: [] for audit_id in ids}
    for f in db.session.scalars(select(Finding).where(Finding.audit_id.in_(ids)).order_by(Finding.position)):
        findings[f.audit_id].append(FindingFact(f.touchpoint_key, f.item_key, f.prompt, f.reason, f.critical))
    return {
        audit.id: WalkFacts(
            definition=audit.version.definition,
            submitted_at=audit.submitted_at,
            score=audit.score,
            touchpoint_scores={tp["key"]: tp.get("score") for tp in (audit.result or {}).get("touchpoints", [])},
            answers=answers[audit.id],
            verdicts=verdicts[audit.id],
            wrapped=frozenset(wrapped[audit.id]),
            findings=tuple(findings[audit.id]),
        )
        for audit in audits
    }


def comparison_for(audit: Audit, walked_by: int | None = None) -> tuple[Audit, Comparison] | None:
    """The submitted audit against its previous walk, or None when it is the first (or is not submitted). With
    `walked_by`, the previous walk is that person's own: an auditor compares only walks they may see."""
    if not audit.is_submitted:
        return None
    previous = previous_walk(audit, walked_by)
    if previous is None:
        return None
    facts = walk_facts([previous, audit])
    return previous, compare_walks(facts[previous.id], facts[audit.id])
