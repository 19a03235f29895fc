"""C21-C24: Delayed, re-graded, re-opened.

A call is set Delayed when the team cannot get access to an on-premise
customer's environment (C21), or crucial information has not arrived or the
customer is absent (C22). A High call is re-graded to Medium; the clocks
pause (C23). A message that work can progress re-opens it (C24).
"""

from SpiffWorkflow.task import Task as SpiffTask

from supportdesk.engine.errors import InvalidInput, NotAllowed
from supportdesk.engine.tickets.unit_of_work import UnitOfWork

from . import handler

DELAY_REASONS = {
    "access_refused": "no access to the customer's environment (C21)",
    "information_awaited": "crucial information requested from the customer has not arrived (C22)",
    "customer_absent": "the customer is absent (C22)",
}
# C22: what the customer is told by mail (and sees on the portal) the desk waits for from them. The
# information asked for must be said: the advisor's note is what the customer reads.
WAITING_FOR_CUSTOMER = {
    "information_awaited": "Information we asked you for",
    "customer_absent": "You to be back: we could not reach you for a deadline",
}
NOTE_REQUIRED = {
    "information_awaited": "Say what the desk needs from the customer: they get it by mail and on the portal"
}


@handler("set_delayed")
def set_delayed(uow: UnitOfWork, task: SpiffTask) -> None:
    request = task.data.get("call_delayed") or {}
    reason, note = request.get("reason"), str(request.get("note") or "")
    if uow.ticket.status not in ("open", "delayed"):
        raise NotAllowed(f"the call is {uow.ticket.status}: only a call being worked on can be Delayed")
    if reason not in DELAY_REASONS:
        raise InvalidInput(
            "say why the call is Delayed", {"reason": f"Reason must be one of: {', '.join(DELAY_REASONS)}"}
        )
    if reason in NOTE_REQUIRED and not note.strip():
        raise InvalidInput("say what the desk is waiting for", {"note": NOTE_REQUIRED[reason]})
    if reason == "access_refused" and uow.ticket.licence_type != "on_premise":
        raise NotAllowed("C21: only an on-premise call waits for access to the customer's environment")
    if uow.ticket.priority == "High":
        uow.ticket.priority = task.data["priority"] = "Medium"
        if uow.sla.regrade("Medium", uow.now, DELAY_REASONS[reason]) is not None:
            uow.record("priority_regraded", {"from": "High", "to": "Medium", "reason": DELAY_REASONS[reason]})
    for clock in uow.sla.pause(uow.now, DELAY_REASONS[reason]):
        uow.record("sla_paused", {"clock": clock.metric, "reason": DELAY_REASONS[reason]}, actor="desk")
    uow.ticket.status = "delayed"
    uow.record("call_delayed", {"reason": reason, "why": DELAY_REASONS[reason], **({"note": note} if note else {})})
    if reason in WAITING_FOR_CUSTOMER:
        uow.queue_mail(
            "information_requested",
            uow.ticket.contact_email,
            waiting_for=WAITING_FOR_CUSTOMER[reason],
            note=note.strip(),
        )


@handler("reopen_call")
def reopen_call(uow: UnitOfWork, task: SpiffTask) -> None:
    for clock in uow.sla.resume(uow.now, "re-opened"):
        due = clock.due_at.isoformat() if clock.due_at else None
        uow.record("sla_resumed", {"clock": clock.metric, "due": due}, actor="desk")
    uow.ticket.status = "open"
    uow.record("call_reopened", {"priority": uow.ticket.priority}, actor="desk")
