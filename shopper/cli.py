"""Command-line tools: `flask --app shopper demo`, `create-user`."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from shopper.demo import load_demo


def init_app(app: Flask) -> None:
    app.cli.add_command(demo_command)
    app.cli.add_command(create_user_command)


@click.command("demo")
@with_appcontext
def demo_command() -> None:
    """Create (or refresh) the demo business, its sites and people. Safe to run again."""
    result = load_demo()
    click.echo(f"Demo organization: {result.org.name} (/o/{result.org.slug}/)")
    for email, password in result.credentials:
        click.echo(f"  {email}  password: {password}")


@click.command("create-user")
@click.option("--email", prompt=True)
@click.option("--name", prompt=True)
@click.option("--org", "org_name", prompt="Organization name")
@click.option("--kind", type=click.Choice(["business", "consultancy"]), default="business", show_default=True)
@click.password_option()
@with_appcontext
def create_user_command(email: str, name: str, org_name: str, kind: str, password: str) -> None:
    """Create a user and their organization, as its owner (for real deployments, instead of the sign-up page)."""
    from shopper.accounts.service import AccountError, sign_up

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
