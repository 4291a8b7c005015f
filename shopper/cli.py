"""Command-line tools: `flask --app shopper demo`, `create-user`, `checklist import|export`, `report render`."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from shopper.accounts.service import AccountError
from shopper.checklists import io
from shopper.checklists.models import Checklist
from shopper.checklists.schema import DefinitionError
from shopper.checklists.service import import_checklist, version_by_number
from shopper.demo import load_demo
from shopper.extensions import db
from shopper.orgs.models import Organization
from shopper.orgs.service import sign_up
from shopper.timeutil import utcnow
from shopper.transactions import commits


def init_app(app: Flask) -> None:
    app.cli.add_command(jobs_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(create_user_command)
    app.cli.add_command(checklist_group)
    app.cli.add_command(report_group)


@click.group("jobs")
def jobs_group() -> None:
    """The job queue: report PDFs, the ZIP of reports, mail and reminders."""


@jobs_group.command("run")
@click.option("--workers", type=int, help="Worker threads (default: the JOBS_WORKERS setting).")
@click.option("--once", is_flag=True, help="Run what is queued now, then stop (no schedule).")
@with_appcontext
def jobs_run(workers: int | None, once: bool) -> None:
    """Run the job consumer: it works through the queue and runs the daily reminders. Keep it running next to the
    web server (`make run` does)."""
    from shopper import jobs
    from shopper.reports.rendering import ask_again_for_waiting

    ask_again_for_waiting()  # PDFs someone waits for whose job was lost (a consumer killed mid-render)
    db.session.remove()  # this command's own transaction ends here: every job runs in a session of its own
    if once:
        click.echo(f"Ran {jobs.run_pending()} job(s).")
        return
    jobs.run_consumer(workers or current_app.config["JOBS_WORKERS"], int(current_app.config["JOBS_NICE"]))


@jobs_group.command("status")
@with_appcontext
def jobs_status() -> None:
    """How many jobs wait, and whether a consumer is running."""
    from shopper import jobs

    click.echo(f"Queued: {jobs.huey.pending_count()}, scheduled: {jobs.huey.scheduled_count()}.")
    click.echo("A consumer is running." if jobs.consumer_running() else "No consumer has been seen for 3 minutes.")


@click.command("demo")
@with_appcontext
@commits
def demo_command() -> None:
    """Create (or refresh) the demo business, its sites and people. Safe to run again. The PDFs of its submitted
    audits are queued, so the job consumer has them ready."""
    from shopper.audits.models import Audit, AuditStatus
    from shopper.demo_clients import CONSULTANCY_SLUG
    from shopper.orgs.models import ClientLink
    from shopper.reports.rendering import render_soon

    result = load_demo()
    demo_orgs = (
        select(ClientLink.client_id)
        .join(Organization, Organization.id == ClientLink.consultancy_id)
        .where(Organization.slug == CONSULTANCY_SLUG)
    )
    render_soon(
        db.session.scalars(
            select(Audit.id).where(
                Audit.status == AuditStatus.SUBMITTED,
                (Audit.org_id == result.org.id) | Audit.org_id.in_(demo_orgs),
            )
        ).all()
    )
    click.echo(f"Demo organization: {result.org.name} (/o/{result.org.slug}/), and a consultancy serving it")
    for email, password in result.credentials:
        click.echo(f"  {email}  password: {password}")


@click.command("create-user")
@click.option("--email", prompt=True)
@click.option("--name", prompt=True)
@click.option("--org", "org_name", prompt="Organization name")
@click.option("--kind", type=click.Choice(["business", "consultancy"]), default="business", show_default=True)
@click.password_option()
@with_appcontext
@commits
def create_user_command(email: str, name: str, org_name: str, kind: str, password: str) -> None:
    """Create a user and their organization, as its owner (for real deployments, instead of the sign-up page)."""

    try:
        user, org = sign_up(
            name=name,
            email=email,
            password=password,
            org_name=org_name,
            org_kind=kind,
            min_length=current_app.config["PASSWORD_MIN_LENGTH"],
        )
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"Created {user.email}, owner of {org.name} (/o/{org.slug}/).")


@click.group("checklist")
def checklist_group() -> None:
    """Import and export checklists (JSON or CSV)."""


@checklist_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--org", "org_slug", required=True, help="The organization's URL name (/o/<this>/).")
@click.option("--title", help="Needed for a CSV file; replaces a JSON file's title.")
@with_appcontext
@commits
def checklist_import(file: str, org_slug: str, title: str | None) -> None:
    """Import FILE (.json or .csv) as a new checklist of the organization, published as version 1."""

    org = db.session.scalar(select(Organization).where(Organization.slug == org_slug))
    if org is None:
        raise click.ClickException(f"No organization with the URL name {org_slug!r}.")
    with open(file, "rb") as f:
        data = f.read(io.MAX_IMPORT_BYTES + 1)
    try:
        checklist = import_checklist(org.id, None, data=data, filename=Path(file).name, title=title, now=utcnow())
    except DefinitionError as e:
        raise click.ClickException("not imported:\n" + "\n".join(f"  {p}" for p in e.problems)) from e
    click.echo(f"Imported {checklist.title!r} as checklist {checklist.id}, version 1.")


@checklist_group.command("export")
@click.argument("checklist_id", type=int)
@click.option("--version", "number", type=int, help="Version number (default: the current one).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="File (default: stdout).")
@with_appcontext
def checklist_export(checklist_id: int, number: int | None, fmt: str, output) -> None:
    """Export a published version of checklist CHECKLIST_ID."""

    checklist = db.session.get(Checklist, checklist_id)
    if checklist is None:
        raise click.ClickException(f"No checklist {checklist_id}.")
    version = version_by_number(checklist, number) if number else checklist.current_version
    if version is None:
        raise click.ClickException("That checklist has no such published version.")
    output.write(io.export_json(version.definition) if fmt == "json" else io.export_csv(version.definition))


@click.group("report")
def report_group() -> None:
    """Audit reports."""


@report_group.command("rerender")
@click.option(
    "--days", type=click.IntRange(min=1), default=30, show_default=True, help="Audits submitted this recently."
)
@with_appcontext
def report_rerender(days: int) -> None:
    """Queue the PDFs of the recently submitted audits, to run after a deploy that changed the report: their
    downloads then stay file reads. Those the cache still has are not made again."""
    from shopper.reports import rendering

    click.echo(f"Queued {rendering.render_recent(utcnow(), days)} report PDF(s).")


@report_group.command("render")
@click.argument("audit_id", type=int)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="PDF file (default: a name from the report).")
@with_appcontext
@commits
def report_render(audit_id: int, output: str | None) -> None:
    """Write the PDF report of submitted audit AUDIT_ID (from the cache when the audit has not changed)."""
    from shopper.reports import pdf, rendering, service

    try:
        document = rendering.render_now(audit_id)
    except (service.ReportNotReady, pdf.RenderError) as e:
        raise click.ClickException(str(e)) from e
    target = Path(output or document.filename)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with document.stream as source, open(temp, "wb") as sink:
            shutil.copyfileobj(source, sink)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)
    state = "unchanged since the last render" if document.cached else "rendered now"
    click.echo(f"Wrote {target} ({document.size / 1e6:.1f} MB, {state}).")
