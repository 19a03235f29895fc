"""The ``supportdesk`` command line: an entry point like the web, calling engine functions.

``group`` holds the command group and what every subcommand shares; each module beside it adds the
commands of one area to the group, and this package puts them together (no module imports it back).
"""

from . import admin, audit, calls, forecast, mail, serve, simulate  # noqa: F401  (each adds its commands to the group)
from .admin import users_group
from .calendar_cli import calendar
from .group import main
from .incidents import incidents
from .mailboxes import mailboxes
from .migrate import migrate
from .report import report
from .tokens import token

main.add_command(calendar)
main.add_command(incidents)
main.add_command(mailboxes)
main.add_command(migrate)
main.add_command(report)
users_group.add_command(token)

__all__ = ["main"]
