"""Every model, imported in one place so Alembic and the mapper registry see them all."""

from shopper.accounts.models import LoginAttempt, User
from shopper.orgs.models import ClientLink, Invite, Membership, Organization, Site

__all__ = ["ClientLink", "Invite", "LoginAttempt", "Membership", "Organization", "Site", "User"]
