"""Who may do what to an action. Pure: a role, whether the person is the assignee, and the change they ask for.

Owners and managers create, assign, edit and close anything. The assignee, whatever their role, may move their own
action to "in progress" or "done" (with the proof that goes with it). Everyone else reads.
"""

from __future__ import annotations

from enum import StrEnum

from shopper.actions.models import ActionStatus
from shopper.orgs.models import Role


class Change(StrEnum):
    CREATE = "create"
    EDIT = "edit"  # title, detail, assignee, due date, priority
    STATUS = "status"


ASSIGNEE_STATUSES = frozenset({ActionStatus.DOING, ActionStatus.DONE})


def may_change(
    role: Role | str, is_assignee: bool, change: Change | str, status: ActionStatus | str | None = None
) -> bool:
    """Whether someone may make `change` (to `status`, for a status change). Unknown values are refused."""
    try:
        role, change = Role(role), Change(change)
        status = ActionStatus(status) if status is not None else None
    except ValueError:
        return False
    if role.at_least(Role.MANAGER):
        return change != Change.STATUS or status is not None
    return change == Change.STATUS and is_assignee and status in ASSIGNEE_STATUSES


def statuses_for(role: Role | str, is_assignee: bool) -> list[ActionStatus]:
    """The statuses someone may move an action to, in the order a form lists them."""
    return [status for status in ActionStatus if may_change(role, is_assignee, Change.STATUS, status)]
