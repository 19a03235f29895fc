"""C15-C18 and C27: hand-overs between the lines, resolution and feedback."""

from SpiffWorkflow.task import Task as SpiffTask

from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.tickets.unit_of_work import UnitOfWork
from supportdesk.engine.working_time.sla_policy import FIRST_RESPONSE, RESOLUTION

from . import handler

NEXT_STEPS = {
    "resolved": "resolved",
    "second_line": "passed to second line",  # C16
    "ask_third_line": "asked third line for advice",  # C17
    "pass_third_line": "passed to third line",  # C17
}


@handler("record_handover")
def record_handover(uow: UnitOfWork, task: SpiffTask) -> None:
    """Who, when and why: a resolution needs its text, a hand-over its reason."""
    step = task.data.get("next_step")
    if step == "resolved":
        if not str(task.data.get("resolution") or "").strip():
            raise InvalidInput("say how the call was resolved", {"resolution": "Resolution is required"})
        return
    if step not in NEXT_STEPS:
        raise InvalidInput("choose what happens next", {"next_step": "Choose what happens next"})
    reason = str(task.data.get("handover_reason") or "").strip()
    if not reason:
        raise InvalidInput("say why", {"handover_reason": "Say why the call is handed over"})
    uow.record("handed_over", {"step": step, "what": NEXT_STEPS[step], "reason": reason})


@handler("resolve_call")
def resolve_call(uow: UnitOfWork, task: SpiffTask) -> None:
    """The call is resolved: the clocks stop and the customer is told (C27)."""
    for metric in (FIRST_RESPONSE, RESOLUTION):
        if uow.sla.stop(metric, uow.now) is not None:
            uow.record("sla_stopped", {"clock": metric}, actor="desk")
    resolution = str(task.data.get("resolution") or "")
    uow.ticket.status, uow.ticket.outcome = "resolved", "resolved"
    uow.record("call_resolved", {"resolution": resolution})
    uow.queue_mail("resolution", uow.ticket.contact_email, resolution=resolution)


@handler("keep_feedback")
def keep_feedback(uow: UnitOfWork, task: SpiffTask) -> None:
    """C27: the customer's comment on their experience, kept with the call."""
    feedback = task.data.get("feedback") or {}
    rating = feedback.get("rating")
    if rating is not None and (not isinstance(rating, int) or not 1 <= rating <= 5):
        raise InvalidInput("a rating is 1 to 5", {"rating": "Rating must be a whole number from 1 to 5"})
    comment = str(feedback.get("comment") or "")[:4000]
    uow.keep_feedback(rating, comment)
    uow.record("feedback_received", {"rating": rating, "comment": comment})


@handler("close_call")
def close_call(uow: UnitOfWork, task: SpiffTask) -> None:
    """The call is over for the customer: advised (C10), or however it was resolved."""
    outcome = "advised" if uow.ticket.priority == "Advice" else (uow.ticket.outcome or "resolved")
    uow.ticket.outcome = outcome
    uow.close_for_customer(outcome)
