"""Who may see what: the signed-in person and the role check for views."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, current_app
from flask_login import UserMixin, current_user

from supportdesk.engine.people.users import Person
from supportdesk.engine.process.roles import ROLES, TASK_ROLES

ADMIN = "admin"
# Checks and deploys diagrams and migrates tickets (engine.process.roles); admin passes every check too.
PROCESS_OWNER = "process_owner"
# Every staff role may read tickets; customers (a later issue) will have none of these.
STAFF_ROLES = tuple(ROLES)
CALL_LOGGERS = ("first_line", ADMIN)
# Who acts on a call from its page (C18-C24: any advisor; admin passes every check).
ADVISORS = ("first_line", "second_line", "third_line")
# C28: an account manager also hears a customer's dissatisfaction and escalates it.
ESCALATORS = (*ADVISORS, "account_manager")


class DeskUser(UserMixin):
    """A ``Person`` as Flask-Login wants it."""

    def __init__(self, person: Person):
        self.person = person

    def get_id(self) -> str:
        # The session keeps "id:epoch": signing out, a new password or a role taken away moves the person's
        # epoch on (engine.users), and every session that began before stops, copies of its cookie too.
        return f"{self.person.id}:{self.person.session_epoch}"

    @property
    def username(self) -> str:
        return self.person.username

    @property
    def display_name(self) -> str:
        return self.person.display_name

    @property
    def roles(self) -> tuple[str, ...]:
        return self.person.roles

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.person.roles

    def has_any(self, *roles: str) -> bool:
        return self.is_admin or any(role in self.person.roles for role in roles)

    def task_roles(self) -> list[str] | None:
        """The roles whose tasks this person does; None means all (admin)."""
        if self.is_admin:
            return None
        return [role for role in self.person.roles if role in TASK_ROLES]

    def may_do(self, task_role: str) -> bool:
        return self.has_any(task_role)


def requires_roles(*roles: str) -> Callable:
    """Anonymous visitors go to sign-in; a signed-in person without one of ``roles`` gets 403.
    Admin passes every check."""

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def checked(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if not current_user.has_any(*roles):
                abort(403)
            return view(*args, **kwargs)

        return checked

    return decorate
