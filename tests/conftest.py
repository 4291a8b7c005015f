"""Fixtures: one app per session on a temporary instance folder; every test inside a rolled-back transaction.

The database is real: SQLite in the temporary folder, or PostgreSQL when SHOPPER_TEST_DATABASE_URL is set.
Each test's session is bound to one connection inside an outer transaction and commits become SAVEPOINT
releases (SQLAlchemy's "join a Session into an external transaction" recipe), so a test can commit freely and
still leaves nothing behind.

Tests that use the client do not hold an app context themselves: each request then gets its own, as in
production (a held context would share `g`, and the signed-in user, between requests).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from flask_sqlalchemy.session import Session
from sqlalchemy import event

from shopper import create_app
from shopper.accounts import sessions
from shopper.extensions import db, limiter
from shopper.jobs import huey, run_pending
from shopper.timeutil import utcnow
from tests.factories import Factories
from tests.smtp_sink import SmtpSink

TEST_DATABASE_URL = os.environ.get("SHOPPER_TEST_DATABASE_URL")


def make_app(instance_path, **overrides) -> Flask:
    """An app on `instance_path` with the suite's settings. The instance folder reaches create_app through the
    environment, as in production; the variable is put back afterwards, so no other app follows it."""
    previous = os.environ.get("SHOPPER_INSTANCE_PATH")
    os.environ["SHOPPER_INSTANCE_PATH"] = str(instance_path)
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "WTF_CSRF_ENABLED": False,
        "DATABASE_URL": TEST_DATABASE_URL or f"sqlite:///{instance_path / 'test.sqlite3'}",
        "SERVER_NAME": "shopper.test",
        "JOBS_BACKEND": "memory",
    }
    config.update(overrides)
    try:
        return create_app(config)
    finally:
        if previous is None:
            os.environ.pop("SHOPPER_INSTANCE_PATH", None)
        else:
            os.environ["SHOPPER_INSTANCE_PATH"] = previous


@pytest.fixture(scope="session")
def app(tmp_path_factory) -> Iterator[Flask]:
    app = make_app(tmp_path_factory.mktemp("instance"))
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def csrf_app(tmp_path_factory, app) -> Flask:
    """The same database with CSRF protection on, as in production."""
    return make_app(
        tmp_path_factory.mktemp("instance-csrf"), WTF_CSRF_ENABLED=True, DATABASE_URL=app.config["DATABASE_URL"]
    )


class ConnectionBoundSession(Session):
    """Flask-SQLAlchemy's session picks its engine by bind key and ignores `bind=`; tests need the one connection."""

    def get_bind(self, mapper=None, clause=None, bind=None, **kwargs):
        return self.bind


@contextmanager
def rolled_back(app: Flask):
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
    original = db.session
    db.session = db._make_scoped_session(
        {
            "class_": ConnectionBoundSession,
            "bind": connection,
            "join_transaction_mode": "create_savepoint",
            "expire_on_commit": False,
        }
    )
    try:
        yield connection
    finally:
        with app.app_context():
            db.session.remove()
        db.session = original
        outer.rollback()
        connection.close()


@pytest.fixture(autouse=True)
def fresh_limits_and_queue(app) -> None:
    """Each test starts with no rate limit spent and no job waiting: both live in this process's memory."""
    limiter.reset()
    huey.flush()


def session_id_for(app: Flask, user) -> str:
    """What a signed-in browser's session cookie carries for `user`: a device session of its own."""
    with app.app_context():
        identifier = sessions.start(db.session.merge(user), now=utcnow())
        db.session.commit()
    return identifier


def download(client, url: str):
    """GET as a person does: what is being prepared in the background (202) is made by the job queue, as the
    consumer would, and asked for again. (status, headers, body)."""
    with client.get(url) as response:
        if response.status_code != 202:
            return response.status_code, response.headers, response.data
    with client.application.app_context():
        run_pending()
    with client.get(url) as response:
        return response.status_code, response.headers, response.data


@pytest.fixture
def database(app, tmp_path) -> Iterator[None]:
    """A rolled-back transaction, and a media folder of the test's own (files are not rolled back)."""
    media_root = app.config["MEDIA_ROOT"]
    app.config["MEDIA_ROOT"] = str(tmp_path / "media")
    with rolled_back(app):
        yield
    app.config["MEDIA_ROOT"] = media_root


@pytest.fixture
def smtp():
    """A real SMTP server on 127.0.0.1 that keeps what it receives."""
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def mailing(tmp_path, app, database, smtp) -> Flask:
    """The suite's database, with mail going to `smtp` (through the job queue: run it with `run_pending`)."""
    return make_app(
        tmp_path,
        DATABASE_URL=app.config["DATABASE_URL"],
        MAIL_SERVER="127.0.0.1",
        MAIL_PORT=smtp.port,
        MAIL_USE_TLS=False,
    )


@pytest.fixture
def ctx(app, database) -> Iterator[None]:
    """An app context held for the whole test: for service tests that use no client."""
    with app.app_context():
        yield


@pytest.fixture
def client(app, database):
    return app.test_client()


@pytest.fixture
def csrf_client(csrf_app, database):
    return csrf_app.test_client()


@pytest.fixture
def make(app, database) -> Factories:
    return Factories(app)


@pytest.fixture
def login(client):
    """Sign a user in without the form (the form itself is tested in test_accounts)."""

    def do(user, on=None):
        target = on or client
        identifier = session_id_for(target.application, user)
        with target.session_transaction() as session:
            session["_user_id"] = identifier
            session["_fresh"] = True
        return user

    return do


@pytest.fixture
def count_queries(app):
    """Counts SQL statements sent while the block runs: `with count_queries() as n: ...; n.count`."""

    class Counter:
        count = 0

    @contextmanager
    def counting():
        counter = Counter()

        def before(*_args, **_kwargs):
            counter.count += 1

        with app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            event.remove(engine, "before_cursor_execute", before)

    return counting
