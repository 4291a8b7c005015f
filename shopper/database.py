"""Engine settings that the measured facts in DESIGN.md ask for.

SQLite: WAL, synchronous=NORMAL, foreign keys, a busy timeout (SQLITE_BUSY_TIMEOUT_MS, 5 s), and transactions
opened with BEGIN IMMEDIATE. Past the busy timeout the request answers 503 with Retry-After (see errors.py).
With a plain (deferred) BEGIN, two gunicorn workers that read and then write fail at once with "database is
locked" whatever the timeout; IMMEDIATE takes the write lock up front, so the busy timeout applies. This is
SQLAlchemy's documented pysqlite recipe: the driver's own transaction handling is switched off and we emit BEGIN
ourselves.

IMMEDIATE for every transaction serializes whole requests, though: the lock is taken by the first read (loading
the signed-in user) and held until the commit. The phone's API, which takes hundreds of small writes a second,
therefore reads first in a deferred transaction (`reads_first()`) and does each write in `write_transaction()`,
which ends the reading transaction and holds the write lock only for the write itself. Every other request keeps
the safe default.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from flask import g, has_app_context
from sqlalchemy import Engine, event, text

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
)


def normalize_database_url(url: str) -> str:
    """Let people paste the URL their host gives them (postgres://...) and still get psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def configure_engine(engine: Engine, busy_timeout_ms: int = 5000) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection):
        deferred = has_app_context() and g.get("_reads_first", False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def reads_first() -> None:
    """This request's transactions read without the write lock until a `write_transaction()` needs it."""
    g._reads_first = True


def ping() -> None:
    """Ask the database for nothing, to know it answers; raises SQLAlchemyError when it does not."""
    from shopper.extensions import db

    db.session.execute(text("SELECT 1"))


def slow_before_writing(view):
    """Mark a view that does slow work (decoding a photo, say) before it writes: its request reads without the write
    lock from the first query on, and its service writes in `write_transaction()`, so the lock is held only for the
    write itself."""
    view.reads_first = True
    return view


def init_app(app) -> None:
    @app.url_value_preprocessor
    def _reads_first_for_marked_views(endpoint, values) -> None:
        if getattr(app.view_functions.get(endpoint), "reads_first", False):
            reads_first()


# Threads of one worker queue here for SQLite's write lock instead of in SQLite's busy handler, which sleeps in
# steps of up to 100 ms and so turns a 1 ms wait into a slow request.
_sqlite_writer = threading.Lock()


def end_reading() -> None:
    """End the transaction that has been reading before slow work (decoding a photo), so that no snapshot or lock
    is held across it. It commits, so nothing flushed before it is lost."""
    from shopper.extensions import db

    db.session.commit()


@contextmanager
def write_transaction(*, only_read_before: bool = False) -> Iterator[None]:
    """Run the block in a transaction of its own that writes: committed at the end, rolled back on an error.

    The transaction that was reading is ended first, so objects loaded before are refreshed inside the block
    (under the write lock on SQLite): checks made there see the latest committed state.

    `only_read_before` is the caller's word that nothing was written or flushed before the block, and that the block
    checks what it relies on with statements of its own (the phone's writes: the revision bump locks the audit and
    answers for its status). On PostgreSQL the block then goes on in the reading transaction, whose every statement
    sees what was committed before it (READ COMMITTED): one transaction per write instead of two. SQLite always
    starts a new one, since its write lock must be taken by BEGIN IMMEDIATE.
    """
    from shopper.extensions import db

    sqlite = db.session.get_bind().dialect.name == "sqlite"
    if sqlite or not only_read_before:
        db.session.commit()
    previous = g.get("_reads_first", False) if has_app_context() else False
    if has_app_context():
        g._reads_first = False
    try:
        with _sqlite_writer if sqlite else nullcontext():
            try:
                yield
                db.session.commit()
            except BaseException:
                db.session.rollback()
                raise
    finally:
        if has_app_context():
            g._reads_first = previous


def render_migration_item(type_, obj, autogen_context):
    """Migrations spell the UTC column type as the plain DateTime it stores, so they never import app code."""
    from shopper.timeutil import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False
