"""The ``supportdesk`` command group and what every subcommand shares. The modules beside this one
add their commands to the group; it imports none of them (the package assembles them)."""

from __future__ import annotations

import functools
import getpass
import logging
import sys

import click

from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import ConflictError, DeskError, InvalidInput
from supportdesk.engine.settings import Settings
from supportdesk.engine.working_time.calendar import CalendarConfigError
from supportdesk.engine.working_time.sla_policy import PolicyError
from supportdesk.handlers import REGISTRY

EXIT_ERROR = 1
EXIT_CONFLICT = 3


def open_desk() -> Desk:
    """The desk from SUPPORTDESK_* settings, with its schema brought up to date."""
    desk = Desk(Settings.from_env(), REGISTRY)
    desk.upgrade_schema()
    return desk


def default_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except OSError:  # no login name (some containers)
        return "cli"


def reports_desk_errors(command):
    """Print a DeskError as one clear line and exit non-zero (3 for a conflict)."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except InvalidInput as exc:
            click.echo(f"error: {exc}", err=True)
            for name, message in exc.fields.items():
                click.echo(f"  {name}: {message}", err=True)
            sys.exit(EXIT_ERROR)
        except ConflictError as exc:
            click.echo(f"conflict: {exc}", err=True)
            sys.exit(EXIT_CONFLICT)
        except (DeskError, CalendarConfigError, PolicyError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="Log what the desk does.")
def main(verbose: bool) -> None:
    """supportdesk: a support desk whose process is its service charter."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
