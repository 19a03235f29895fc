"""Deploying diagrams, users and the schema."""

from __future__ import annotations

from pathlib import Path

import click

from supportdesk.engine import commands, users
from supportdesk.engine.roles import ROLES

from .main import default_actor, main, open_desk, reports_desk_errors


@main.command()
@click.option("--dir", "directory", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Folder of .bpmn/.dmn files (default: SUPPORTDESK_WORKFLOWS_DIR or the packaged workflows).")
@click.option("--as", "actor", default=None, help="Who deploys (recorded with the version).")
@reports_desk_errors
def deploy(directory: Path | None, actor: str | None) -> None:
    """Validate and deploy the diagrams as a new numbered version."""
    result = commands.deploy(open_desk(), directory, actor or default_actor())
    click.echo(result.describe())
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)


@main.group("users")
def users_group() -> None:
    """Manage the people who sign in."""


@users_group.command("add")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(list(ROLES)),
              help="A role of the charter; repeat for several.")
@click.option("--name", "display_name", default="", help="Full name.")
@click.option("--email", default="")
@click.password_option(help="Asked for when not given.")
@reports_desk_errors
def users_add(username: str, roles: tuple[str, ...], display_name: str, email: str, password: str) -> None:
    """Add a user."""
    person = users.add_user(open_desk(), username, password, list(roles), display_name=display_name, email=email)
    click.echo(f"added {person.username} ({', '.join(person.roles)})")


@main.group("db")
def db_group() -> None:
    """The store's schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Run the schema migrations (the other commands do this too)."""
    open_desk()
    click.echo("schema is up to date")
