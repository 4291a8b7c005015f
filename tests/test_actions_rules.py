"""Who may do what to an action: the rule is a pure function."""

import pytest

from shopper.actions.models import ActionStatus
from shopper.actions.rules import Change, may_change, statuses_for
from shopper.orgs.models import Role


@pytest.mark.parametrize("role", [Role.OWNER, Role.MANAGER])
@pytest.mark.parametrize("is_assignee", [True, False])
def test_owners_and_managers_may_do_everything(role, is_assignee):
    assert may_change(role, is_assignee, Change.CREATE)
    assert may_change(role, is_assignee, Change.EDIT)
    for status in ActionStatus:
        assert may_change(role, is_assignee, Change.STATUS, status)
    assert statuses_for(role, is_assignee) == list(ActionStatus)


@pytest.mark.parametrize("role", list(Role))
def test_the_assignee_may_move_their_own_action_to_in_progress_or_done_only(role):
    if role.at_least(Role.MANAGER):
        return
    assert may_change(role, True, Change.STATUS, ActionStatus.DOING)
    assert may_change(role, True, Change.STATUS, ActionStatus.DONE)
    assert not may_change(role, True, Change.STATUS, ActionStatus.OPEN)
    assert not may_change(role, True, Change.STATUS, ActionStatus.WONT_FIX)
    assert not may_change(role, True, Change.EDIT)
    assert not may_change(role, True, Change.CREATE)
    assert statuses_for(role, True) == [ActionStatus.DOING, ActionStatus.DONE]


def test_an_auditor_who_is_not_the_assignee_only_reads():
    assert not any(may_change(Role.AUDITOR, False, change, status) for change in Change for status in ActionStatus)
    assert not may_change(Role.AUDITOR, False, Change.CREATE)
    assert statuses_for(Role.AUDITOR, False) == []


def test_unknown_roles_changes_and_statuses_are_refused():
    assert not may_change("janitor", True, Change.STATUS, ActionStatus.DONE)
    assert not may_change(Role.OWNER, False, "delete")
    assert not may_change(Role.OWNER, False, Change.STATUS, "finished")
    assert not may_change(Role.OWNER, False, Change.STATUS, None)
    assert may_change("owner", False, "status", "done")
