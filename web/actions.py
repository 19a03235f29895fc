"""What advisors do to a call from its page: set it Delayed, say work can progress (C21-C24),
record a training need (C19, C20), start an escalation (C28).

Each is a POST (CSRF-checked by CSRFProtect before the view runs) that calls one engine
command. When the engine refuses (the call is not in a state that allows it, or the input is
bad), nothing was changed: the ticket page comes back with the reason and the answers kept.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, flash, redirect, url_for
from flask_login import current_user

from supportdesk.engine.errors import InvalidInput, NotAllowed
from supportdesk.engine.tickets import commands

from . import current_desk
from .access import ADVISORS, ESCALATORS, requires_roles
from .formatting import sentence
from .ticket_page import PROGRESS_MESSAGES, posted_form, render_ticket

blueprint = Blueprint("actions", __name__)


@blueprint.route("/calls/<reference>/delayed", methods=["POST"])
@requires_roles(*ADVISORS)
def set_delayed(reference: str):
    form = posted_form("delayed")
    payload = {"reason": form.reason.data or "", "note": (form.note.data or "").strip()}
    return _act(
        reference,
        "delayed",
        form,
        lambda: commands.deliver_message(
            current_desk(), commands.DeliverMessage(reference, "call_delayed", payload), current_user.username
        ),
        lambda _: f"{reference} is Delayed; its SLA clocks are paused.",
    )


@blueprint.route("/calls/<reference>/progress", methods=["POST"])
@requires_roles(*ADVISORS)
def work_can_progress(reference: str):
    form = posted_form("progress")
    message = form.message.data or ""
    if message not in PROGRESS_MESSAGES:  # the engine would take any message name; only these re-open
        form.message.errors = ["Choose what happened"]
        return render_ticket(reference, posted={"progress": form}, refusal="Choose what happened.", status=400)
    note = (form.note.data or "").strip()
    return _act(
        reference,
        "progress",
        form,
        lambda: commands.deliver_message(
            current_desk(),
            commands.DeliverMessage(reference, message, {"note": note} if note else {}),
            current_user.username,
        ),
        lambda _: f"{PROGRESS_MESSAGES[message]}: {reference} is re-opened.",
    )


@blueprint.route("/calls/<reference>/training", methods=["POST"])
@requires_roles(*ADVISORS)
def record_training_need(reference: str):
    form = posted_form("training")
    return _act(
        reference,
        "training",
        form,
        lambda: commands.record_training_need(
            current_desk(),
            commands.RecordTrainingNeed(reference, form.need.data or "", (form.notes.data or "").strip()),
            current_user.username,
        ),
        lambda linked: f"Training need recorded: {linked}. The account manager will arrange it.",
    )


@blueprint.route("/calls/<reference>/escalation", methods=["POST"])
@requires_roles(*ESCALATORS)
def start_escalation(reference: str):
    form = posted_form("escalation")
    return _act(
        reference,
        "escalation",
        form,
        lambda: commands.start_escalation(
            current_desk(),
            commands.StartEscalation(form.concern.data or "", call_reference=reference),
            current_user.username,
        ),
        lambda linked: f"Escalation started: {linked}.",
    )


def _act(reference: str, name: str, form, command: Callable[[], str | None], done: Callable[[str | None], str]):
    """Run ``command``; on success flash ``done(its result)`` and go back to the call."""
    try:
        result = command()
    except InvalidInput as exc:
        general = _show_errors(form, exc)
        return render_ticket(reference, posted={name: form}, refusal=general, status=400)
    except NotAllowed as exc:
        # The call's state does not allow it (the role was checked above): a conflict, not a 403.
        return render_ticket(reference, posted={name: form}, refusal=sentence(str(exc)), status=409)
    flash(done(result), "success")
    return redirect(url_for("tickets.ticket", reference=reference))


def _show_errors(form, exc: InvalidInput) -> str:
    """Each engine message next to its field; the rest is said above the forms."""
    general = [] if exc.fields else [str(exc)]
    for key, message in exc.fields.items():
        if key in form:
            form[key].errors = [message]
        else:
            general.append(message)
    return sentence("; ".join(general)) if general else "Correct the form below and try again."
