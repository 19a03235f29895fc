"""Tasks: a role's open tasks, a task's form, and completing it with form data.

Completing calls ``commands.complete_task`` with the caller's task roles (the lane check) and, when
sent, the revision the values were chosen at, exactly as the web form does; the values go through
the engine's ``forms.clean``, so the API accepts and refuses what the web form does.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from supportdesk.engine.process.roles import TASK_ROLES
from supportdesk.engine.tickets import commands, queries

from .. import current_desk
from ..access import ADMIN, STAFF_ROLES
from . import schemas
from .auth import api_user, guarded
from .base import ApiBlueprint
from .problems import Problem
from .tickets import ticket_body

blp = ApiBlueprint("Tasks", __name__, description="Open tasks, their forms, completing them")


@blp.route("/tasks")
@guarded(blp, *STAFF_ROLES, errors=(400,))
@blp.arguments(schemas.TaskQuery, location="query")
@blp.response(200, schemas.TaskList)
def list_tasks(query: dict):
    """Open tasks for a role

    The inbox: open tasks of ``role`` (one of yours), or of all your roles, the most urgent SLA
    deadline first. An admin may ask for any role.
    """
    user = api_user()
    if "role" in query:
        if not user.may_do(query["role"]):
            raise Problem("forbidden", f"{user.username} does not have the role {query['role']}.")
        roles: list[str] | None = [query["role"]]
    else:
        roles = user.task_roles()
    rows = (
        [] if roles == [] else queries.open_tasks(current_desk(), roles, limit=query["limit"], offset=query["offset"])
    )
    return {"items": [asdict(row) for row in rows]}


@blp.route("/tasks/<task_id>")
@guarded(blp, *TASK_ROLES, ADMIN, errors=(404,))
@blp.response(200, schemas.TaskForm)
def get_task(task_id: str):
    """A task and its form

    The fields completing it asks for, with their types, constraints and choices, as the ticket's
    diagram version declares them, and the ticket revision to send back.
    """
    shown = queries.task_form(current_desk(), task_id)
    _check_may_do(shown.task.role)
    return {
        "task": asdict(shown.task),
        "revision": shown.revision,
        "context": shown.context,
        "fields": [
            {**asdict(field), "options": [{"value": v, "label": label} for v, label in field.options]}
            for field in shown.fields
        ],
    }


@blp.route("/tasks/<task_id>/complete", methods=["POST"])
@guarded(blp, *TASK_ROLES, ADMIN, errors=(400, 404, 409))
@blp.arguments(schemas.Completion)
@blp.response(200, schemas.Ticket)
def complete_task(body: dict, task_id: str):
    """Complete a task

    With its form data, checked exactly as the web form's. A task of another role's lane is 403; a
    task completed already (by you or someone else), claimed by someone else, or on a ticket changed
    since ``revision``, is 409 and nothing is saved. Answers the ticket as it is now.
    """
    user = api_user()
    data = _as_posted(body["data"])
    reference = commands.complete_task(
        current_desk(),
        commands.CompleteTask(task_id, data, expected_revision=body["revision"], roles=user.task_roles()),
        user.username,
    )
    return ticket_body(queries.ticket_view(current_desk(), reference))


def _check_may_do(role: str) -> None:
    user = api_user()
    if not user.may_do(role):
        raise Problem(
            "forbidden", f"This is a task for {role.replace('_', ' ')}; {user.username} does not have that role."
        )


def _as_posted(data: dict[str, Any]) -> dict[str, Any]:
    """The values as a web form posts them: numbers as their text (so 3.5 for a whole number is refused,
    as typing it would be), booleans as booleans (a checkbox), anything else but text refused."""
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, value in data.items():
        if value is None or isinstance(value, bool | str):
            values[key] = value
        elif isinstance(value, int | float):
            values[key] = str(value)
        else:
            errors[key] = "A form value is a string, a number, a boolean or null"
    if errors:
        raise Problem("invalid-input", "The form has errors.", errors=errors)
    return values
