"""Deploying diagrams, users and the schema."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from supportdesk.engine.people import users
from supportdesk.engine.process.deployment import check_files, read_diagram_files
from supportdesk.engine.process.problems import DiagramRefused, Problem
from supportdesk.engine.process.roles import ROLES
from supportdesk.engine.settings import Settings
from supportdesk.engine.tickets import commands
from supportdesk.handlers import REGISTRY

from .group import EXIT_ERROR, default_actor, main, open_desk, reports_desk_errors


@main.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Folder of .bpmn/.dmn files (default: SUPPORTDESK_WORKFLOWS_DIR or the packaged workflows).",
)
@click.option("--as", "actor", default=None, help="Who deploys (recorded with the version).")
@click.option("--check", is_flag=True, help="Run the deploy gate only: report every problem, deploy nothing.")
@reports_desk_errors
def deploy(directory: Path | None, actor: str | None, check: bool) -> None:
    """Check the diagrams and deploy them as a new numbered version (with --check: only check them).

    Every problem of every file is reported in one run; a set with any error is refused whole,
    and the active version keeps serving."""
    if check:
        _check_only(directory)
        return
    try:
        result = commands.deploy(open_desk(), directory, actor or default_actor())
    except DiagramRefused as refused:
        _report(refused.problems)
        click.echo("nothing was deployed: the active version keeps serving", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(result.describe())
    _report(result.warnings)


def _check_only(directory: Path | None) -> None:
    files = read_diagram_files(directory or Settings.from_env().workflows_dir)
    inspection = check_files(files, REGISTRY.handlers)
    _report([*inspection.errors, *inspection.warnings])
    counted = f"{_count(inspection.errors, 'error')}, {_count(inspection.warnings, 'warning')}"
    if inspection.errors:
        click.echo(f"{counted}: deploying these diagrams would be refused", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(f"the diagrams pass the deploy gate ({counted}); nothing was deployed")


def _report(problems) -> None:
    for problem in problems:
        click.echo(f"{_severity(problem)}: {problem}", err=True)


def _severity(problem: Problem) -> str:
    return "error" if problem.is_error else "warning"


def _count(problems, word: str) -> str:
    return f"{len(problems)} {word}{'' if len(problems) == 1 else 's'}"


@main.group("users")
def users_group() -> None:
    """Manage the people who sign in."""


@users_group.command("add")
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(list(ROLES)),
    help="A role of the charter; repeat for several.",
)
@click.option("--name", "display_name", default="", help="Full name.")
@click.option("--email", default="")
@click.password_option(help="Asked for when not given.")
@reports_desk_errors
def users_add(username: str, roles: tuple[str, ...], display_name: str, email: str, password: str) -> None:
    """Add a user."""
    person = users.add_user(open_desk(), username, password, list(roles), display_name=display_name, email=email)
    click.echo(f"added {person.username} ({', '.join(person.roles)})")


@users_group.command("password")
@click.argument("username")
@click.password_option(help="Asked for when not given.")
@reports_desk_errors
def users_password(username: str, password: str) -> None:
    """Set a user's password (at least 12 characters, not a common one); their sessions end."""
    person = users.set_password(open_desk(), username, password)
    click.echo(f"password of {person.username} changed; their sessions are signed out")


@users_group.command("roles")
@click.argument("username")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice(list(ROLES)),
    help="A role of the charter; repeat for several. The user has exactly these afterwards.",
)
@reports_desk_errors
def users_roles(username: str, roles: tuple[str, ...]) -> None:
    """Set a user's roles; taking one away signs out their sessions."""
    person = users.set_roles(open_desk(), username, list(roles))
    click.echo(f"{person.username} now has: {', '.join(person.roles)}")


@users_group.command("two-factor-off")
@click.argument("username")
@reports_desk_errors
def users_two_factor_off(username: str) -> None:
    """Turn off a user's two-factor sign-in (a lost phone); they set it up again on their account page."""
    person = users.disable_two_factor(open_desk(), username)
    click.echo(f"two-factor sign-in of {person.username} is off; their sessions are signed out")


@main.group("db")
def db_group() -> None:
    """The store's schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Run the schema migrations (the other commands do this too)."""
    open_desk()
    click.echo("schema is up to date")
