"""Accounts: sign-up, sign-in with throttling, password change. Plain functions, no request objects."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from shopper.accounts.models import LoginAttempt, User
from shopper.accounts.passwords import hash_password, password_problem, verify_password
from shopper.extensions import db
from shopper.orgs.models import Organization
from shopper.orgs.service import create_organization


class AccountError(ValueError):
    """A refusal whose message is shown to the person as is."""


class EmailTaken(AccountError):
    pass


class BadCredentials(AccountError):
    pass


class WrongPassword(AccountError):
    pass


@dataclass
class Throttled(Exception):
    retry_after: int  # seconds

    @property
    def message(self) -> str:
        minutes = max(1, math.ceil(self.retry_after / 60))
        unit = "minute" if minutes == 1 else "minutes"
        return f"Too many failed sign-ins. For your safety, try again in {minutes} {unit}."


@dataclass(frozen=True)
class ThrottlePolicy:
    window: timedelta
    max_per_account: int
    max_per_ip: int


def normalize_email(email: str) -> str:
    return email.strip().lower()


def find_user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def create_user(*, email: str, name: str, password: str, min_length: int) -> User:
    """Create a user (not committed). Raises EmailTaken or AccountError for a refused password."""
    email = normalize_email(email)
    if find_user(email) is not None:
        raise EmailTaken("An account with this email already exists. Sign in instead.")
    problem = password_problem(password, min_length=min_length, email=email)
    if problem:
        raise AccountError(problem)
    user = User(email=email, name=name.strip(), password_hash=hash_password(password))
    db.session.add(user)
    db.session.flush()
    return user


def sign_up(
    *, name: str, email: str, password: str, org_name: str, org_kind: str, min_length: int
) -> tuple[User, Organization]:
    """A new person with their own organization, as its owner. Commits both or neither."""
    try:
        user = create_user(email=email, name=name, password=password, min_length=min_length)
        org = create_organization(name=org_name, kind=org_kind, owner=user)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return user, org


def _retry_after(column, value: str, limit: int, policy: ThrottlePolicy, now: datetime) -> int | None:
    since = now - policy.window
    count, oldest = db.session.execute(
        select(func.count(), func.min(LoginAttempt.attempted_at)).where(
            column == value, LoginAttempt.attempted_at > since
        )
    ).one()
    if count < limit:
        return None
    # The oldest counted failure leaves the window first; from then on one more attempt is allowed.
    return max(1, math.ceil((oldest + policy.window - now).total_seconds()))


def authenticate(*, email: str, password: str, ip: str, policy: ThrottlePolicy, now: datetime) -> User:
    """The user for these credentials. Raises Throttled or BadCredentials; failures are recorded and committed."""
    email = normalize_email(email)
    waits = [
        _retry_after(LoginAttempt.email, email, policy.max_per_account, policy, now),
        _retry_after(LoginAttempt.ip, ip, policy.max_per_ip, policy, now),
    ]
    waits = [w for w in waits if w is not None]
    if waits:
        raise Throttled(max(waits))
    user = find_user(email)
    if user is None or not verify_password(user.password_hash, password):
        db.session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at <= now - policy.window))
        db.session.add(LoginAttempt(email=email[:254], ip=ip[:64], attempted_at=now))
        db.session.commit()
        raise BadCredentials("That email and password do not match an account.")
    return user


def change_password(user: User, *, current: str, new: str, min_length: int) -> None:
    if not verify_password(user.password_hash, current):
        raise WrongPassword("Your current password is not right.")
    problem = password_problem(new, min_length=min_length, email=user.email)
    if problem:
        raise AccountError(problem)
    user.password_hash = hash_password(new)
    user.session_version += 1
    db.session.commit()
