"""Signals by which a feature package tells the packages above it that something changed, without importing them.

Imports flow one way (accounts below orgs, audits and actions below reports), yet the security log must hear of a
sign-in and the report of a submission. The package below sends a signal; the package above connects to it when it
is imported (create_app imports every package). Receivers run at once, in the sender's transaction.
"""

from __future__ import annotations

from enum import StrEnum

from blinker import Namespace

_signals = Namespace()


class AccountEvent(StrEnum):
    """What happened to a person's own account. Each is also an event of the organizations' security log."""

    SIGNED_IN = "signed_in"
    SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"
    PASSWORD_CHANGED = "password_changed"
    PASSWORD_RESET = "password_reset"


#: Something happened to a person's account (accounts sends it; the security log of each of their organizations
#: records it, in the same transaction): sent with `user_id`, `kind` (an AccountEvent), `at`, and maybe `detail`
#: and `ip`.
account_changed = _signals.signal("account-changed")

#: What these audits' reports show changed (a submission, an action plan): sent with `audit_ids`.
report_changed = _signals.signal("report-changed")

#: A checklist published a new version (checklists sends it, in the publishing transaction): sent with
#: `checklist_id`, `previous` (the definition it replaces, or None) and `definition`.
checklist_published = _signals.signal("checklist-published")
