"""Pages that stay current without a reload: the inbox, the calls list, a ticket page, a task form,
the manager's board.

A page watched here carries the store's change marker of the moment it was drawn
(``engine.tickets.changes``); ``static/live.js`` polls the marker every few seconds and, when it
has moved, fetches the page again and swaps in its live regions (never one holding what someone
is typing). Polling a marker that costs one index lookup holds no server process per open page,
which Server-Sent Events would under the production set-up's synchronous web workers, and works
the same on SQLite and PostgreSQL."""

from __future__ import annotations

from contextlib import suppress

from flask import Blueprint, g, jsonify, request
from flask_login import current_user

from supportdesk.engine.errors import NotFound
from supportdesk.engine.process.roles import TASK_ROLES
from supportdesk.engine.tickets import changes

from . import current_desk
from .access import ADMIN, STAFF_ROLES, requires_roles
from .formatting import local_time

blueprint = Blueprint("live", __name__)

# The pages that redraw themselves, and the view argument naming the call whose changes they
# watch (None: every call's).
WATCHED_PAGES = {"tasks.inbox": None, "tickets.calls": None, "tickets.ticket": "reference", "board.board": None}


@blueprint.before_app_request
def _mark_the_page() -> None:
    """Read the marker before the page reads the store: a change made while the page is drawn
    then redraws it once more, rather than never."""
    if request.method != "GET" or request.endpoint not in WATCHED_PAGES or not current_user.is_authenticated:
        return
    argument = WATCHED_PAGES[request.endpoint]
    reference = (request.view_args or {}).get(argument) if argument else None
    with suppress(NotFound):  # an unknown call: the view answers 404 itself
        g.live_since = changes.latest_change(current_desk(), reference)


def live_since() -> int | None:
    """For templates: the marker the page was drawn at (None on a page not watched)."""
    return g.get("live_since")


@blueprint.route("/live/changes")
@requires_roles(*STAFF_ROLES)
def changed_since():
    """The store's change marker now, or one call's (``?call=REF``)."""
    reference = request.args.get("call") or None
    return _fresh(jsonify(since=changes.latest_change(current_desk(), reference)))


@blueprint.route("/live/tasks/<task_id>")
@requires_roles(*TASK_ROLES, ADMIN)
def task_now(task_id: str):
    """Whether the task a form is open on can still be done by the person looking at it
    (``?revision=N``: the revision of the call the form was drawn at)."""
    now = changes.task_now(current_desk(), task_id)
    drawn_at = request.args.get("revision", type=int)
    return _fresh(jsonify(open=now.open, blocked=blocked(now), message=task_notice(now, drawn_at)))


def task_notice(now: changes.TaskNow, drawn_at: int | None = None) -> str:
    """What the person on a task's form should know before they type or send, or ''."""
    if not now.open:
        when = f" at {local_time(now.done_at)}" if now.done_at else ""
        return f"{now.done_by} has done this task{when}: an answer sent now would be refused."
    if blocked(now):
        return f"{now.claimed_by} has claimed this task: an answer sent now would be refused unless they release it."
    if drawn_at is not None and now.revision != drawn_at:
        return "The call has changed since this form was opened: check it before you send (your answers are kept)."
    return ""


def blocked(now: changes.TaskNow) -> bool:
    """Whether an answer from the person looking would be refused (an admin may do a claimed task)."""
    if not now.open:
        return True
    return now.claimed_by not in (None, current_user.username) and not current_user.is_admin


def _fresh(response):
    response.headers["Cache-Control"] = "no-store"
    return response
