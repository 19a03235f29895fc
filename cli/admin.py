"""Deploying diagrams, users and the schema."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from supportdesk.engine import admin
from supportdesk.engine.oversight import dry_run
from supportdesk.engine.people import users
from supportdesk.engine.process.deployment import check_files, read_diagram_files
from supportdesk.engine.process.problems import DiagramRefused, Problem
from supportdesk.engine.process.roles import ROLES
from supportdesk.engine.settings import Settings
from supportdesk.engine.working_time.clock import shown
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
@click.option(
    "--check", is_flag=True, help="Run the deploy gate and its dry run only: report every problem, deploy nothing."
)
@reports_desk_errors
def deploy(directory: Path | None, actor: str | None, check: bool) -> None:
    """Check the diagrams and deploy them as a new numbered version (with --check: only check them).

    Every problem of every file is reported in one run; a set with any error is refused whole,
    and the active version keeps serving. New diagrams also get a dry run: tickets driven down
    every path of them on a scratch store, any that fails refused with the path."""
    if check:
        _check_only(directory)
        return
    desk = open_desk()
    files = read_diagram_files(directory or desk.settings.workflows_dir)
    try:
        result = dry_run.deploy_checked(desk, files, actor or default_actor())
    except DiagramRefused as refused:
        _report(refused.problems)
        click.echo("nothing was deployed: the active version keeps serving", err=True)
        sys.exit(EXIT_ERROR)
    click.echo(result.describe())
    _report(result.warnings)


def _check_only(directory: Path | None) -> None:
    settings = Settings.from_env()
    files = read_diagram_files(directory or settings.workflows_dir)
    inspection = check_files(files, REGISTRY.handlers, REGISTRY.expression_functions)
    errors, warnings = list(inspection.errors), list(inspection.warnings)
    if not errors:  # the dry run runs diagrams that pass the gate (its figures: supportdesk -v deploy --check)
        rehearsal = dry_run.rehearse(settings, REGISTRY, files)
        errors, warnings = [*errors, *rehearsal.errors], [*warnings, *rehearsal.warnings]
    _report([*errors, *warnings])
    counted = f"{_count(errors, 'error')}, {_count(warnings, 'warning')}"
    if errors:
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
    new_user = users.NewUser(username, password, roles, display_name=display_name, email=email)
    person = users.add_user(open_desk(), new_user, default_actor())
    click.echo(f"added {person.username} ({', '.join(person.roles)})")


@users_group.command("list")
@reports_desk_errors
def users_list() -> None:
    """Everyone who may sign in, and who may not: username, roles, two-factor, state."""
    for row in admin.list_users(open_desk()):
        person = row.person
        state = f"disabled {shown(row.disabled_at)} by {row.disabled_by}" if person.disabled else "active"
        if person.password_change_due:
            state += ", new password due"
        two_factor = "two-factor on" if person.two_factor else "two-factor off"
        click.echo(f"{person.username}\t{', '.join(person.roles)}\t{two_factor}\t{state}")


@users_group.command("password")
@click.argument("username")
@click.password_option(help="Asked for when not given.")
@reports_desk_errors
def users_password(username: str, password: str) -> None:
    """Set a user's password (at least 12 characters, not a common one); their sessions end."""
    person = users.set_password(open_desk(), users.SetPassword(username, password), default_actor())
    click.echo(f"password of {person.username} changed; their sessions are signed out")


@users_group.command("reset-password")
@click.argument("username")
@reports_desk_errors
def users_reset_password(username: str) -> None:
    """Give a user a temporary password (printed once) that only lets them choose a new one when they
    sign in; their old password stops working and their sessions end."""
    reset = users.reset_password(open_desk(), users.ResetPassword(username), default_actor())
    click.echo(
        f"temporary password of {reset.person.username}; pass it on, it is not shown again "
        "(it signs in only to choose a new password):",
        err=True,
    )
    click.echo(reset.password)


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
    person = users.set_roles(open_desk(), users.ChangeRoles(username, roles), default_actor())
    click.echo(f"{person.username} now has: {', '.join(person.roles)}")


@users_group.command("two-factor-off")
@click.argument("username")
@reports_desk_errors
def users_two_factor_off(username: str) -> None:
    """Turn off a user's two-factor sign-in (a lost phone); they set it up again on their account page."""
    person = users.disable_two_factor(open_desk(), users.TurnOffTwoFactor(username), default_actor())
    click.echo(f"two-factor sign-in of {person.username} is off; their sessions are signed out")


@users_group.command("disable")
@click.argument("username")
@reports_desk_errors
def users_disable(username: str) -> None:
    """Disable a user: signed out everywhere at once, no sign-in, API tokens refused, until enabled again.
    The last admin who can sign in cannot be disabled."""
    person = users.disable_user(open_desk(), users.DisableUser(username), default_actor())
    click.echo(f"{person.username} is disabled: signed out everywhere, and their API tokens are refused")


@users_group.command("enable")
@click.argument("username")
@reports_desk_errors
def users_enable(username: str) -> None:
    """Enable a disabled user again: they sign in with their password, and their API tokens work again."""
    person = users.enable_user(open_desk(), users.EnableUser(username), default_actor())
    click.echo(f"{person.username} is enabled and can sign in")


@main.group("db")
def db_group() -> None:
    """The store's schema."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Run the schema migrations (the other commands do this too)."""
    open_desk()
    click.echo("schema is up to date")
