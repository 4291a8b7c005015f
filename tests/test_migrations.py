"""The migrations build exactly the schema the models describe, and go down and up again cleanly."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import create_engine, inspect, text

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
