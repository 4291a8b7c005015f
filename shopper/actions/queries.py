"""Reads of actions for lists and pages. Every read starts from the access layer's `visible(access, Action)` (or
`scoped(Action)` in a view): who sees which action is decided by `Action.visible_to` and nowhere else."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import selectinload

from shopper.actions.compare import Comparison
from shopper.actions.models import Action, ActionEvent, ActionStatus, Priority
from shopper.actions.reaudit import comparison_for
from shopper.audits.models import Audit, Finding
from shopper.extensions import db
from shopper.orgs.access import Access, people, visible
from shopper.orgs.models import Role

PAGE_SIZE = 50
ACTIVE = (ActionStatus.OPEN, ActionStatus.DOING)
#: the list's status choices: a status, or one of these views
VIEWS = {"active": "Open and in progress", "overdue": "Overdue", "closed": "Done and won't fix", "all": "All"}


@dataclass(frozen=True)
class ActionFilters:
    """The action list's filters (read from the query string by forms.ActionFilterForm)."""

    status: str = "active"
    assignee_id: int | None = None
    site_id: int | None = None
    page: int = 1

    def as_args(self, page: int | None = None) -> dict[str, str | int]:
        """The query string that shows this list again, on `page`."""
        args: dict[str, str | int] = {"status": self.status} if self.status != "active" else {}
        if self.assignee_id:
            args["assignee"] = self.assignee_id
        if self.site_id:
            args["site"] = self.site_id
        if (page or self.page) > 1:
            args["page"] = page or self.page
        return args


def _priority_rank():
    return case({Priority.HIGH.value: 0, Priority.NORMAL.value: 1, Priority.LOW.value: 2}, value=Action.priority)


def with_list_columns(query: Select) -> Select:
    """Everything a list row shows, loaded up front (no query per row)."""
    return query.options(
        selectinload(Action.assignee),
        selectinload(Action.audit).selectinload(Audit.site),
        selectinload(Action.audit).selectinload(Audit.checklist),
    )


def filtered(query: Select, filters: ActionFilters, today: date) -> Select:
    if filters.status == "active":
        query = query.where(Action.status.in_(ACTIVE))
    elif filters.status == "overdue":
        query = query.where(Action.status.in_(ACTIVE), Action.due_on < today)
    elif filters.status == "closed":
        query = query.where(Action.status.in_([ActionStatus.DONE, ActionStatus.WONT_FIX]))
    elif filters.status != "all":
        query = query.where(Action.status == filters.status)
    if filters.assignee_id:
        query = query.where(Action.assignee_id == filters.assignee_id)
    if filters.site_id:
        query = query.where(Action.audit_id.in_(select(Audit.id).where(Audit.site_id == filters.site_id)))
    return query


def ordered(query: Select) -> Select:
    """Still to do first, soonest due first (no date last), high priority first; then the latest closed."""
    return query.order_by(
        Action.closed_at.is_not(None),
        Action.closed_at.desc(),
        Action.due_on.is_(None),
        Action.due_on,
        _priority_rank(),
        Action.id,
    )


def page_of(query: Select, page: int) -> Select:
    return query.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)


def last_page(total: int) -> int:
    return max(1, -(-total // PAGE_SIZE))


def count_of(query: Select) -> Select:
    return select(func.count()).select_from(query.order_by(None).subquery())


def my_actions(query: Select, user_id: int, closed_since: datetime) -> Select:
    """A member's actions: everything still to do, and what they closed since `closed_since`."""
    query = query.where(
        Action.assignee_id == user_id, or_(Action.closed_at.is_(None), Action.closed_at >= closed_since)
    )
    return ordered(with_list_columns(query))


def finding_of(action: Action) -> Finding | None:
    """The finding the action fixes, found again by item key (None once a new submission no longer finds it)."""
    return db.session.scalar(
        select(Finding).where(Finding.audit_id == action.audit_id, Finding.item_key == action.item_key)
    )


def history(action_id: int) -> Select:
    return (
        select(ActionEvent)
        .where(ActionEvent.action_id == action_id)
        .options(selectinload(ActionEvent.user))
        .order_by(ActionEvent.at, ActionEvent.id)
    )


@dataclass(frozen=True)
class AuditBlock:
    """What the submitted audit's page shows about actions and the previous walk."""

    findings: int
    planned: int
    may_plan: bool
    may_walk_again: bool
    #: (id, name) of the people who may walk it again, for those who choose
    auditors: list
    previous: Audit | None
    comparison: Comparison | None


def audit_block(audit: Audit, access: Access) -> AuditBlock:
    """The actions part of a submitted audit's page, as `access` sees it."""
    manager = access.role_enum.at_least(Role.MANAGER)
    planned = db.session.scalar(count_of(visible(access, Action).where(Action.audit_id == audit.id)))
    found = comparison_for(audit, None if manager else access.user_id)
    return AuditBlock(
        findings=len(audit.findings),
        planned=planned,
        may_plan=manager,
        may_walk_again=manager or audit.auditor_id == access.user_id,
        auditors=list(db.session.execute(people(access.org_id))) if manager else [],
        previous=found[0] if found else None,
        comparison=found[1] if found else None,
    )


def last_improvement(access: Access) -> Action | None:
    """The latest action closed as done that `access` may see: the answer to "what was the last thing you
    improved?"."""
    return db.session.scalar(
        with_list_columns(visible(access, Action).where(Action.status == ActionStatus.DONE))
        .order_by(Action.closed_at.desc(), Action.id.desc())
        .limit(1)
    )
