"""Password rules: long enough, not on the list of passwords everyone tries first."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

COMMON_PASSWORDS_FILE = Path(__file__).with_name("common_passwords.txt")
MAX_LENGTH = 200
# A real hash of a random string, checked against when the account does not exist, so a wrong email costs as long
# as a wrong password and timing does not reveal which accounts exist.
_DUMMY_HASH = generate_password_hash("not-a-real-password-2f1c9a")


@cache
def common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def password_problem(password: str, *, min_length: int, email: str | None = None) -> str | None:
    """Why this password is refused, in words for the person choosing it; None when it is fine."""
    if len(password) < min_length:
        return f"Use at least {min_length} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    if lowered in common_passwords() or len(set(lowered)) < 3:
        return "That password is one of the first that attackers try. Choose another."
    if email and lowered in {email.lower(), email.split("@")[0].lower()}:
        return "Do not use your email address as your password."
    return None


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    return check_password_hash(password_hash or _DUMMY_HASH, password) and password_hash is not None
