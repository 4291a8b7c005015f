"""A database whose rows are committed for real, for what the rolled-back test transaction cannot show: two
requests racing each other on their own connections.

`committed_database(folder)` is an app on a SQLite file of its own, or on a PostgreSQL schema of its own when
SHOPPER_TEST_DATABASE_URL is set, with the tables created; `seed_business` puts a business in it. `race(n, fn)` starts
`fn(i)` in n threads that wait for each other at a barrier, so they hit the database at the same moment, and returns
what each returned (or raised).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

from flask import Flask
from sqlalchemy import create_engine, text

from shopper.accounts.models import User
from shopper.database import normalize_database_url
from shopper.extensions import db
from shopper.orgs.models import Membership, Organization, OrgKind, Role, Site
from tests.conftest import TEST_DATABASE_URL, make_app
from tests.factories import PASSWORD_HASH

SCHEMA = "shopper_committed_test"


@contextmanager
def committed_database(folder: Path) -> Iterator[Flask]:
    admin = None
    if TEST_DATABASE_URL:
        admin = create_engine(normalize_database_url(TEST_DATABASE_URL), pool_pre_ping=True)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        separator = "&" if "?" in TEST_DATABASE_URL else "?"
        url = f"{TEST_DATABASE_URL}{separator}options=-csearch_path%3D{SCHEMA}"
    else:
        url = f"sqlite:///{folder / 'committed.sqlite3'}"
    app = make_app(folder, DATABASE_URL=url)
    with app.app_context():
        db.create_all()
    try:
        yield app
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        if admin is not None:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
            admin.dispose()


def seed_business(app: Flask, slug: str, *, role: str = Role.OWNER) -> SimpleNamespace:
    """A business called after `slug`, with one person of `role` and one site, committed for real. Ids only."""
    with app.app_context():
        org = Organization(name=slug.replace("-", " ").title(), slug=slug, kind=OrgKind.BUSINESS)
        person = User(email=f"{slug}@example.com", name=f"{slug} person", password_hash=PASSWORD_HASH)
        db.session.add_all([org, person])
        db.session.flush()
        site = Site(org_id=org.id, name="Main")
        db.session.add_all([site, Membership(org_id=org.id, user_id=person.id, role=role)])
        db.session.commit()
        return SimpleNamespace(org_id=org.id, slug=slug, user_id=person.id, site_id=site.id)


def race(n: int, fn: Callable[[int], object], timeout: float = 60) -> list[object]:
    """Run fn(0) ... fn(n-1) in n threads released together; each result, or the exception it raised."""
    barrier = threading.Barrier(n)
    results: list[object] = [None] * n

    def run(i: int) -> None:
        barrier.wait(timeout)
        try:
            results[i] = fn(i)
        except Exception as e:  # the caller looks at what each thread got
            results[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return results
