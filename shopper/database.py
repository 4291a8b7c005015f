"""Engine settings that the measured facts in DESIGN.md ask for.

SQLite: WAL, synchronous=NORMAL, foreign keys, a 5 s busy timeout, and every transaction opened with
BEGIN IMMEDIATE. With a plain (deferred) BEGIN, two gunicorn workers that read and then write fail at once with
"database is locked" whatever the timeout; IMMEDIATE takes the write lock up front, so the busy timeout applies.
This is SQLAlchemy's documented pysqlite recipe: the driver's own transaction handling is switched off and we emit
BEGIN ourselves.
"""

from __future__ import annotations

from sqlalchemy import Engine, event

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


def normalize_database_url(url: str) -> str:
    """Let people paste the URL their host gives them (postgres://...) and still get psycopg 3."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def configure_engine(engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection):
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def render_migration_item(type_, obj, autogen_context):
    """Migrations spell the UTC column type as the plain DateTime it stores, so they never import app code."""
    from shopper.timeutil import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False
