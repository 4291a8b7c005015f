"""Signed-in devices, and ending them.

Signing in starts a `DeviceSession`; the session cookie and the remember-me cookie both carry
"<user id>:<generation>:<device session id>", and Flask-Login's user loader (`load`) accepts them only while that
device session is open and the generation is the user's current one. So:
- signing out ends this device's session, and every copy of its cookies with it, while other devices stay signed in;
- "sign out everywhere", a new password, a role taken away or a membership removed bump the user's generation,
  which ends every session of the user at once (a new password keeps the device it was chosen on).

Each browser also keeps a long-lived device cookie, a random token whose SHA-256 the device sessions record. A
later sign-in from a browser whose cookie signed in to the account before comes from a known device: sign-in
throttling then counts only that browser's own failures (see accounts/service.py).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import g
from sqlalchemy import Row, Select, bindparam, select, update

from shopper.accounts.models import DeviceSession, User
from shopper.extensions import db
from shopper.links import hash_token

DEVICE_COOKIE = "shopper_device"
DEVICE_COOKIE_DAYS = 400


def new_device_token() -> str:
    return secrets.token_urlsafe(32)


def start(user: User, *, now: datetime, device_token: str | None = None, user_agent: str = "", ip: str = "") -> str:
    """Open a device session for `user` (added, not committed) and return the identifier its cookies carry."""
    row = DeviceSession(
        id=secrets.token_urlsafe(24),
        user_id=user.id,
        device_hash=hash_token(device_token) if device_token else None,
        user_agent=user_agent[:200],
        ip=ip[:64],
        created_at=now,
    )
    db.session.add(row)
    db.session.flush()
    user.device_session_id = row.id
    return user.get_id()


def _parse(identifier: str) -> tuple[int, int, str] | None:
    """(user id, generation, device session id) of a cookie's identifier, or None when it is malformed."""
    user_id, _, rest = identifier.partition(":")
    generation, _, session_id = rest.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and generation.isascii() and generation.isdigit()):
        return None
    if not session_id or len(session_id) > 32 or len(user_id) > 18 or len(generation) > 18:
        return None
    return int(user_id), int(generation), session_id


_signed_in = (
    select(User)
    .join(DeviceSession, DeviceSession.user_id == User.id)
    .where(
        User.id == bindparam("user_id"), DeviceSession.id == bindparam("session_id"), DeviceSession.ended_at.is_(None)
    )
)


def signed_in_query() -> Select:
    """The user loader's SELECT of the signed-in User (bound parameters user_id and session_id), for `load_with`."""
    return _signed_in


def load_with(query: Select, params: dict[str, Any], receive: Callable[[Row | None], None]) -> None:
    """Have this request's user loader run `query` instead of its own: `signed_in_query()` with more entities and
    outer joins, built once, with `params` bound besides its own. `receive` gets the row (None when the cookie
    signs nobody in). The access layer reads the person's membership of the organization in the URL this way: one
    query instead of two on every organization page."""
    g._load_with = (query, params, receive)


def load(identifier: str) -> User | None:
    """The user of a session cookie, or None when its device session has ended or its generation has passed."""
    parsed = _parse(identifier)
    if parsed is None:
        return None
    user_id, generation, session_id = parsed
    query, params, receive = g.pop("_load_with", (_signed_in, {}, None))
    row = db.session.execute(query, {**params, "user_id": user_id, "session_id": session_id}).first()
    if row is not None and row[0].session_version != generation:
        row = None
    if receive is not None:
        receive(row)
    if row is None:
        return None
    user = row[0]
    user.device_session_id = session_id
    return user


def end(user: User, now: datetime) -> None:
    """End this device's session (not committed)."""
    if user.device_session_id:
        db.session.execute(update(DeviceSession).where(DeviceSession.id == user.device_session_id).values(ended_at=now))


def end_everywhere(user: User, now: datetime, *, keep_this_device: bool = False) -> None:
    """End every session of the user, on every device, by moving to a new generation (not committed). With
    `keep_this_device` the request's own device session stays open; the caller signs it in again, since its
    cookies carry the old generation."""
    user.session_version += 1
    keep = user.device_session_id if keep_this_device else None
    db.session.execute(
        update(DeviceSession)
        .where(DeviceSession.user_id == user.id, DeviceSession.ended_at.is_(None), DeviceSession.id != (keep or ""))
        .values(ended_at=now)
    )


def end_everywhere_for(user_id: int, now: datetime) -> None:
    """End every session of another person (their role was taken away, or their membership removed)."""
    user = db.session.get(User, user_id)
    if user is not None:
        end_everywhere(user, now)


def known_device(email: str, device_token: str | None) -> str | None:
    """The device cookie's hash when this browser signed in to the account with `email` before; else None."""
    if not device_token or len(device_token) > 100:
        return None
    device_hash = hash_token(device_token)
    found = db.session.scalar(
        select(DeviceSession.id)
        .join(User, User.id == DeviceSession.user_id)
        .where(User.email == email, DeviceSession.device_hash == device_hash)
        .limit(1)
    )
    return device_hash if found is not None else None


def open_sessions(user: User) -> list[DeviceSession]:
    """The user's open device sessions, newest first (the account page lists them)."""
    return list(
        db.session.scalars(
            select(DeviceSession)
            .where(DeviceSession.user_id == user.id, DeviceSession.ended_at.is_(None))
            .order_by(DeviceSession.created_at.desc())
        )
    )
