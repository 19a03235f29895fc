"""The task inbox and the task forms the diagram declares."""

from __future__ import annotations

from math import ceil

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from supportdesk.engine.bounds import MAX_OFFSET
from supportdesk.engine.conversation import seen
from supportdesk.engine.errors import ConflictError, InvalidInput, NotFound
from supportdesk.engine.process.roles import TASK_ROLES
from supportdesk.engine.tickets import changes, commands, queries

from . import current_desk, live, task_forms
from .access import ADMIN, STAFF_ROLES, requires_roles
from .formatting import local_time

blueprint = Blueprint("tasks", __name__)

PAGE_SIZE = 25
MAX_PAGE_NUMBER = MAX_OFFSET // PAGE_SIZE


@blueprint.route("/tasks")
@requires_roles(*STAFF_ROLES)
def inbox():
    roles = current_user.task_roles()
    # Pages stop at an offset of a million: a deeper one (past what a store's integer holds) was a 500.
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE_NUMBER)
    if roles == []:  # e.g. an auditor: no lane of the diagram is theirs
        total, rows = 0, []
    else:
        desk = current_desk()
        total = queries.count_open_tasks(desk, roles)
        rows = queries.open_tasks(desk, roles, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    urgency = {task_id: (found.left, found.state) for task_id, found in queries.urgency(current_desk(), rows).items()}
    replied = seen.replied_since_seen(current_desk(), current_user.username, [row.reference for row in rows])
    return render_template(
        "inbox.html",
        rows=rows,
        replied=replied,
        total=total,
        page=page,
        pages=max(ceil(total / PAGE_SIZE), 1),
        roles=roles,
        urgency=urgency,
    )


@blueprint.route("/tasks/<task_id>", methods=["GET"])
@requires_roles(*TASK_ROLES, ADMIN)
def show(task_id: str):
    shown = _task_for_current_user(task_id)
    form = task_forms.form_class(shown.fields)(revision=shown.revision, reference=shown.task.reference)
    now = changes.TaskNow(open=True, claimed_by=shown.task.claimed_by, revision=shown.revision)
    return render_template(
        "task_form.html", shown=shown, form=form, notice=live.task_notice(now), blocked=live.blocked(now)
    )


@blueprint.route("/tasks/<task_id>", methods=["POST"])
@requires_roles(*TASK_ROLES, ADMIN)
def complete(task_id: str):
    desk = current_desk()
    try:
        shown = queries.task_form(desk, task_id)
    except NotFound:
        return _task_gone(task_id)
    _check_may_do(shown)
    form = task_forms.form_class(shown.fields)()
    revision = task_forms.posted_revision(form)
    if revision is None:
        return _render(shown, form, ["The form lost its revision; reload the page and try again."], 400)
    try:
        reference = commands.complete_task(
            desk,
            commands.CompleteTask(
                task_id,
                task_forms.answers(form, shown.fields),
                expected_revision=revision,
                roles=current_user.task_roles(),
            ),
            current_user.username,
        )
    except InvalidInput as exc:
        return _render(shown, form, task_forms.show_errors(form, exc.fields), 400)
    except ConflictError as exc:
        return _stale(task_id, form, str(exc))
    flash(f"{shown.task.title} completed on {reference}.", "success")
    return redirect(url_for("tickets.ticket", reference=reference))


def _task_for_current_user(task_id: str) -> queries.TaskForm:
    shown = queries.task_form(current_desk(), task_id)  # NotFound becomes the 404 page
    _check_may_do(shown)
    return shown


def _check_may_do(shown: queries.TaskForm) -> None:
    # The lane of the task names the role that does it (charter: who answers what).
    if not current_user.may_do(shown.task.role):
        abort(403)


def _render(shown: queries.TaskForm, form, errors: list[str], status: int):
    return render_template("task_form.html", shown=shown, form=form, errors=errors), status


def _stale(task_id: str, form, message: str):
    """The call changed after the form was opened: nothing was saved. Keep the person's
    answers and show the form again at the current revision, so they decide to resubmit."""
    try:
        shown = queries.task_form(current_desk(), task_id)
    except NotFound:
        return render_template("conflict.html", message=message, reference=form.reference.data), 409
    form.revision.data = str(shown.revision)
    return render_template("task_form.html", shown=shown, form=form, conflict=message), 409


def _task_gone(task_id: str):
    """No open task with this id: completed already (a double submission, 409) or never
    existed (404)."""
    completion = queries.completion_of_task(current_desk(), task_id)
    if completion is None:
        abort(404)
    form = task_forms.form_class([])()
    message = (
        f"{completion.payload.get('task')} on {form.reference.data} was already completed by "
        f"{completion.actor} at {local_time(completion.at)}; nothing was changed."
    )
    return render_template("conflict.html", message=message, reference=form.reference.data), 409


@blueprint.route("/tasks/<task_id>/claim", methods=["POST"])
@requires_roles(*TASK_ROLES, ADMIN)
def claim(task_id: str):
    command = commands.ClaimTask(task_id, current_user.task_roles())
    return _claiming(commands.claim_task, command, "You have claimed {title}.")


@blueprint.route("/tasks/<task_id>/release", methods=["POST"])
@requires_roles(*TASK_ROLES, ADMIN)
def release(task_id: str):
    command = commands.ReleaseTask(task_id, current_user.task_roles())
    return _claiming(commands.release_task, command, "{title} is back in the queue.")


def _claiming(run, command: commands.ClaimTask | commands.ReleaseTask, done: str):
    """Claim or release, then back to the inbox with what happened (the CSRF token is checked app-wide)."""
    shown = _task_for_current_user(command.task_id)
    try:
        run(current_desk(), command, current_user.username)
    except ConflictError as exc:
        flash(f"{exc}.", "error")
    else:
        flash(done.format(title=shown.task.title), "success")
    return redirect(url_for("tasks.inbox"))
