"""The migrations build exactly the schema the models describe, and go down and up again cleanly, with data."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, func, inspect, select, table, text

from shopper.demo import load_demo
from shopper.extensions import db
from tests.conftest import TEST_DATABASE_URL, make_app

SCHEMA = "shopper_migration_test"


@pytest.fixture
def database_url(tmp_path):
    if not TEST_DATABASE_URL:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    # A schema of its own, so the suite's tables in the public schema are left alone.
    from shopper.database import normalize_database_url

    admin = create_engine(normalize_database_url(TEST_DATABASE_URL))
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    separator = "&" if "?" in TEST_DATABASE_URL else "?"
    yield f"{TEST_DATABASE_URL}{separator}options=-csearch_path%3D{SCHEMA}"
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    admin.dispose()


def _differences(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, db.metadata)


def test_upgrade_matches_the_models_then_down_and_up_again(tmp_path, database_url):
    app = make_app(tmp_path, DATABASE_URL=database_url)
    with app.app_context():
        upgrade()
        assert _differences(app) == []
        tables = set(inspect(db.engine).get_table_names())
        assert {
            "user",
            "organization",
            "membership",
            "site",
            "invite",
            "client_link",
            "checklist",
            "checklist_version",
            "audit",
            "answer",
            "photo",
            "finding",
            "sync_op",
            "share_link",
            "report_pdf",
            "action",
            "action_event",
            "client_invite",
            "checklist_share",
        } <= tables
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert _differences(app) == []
        db.engine.dispose()


def _revision():
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _row_counts():
    with db.engine.connect() as conn:
        names = set(inspect(conn).get_table_names()) - {"alembic_version"}
        return {name: conn.scalar(select(func.count()).select_from(table(name))) for name in names}


def test_every_downgrade_keeps_the_demo_data_and_upgrade_brings_it_back(tmp_path, database_url):
    """A downgrade on a populated database only drops what its revision added; SQLite's batch mode rebuilds tables
    that other rows refer to (0006 rebuilds `organization`), which failed with foreign keys enforced."""
    app = make_app(tmp_path, DATABASE_URL=database_url)
    with app.app_context():
        upgrade()
        load_demo()
        db.session.remove()
        head = _revision()
        before = _row_counts()
        assert before["organization"] >= 4 and before["audit"] >= 2 and before["photo"] >= 1

        downgrade(revision="0005_actions")  # through 0006, which rebuilds `organization`
        assert _revision() == "0005_actions"
        after = _row_counts()
        assert after == {name: before[name] for name in after}
        upgrade()
        assert _revision() == head
        again = _row_counts()
        assert {name: again[name] for name in after} == after
        assert _differences(app) == []
        assert load_demo().org.slug == "demo"  # the app still works on the migrated data
        db.session.remove()

        counts = _row_counts()
        while _revision() is not None:
            downgrade(revision="-1")
            remaining = _row_counts()
            assert remaining == {name: counts[name] for name in remaining}
            counts = remaining
        upgrade()
        assert _differences(app) == []
        db.engine.dispose()


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="PostgreSQL always enforces foreign keys; this is SQLite's check")
def test_a_migration_over_a_broken_reference_changes_nothing(tmp_path, capsys):
    """Foreign keys are off while SQLite migrates, so `PRAGMA foreign_key_check` decides before the commit."""
    app = make_app(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'broken.sqlite3'}")
    with app.app_context():
        upgrade()
        load_demo()
        db.session.remove()
        with db.engine.connect() as conn:
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=OFF")
            conn.exec_driver_sql("INSERT INTO site (org_id, name, created_at) VALUES (999, 'Nowhere', '2026-01-01')")
            conn.commit()
            conn.connection.dbapi_connection.execute("PRAGMA foreign_keys=ON")
        head, before = _revision(), _row_counts()
        with pytest.raises(SystemExit):  # Flask-Migrate logs the error and exits 1, as `flask db downgrade` does
            downgrade(revision="-1")
        assert "1 rows have foreign keys that point nowhere (site row" in capsys.readouterr().err
        upgrade()  # nothing to apply: no check, so `make run` still starts on such a database
        assert _revision() == head
        assert _revision() == head
        assert _row_counts() == before
        assert "white_label" in {c["name"] for c in inspect(db.engine).get_columns("organization")}
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        db.engine.dispose()
