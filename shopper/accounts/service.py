"""Accounts: sign-up, sign-in with throttling, new passwords (changed, or reset with a link), email confirmation.
Plain functions, no request objects.

Throttling never lets a stranger lock the owner out. Failed sign-ins are counted three ways over a window:
- per account and client: from one address, or from one known browser (one whose device cookie signed in to the
  account before; see accounts/sessions.py);
- per address, across accounts (an attacker trying many accounts from one place);
- per account from browsers it does not know, across addresses (a spread-out guessing attack).
A known browser is held only to its own failures, so ten wrong passwords from anyone else never keep the real owner
out of their own phone; a new browser is held to all three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, func, select

from shopper.accounts import sessions
from shopper.accounts.models import LoginAttempt, PasswordReset, User
from shopper.accounts.passwords import hash_password, password_problem, verify_password
from shopper.database import write_transaction
from shopper.events import AccountEvent, account_changed
from shopper.extensions import db
from shopper.links import LinkRefused, claim, find_link, hash_token, new_token

VERIFY_SALT = "shopper-verify-email"


class AccountError(ValueError):
    """A refusal whose message is shown to the person as is."""

    status = 400


class EmailTaken(AccountError):
    pass


class BadCredentials(AccountError):
    pass


class WrongPassword(AccountError):
    pass


class ResetRefused(AccountError):
    status = 403


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
    #: failures on one account from one address, or from one known browser
    max_per_client: int
    #: failures from one address, whatever the accounts
    max_per_ip: int
    #: failures on one account from browsers that never signed in to it, whatever the addresses
    max_per_account: int


@dataclass(frozen=True)
class Client:
    """Where a sign-in comes from."""

    ip: str
    device_token: str | None = None
    user_agent: str = ""


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


# Signing in ---------------------------------------------------------------------------------------------------


def _retry_after(criteria, limit: int, policy: ThrottlePolicy, now: datetime) -> int | None:
    count, oldest = db.session.execute(
        select(func.count(), func.min(LoginAttempt.attempted_at)).where(
            *criteria, LoginAttempt.attempted_at > now - policy.window
        )
    ).one()
    if count < limit:
        return None
    # The oldest counted failure leaves the window first; from then on one more attempt is allowed.
    return max(1, math.ceil((oldest + policy.window - now).total_seconds()))


def _waits(email: str, ip: str, device: str | None, policy: ThrottlePolicy, now: datetime) -> list[int]:
    if device is not None:
        checks = [((LoginAttempt.email == email, LoginAttempt.known_device == device), policy.max_per_client)]
    else:
        unknown = LoginAttempt.known_device.is_(None)
        checks = [
            ((LoginAttempt.email == email, LoginAttempt.ip == ip, unknown), policy.max_per_client),
            ((LoginAttempt.ip == ip, unknown), policy.max_per_ip),
            ((LoginAttempt.email == email, unknown), policy.max_per_account),
        ]
    waits = (_retry_after(criteria, limit, policy, now) for criteria, limit in checks)
    return [wait for wait in waits if wait is not None]


def authenticate(*, email: str, password: str, client: Client, policy: ThrottlePolicy, now: datetime) -> User:
    """The user for these credentials. Raises Throttled or BadCredentials; a failure is recorded in a transaction of
    its own, so it counts although the answer is a refusal."""
    email = normalize_email(email)[:254]
    ip = client.ip[:64]
    device = sessions.known_device(email, client.device_token)
    waits = _waits(email, ip, device, policy, now)
    if waits:
        raise Throttled(max(waits))
    user = find_user(email)
    if user is None or not verify_password(user.password_hash, password):
        with write_transaction():
            db.session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at <= now - policy.window))
            db.session.add(LoginAttempt(email=email, ip=ip, known_device=device, attempted_at=now))
        raise BadCredentials("That email and password do not match an account.")
    # The client proved itself: its own earlier failures no longer count against it.
    own = (
        LoginAttempt.known_device == device if device else (LoginAttempt.ip == ip) & LoginAttempt.known_device.is_(None)
    )
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == email, own))
    return user


def sign_in(user: User, client: Client, now: datetime) -> None:
    """Open a device session for an authenticated user and log the sign-in."""
    sessions.start(user, now=now, device_token=client.device_token, user_agent=client.user_agent, ip=client.ip)
    account_changed.send(
        user_id=user.id, kind=AccountEvent.SIGNED_IN, detail=device_words(client.user_agent), ip=client.ip, at=now
    )


def device_words(user_agent: str) -> str:
    """A browser as a person would name it: "Chrome on Android"."""
    agent = user_agent.lower()
    browser = next(
        (
            name
            for key, name in (("edg/", "Edge"), ("firefox", "Firefox"), ("chrome", "Chrome"), ("safari", "Safari"))
            if key in agent
        ),
        "A browser",
    )
    system = next(
        (
            name
            for key, name in (
                ("android", "Android"),
                ("iphone", "iPhone"),
                ("ipad", "iPad"),
                ("windows", "Windows"),
                ("mac os", "a Mac"),
                ("linux", "Linux"),
            )
            if key in agent
        ),
        "",
    )
    return f"{browser} on {system}" if system else browser


def sign_out(user: User, now: datetime) -> None:
    sessions.end(user, now)


def sign_out_everywhere(user: User, now: datetime) -> None:
    sessions.end_everywhere(user, now)
    account_changed.send(user_id=user.id, kind=AccountEvent.SIGNED_OUT_EVERYWHERE, at=now)


# New passwords ------------------------------------------------------------------------------------------------


def change_password(user: User, *, current: str, new: str, min_length: int, now: datetime) -> None:
    """A new password, chosen by the person who knows the old one. Every other device is signed out."""
    if not verify_password(user.password_hash, current):
        raise WrongPassword("Your current password is not right.")
    problem = password_problem(new, min_length=min_length, email=user.email)
    if problem:
        raise AccountError(problem)
    user.password_hash = hash_password(new)
    sessions.end_everywhere(user, now, keep_this_device=True)
    account_changed.send(user_id=user.id, kind=AccountEvent.PASSWORD_CHANGED, at=now)


@dataclass(frozen=True)
class NewReset:
    reset: PasswordReset
    token: str  # shown once, in the link


def request_reset(email: str, now: datetime, lifetime: timedelta) -> NewReset | None:
    """A reset link for the account with this address, to be mailed to it; None when there is no such account (the
    page says the same either way, so it reveals nobody's address). Earlier unused links of the account end."""
    user = find_user(email)
    if user is None:
        return None
    return new_reset(user, by_id=None, now=now, lifetime=lifetime)


def new_reset(user: User, *, by_id: int | None, now: datetime, lifetime: timedelta) -> NewReset:
    db.session.execute(
        PasswordReset.__table__.update()
        .where(
            PasswordReset.user_id == user.id,
            PasswordReset.accepted_at.is_(None),
            PasswordReset.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )
    token = new_token()
    reset = PasswordReset(
        user_id=user.id,
        email=user.email,
        token_hash=hash_token(token),
        created_by_id=by_id,
        created_at=now,
        expires_at=now + lifetime,
    )
    db.session.add(reset)
    db.session.flush()
    return NewReset(reset, token)


def find_reset(token: str, now: datetime) -> PasswordReset:
    """Raises LinkRefused when the link cannot be used."""
    return find_link(PasswordReset, token, now, noun="link", ask="Ask for a new one from the sign-in page.")


def reset_password(reset: PasswordReset, new: str, *, min_length: int, now: datetime) -> User:
    """Set the new password chosen through a reset link, once. Every session of the user ends. A link the person
    asked for was mailed to them, which proves they read that address: it counts as confirmed."""
    user = reset.user
    problem = password_problem(new, min_length=min_length, email=user.email)
    if problem:
        raise AccountError(problem)
    claim(reset, user.id, now, noun="link")
    user.password_hash = hash_password(new)
    mailed = reset.created_by_id is None
    if mailed and user.email == reset.email and user.email_verified_at is None:
        user.email_verified_at = now
    sessions.end_everywhere(user, now)
    account_changed.send(user_id=user.id, kind=AccountEvent.PASSWORD_RESET, at=now)
    return user


# Confirming an address ----------------------------------------------------------------------------------------


def verification_token(user: User, secret_key: str) -> str:
    return URLSafeTimedSerializer(secret_key, salt=VERIFY_SALT).dumps({"user": user.id, "email": user.email})


def verify_email(token: str, secret_key: str, max_age: int, now: datetime) -> User:
    """Confirm the address a mailed link was sent to. Raises LinkRefused for a wrong, old or outdated link."""
    try:
        data = URLSafeTimedSerializer(secret_key, salt=VERIFY_SALT).loads(token, max_age=max_age)
    except SignatureExpired:
        raise LinkRefused("This confirmation link has expired. Ask for a new one from your account page.") from None
    except BadSignature:
        raise LinkRefused("This confirmation link is not valid.") from None
    user = db.session.get(User, data.get("user")) if isinstance(data, dict) else None
    if user is None or user.email != data.get("email"):
        raise LinkRefused("This confirmation link is for an address this account no longer uses.")
    if user.email_verified_at is None:
        user.email_verified_at = now
    return user
