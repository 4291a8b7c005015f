"""Shopper: be-your-customer audits. create_app() assembles the application and does nothing else."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """templates/, static/ and migrations/ sit inside an installed wheel, or beside the package in a checkout."""
    packaged = PACKAGE_DIR / name
    return packaged if packaged.is_dir() else PACKAGE_DIR.parent / name


def create_app(test_config: dict | None = None) -> Flask:
    from shopper import (
        cli,
        database,
        errors,
        jobs,
        models,  # noqa: F401  (registers every model with the metadata)
        security,
        text,
    )
    from shopper.accounts import views as accounts_views
    from shopper.actions import cli as actions_cli
    from shopper.actions import views as actions_views
    from shopper.audits import api as audits_api
    from shopper.audits import views as audits_views
    from shopper.checklists import editor_views as checklist_editor_views
    from shopper.checklists import items as checklist_items
    from shopper.checklists import views as checklist_views
    from shopper.clients import portfolio_views
    from shopper.clients import views as clients_views
    from shopper.dashboard import views as dashboard_views
    from shopper.database import configure_engine, render_migration_item
    from shopper.extensions import compress, csrf, db, login_manager, migrate
    from shopper.home import views as home_views
    from shopper.instance import load_config
    from shopper.maintenance import cli as maintenance_cli
    from shopper.media import check_config, ingest
    from shopper.orgs import views as orgs_views
    from shopper.pwa import views as pwa_views
    from shopper.reports import views as reports_views
    from shopper.transactions import Shopper

    instance_path = os.environ.get("SHOPPER_INSTANCE_PATH") or str(PACKAGE_DIR.parent / "instance")
    app = Shopper(
        __name__,
        instance_path=str(Path(instance_path).resolve()),
        instance_relative_config=True,
        template_folder=str(resource_dir("templates")),
        static_folder=str(resource_dir("static")),
    )
    text.init_app(app)  # before any route is added: it sets the URL converters
    checklist_items.init_app(app)
    load_config(app, test_config)
    ingest.set_decode_concurrency(app.config["IMAGE_DECODE_CONCURRENCY"])
    check_config(app)

    db.init_app(app)
    database.init_app(app)
    with app.app_context():
        configure_engine(db.engine, app.config["SQLITE_BUSY_TIMEOUT_MS"])
    migrate.init_app(
        app,
        db,
        directory=str(resource_dir("migrations")),
        render_as_batch=True,
        compare_type=True,
        render_item=render_migration_item,
    )
    csrf.init_app(app)
    compress.init_app(app)
    login_manager.init_app(app)

    security.init_app(app)
    errors.init_app(app)
    jobs.init_app(app)
    app.register_blueprint(home_views.bp)
    app.register_blueprint(pwa_views.bp)
    pwa_views.init_app(app)
    app.register_blueprint(accounts_views.bp)
    app.register_blueprint(orgs_views.bp)
    app.register_blueprint(orgs_views.org_bp)
    app.register_blueprint(checklist_views.bp)
    app.register_blueprint(checklist_editor_views.bp)
    app.register_blueprint(audits_api.bp)
    app.register_blueprint(audits_views.bp)
    app.register_blueprint(reports_views.bp)
    app.register_blueprint(reports_views.public)
    app.register_blueprint(actions_views.bp)
    app.register_blueprint(dashboard_views.bp)
    app.register_blueprint(clients_views.bp)
    app.register_blueprint(clients_views.consultants)
    app.register_blueprint(clients_views.public)
    app.register_blueprint(portfolio_views.portfolio)
    cli.init_app(app)
    actions_cli.init_app(app)
    maintenance_cli.init_app(app)
    return app
