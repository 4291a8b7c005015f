"""Backups taken while the app writes, restored into a fresh instance that then serves its reports and photos."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask

from shopper.extensions import db
from tests.factories import Factories


@contextmanager
def committed_rows(app: Flask) -> Iterator[Factories]:
    """Factories that really commit, on an app of the test's own. Rows stay readable after their session ends, as
    in the suite's rolled-back sessions; the app's own session is back to normal once the block ends."""
    original = db.session
    db.session = db._make_scoped_session({"expire_on_commit": False})
    try:
        yield Factories(app)
    finally:
        db.session = original
