"""The baseline for bench_autosave.py: a bare Flask endpoint that really inserts one row, served by the same
gunicorn settings on the same database (DATABASE_URL, SQLite with the app's engine settings, or PostgreSQL).

It is what any write endpoint costs at least: the request, one JSON body, one INSERT in its own transaction (BEGIN
IMMEDIATE on SQLite, as the app's writes take), no session, no sign-in, no access check, no idempotency.
"""

import os

from flask import Flask, request
from sqlalchemy import BigInteger, Column, Integer, MetaData, String, Table, create_engine, insert

from shopper.database import configure_engine, normalize_database_url

metadata = MetaData()
bare_write = Table(
    "bare_write",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("op_id", String(64), nullable=False, unique=True),
    Column("value", BigInteger, nullable=False),
)


def make_app() -> Flask:
    """The app on DATABASE_URL, whose bare_write table the bench has made (`metadata.create_all`)."""
    engine = create_engine(normalize_database_url(os.environ["DATABASE_URL"]))
    configure_engine(engine)
    statement = insert(bare_write)
    app = Flask(__name__)

    @app.put("/bare/insert")
    def bare_insert():
        payload = request.get_json()
        with engine.begin() as connection:
            connection.execute(statement, {"op_id": request.headers["Idempotency-Key"], "value": payload["value"]})
        return {"ok": True}

    return app
