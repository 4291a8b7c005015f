"""Alembic environment, run through Flask-Migrate inside the app, so it uses the app's engine and models.

On SQLite, batch mode rebuilds a table by copying it, dropping the original and renaming the copy. With foreign
keys enforced, that DROP fails when other rows refer to the table, or, worse, runs their ON DELETE CASCADE. So,
as Alembic's batch documentation asks, foreign keys are off while migrations run (the pragma is a no-op inside a
transaction, so it is set before the first BEGIN) and, when a revision was applied, `PRAGMA foreign_key_check`
must come back empty before the migrations commit. SQLite's DDL is transactional, so every step of one command
runs in one transaction: a failure or a broken reference leaves the database as it was. Foreign keys are switched
on again before the connection goes back to the pool.
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config
fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db
config.set_main_option("sqlalchemy.url", target_db.engine.url.render_as_string(hide_password=False).replace("%", "%%"))


def run_migrations_offline():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=target_db.metadata, literal_binds=True
    )
    with context.begin_transaction():
        context.run_migrations()


def _sqlite_foreign_keys(connection, on):
    """Set the pragma on the driver's connection: through SQLAlchemy it would open a transaction first."""
    connection.connection.dbapi_connection.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _check_foreign_keys(connection):
    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        shown = ", ".join(f"{table} row {rowid} -> {parent}" for table, rowid, parent, _ in broken[:10])
        raise RuntimeError(
            f"nothing was migrated: {len(broken)} rows have foreign keys that point nowhere ({shown}); "
            "correct or delete those rows, then migrate again"
        )


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        """`flask db migrate` with no model change writes no empty revision."""
        if getattr(config.cmd_opts, "autogenerate", False) and directives[0].upgrade_ops.is_empty():
            directives[:] = []
            logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    conf_args.setdefault("process_revision_directives", process_revision_directives)
    with target_db.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            conf_args.setdefault("transactional_ddl", True)
            _sqlite_foreign_keys(connection, on=False)
        try:
            context.configure(connection=connection, target_metadata=target_db.metadata, **conf_args)
            migration = context.get_context()
            with context.begin_transaction():
                before = migration.get_current_heads()
                context.run_migrations()
                if sqlite and migration.get_current_heads() != before:
                    _check_foreign_keys(connection)
        finally:
            if sqlite:
                _sqlite_foreign_keys(connection, on=True)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
