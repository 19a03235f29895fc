"""Where a person lands after signing in, and what the desk's home address (/) opens: the page of their
role. A customer services manager lands on the board, an auditor on the auditor's desk; everyone else
(advisors, account managers, development, admin) on the task inbox, where their work waits."""

from __future__ import annotations

from collections.abc import Iterable

from flask import redirect, url_for
from flask_login import current_user

# The first of a person's roles found here decides; a role not here lands on the inbox.
LANDINGS = (("customer_services_manager", "board.board"), ("auditor", "auditor_desk.desk"))
INBOX = "tasks.inbox"


def landing_endpoint(roles: Iterable[str]) -> str:
    held = set(roles)
    return next((endpoint for role, endpoint in LANDINGS if role in held), INBOX)


def landing_url(roles: Iterable[str]) -> str:
    return url_for(landing_endpoint(roles))


def home():
    """/: the signed-in person's landing page; a visitor goes to the inbox, which asks them to sign in."""
    if not current_user.is_authenticated:
        return redirect(url_for(INBOX))
    return redirect(landing_url(current_user.roles))
