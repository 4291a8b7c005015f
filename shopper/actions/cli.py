"""`flask --app shopper actions remind`: the day-before reminders, meant to run from cron once a day."""

from __future__ import annotations

from datetime import date

import click
from flask import Flask
from flask.cli import with_appcontext

from shopper.actions.notify import send_reminders
from shopper.mail import mail_enabled
from shopper.timeutil import utcnow
from shopper.transactions import commits


def init_app(app: Flask) -> None:
    app.cli.add_command(actions_group)


@click.group("actions")
def actions_group() -> None:
    """Corrective actions."""


@actions_group.command("remind")
@click.option("--today", help="Run as if today were this date (YYYY-MM-DD, UTC); for catching up on a missed day.")
@with_appcontext
@commits
def remind(today: str | None) -> None:
    """Mail the person responsible for each open action due tomorrow. Each action's reminder goes once per due date."""
    if not mail_enabled():
        click.echo("Mail is not configured (MAIL_SERVER is unset): no reminders sent.")
        return
    now = utcnow()
    try:
        on = date.fromisoformat(today) if today else now.date()
    except ValueError:
        raise click.BadParameter(f"{today!r} is not a date like 2026-03-31.", param_hint="--today") from None
    result = send_reminders(on, now)
    click.echo(f"Reminders sent: {result.sent}.")
    if result.failed:
        raise click.ClickException(f"{result.failed} reminder(s) could not be sent (see the log): run it again.")
