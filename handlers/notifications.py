"""Mail the process sends (C04, C09, C12, C26, C30), queued in the outbox."""

from SpiffWorkflow.task import Task as SpiffTask

from supportdesk.engine.people.portal_access import issue_token
from supportdesk.engine.tickets.unit_of_work import UnitOfWork
from supportdesk.engine.working_time.clock import local

from . import handler


@handler("send_confirmation")
def send_confirmation(uow: UnitOfWork, task: SpiffTask) -> None:
    """C04: the Call Reference and how to track the call on the portal."""
    token = issue_token(uow.session, uow.ticket.contact_email, uow.now)
    uow.queue_mail(
        "confirmation",
        uow.ticket.contact_email,
        portal_url=f"{uow.desk.settings.portal_url}/{token}",
        first_response_target=str(uow.desk.sla_policy.first_response),
    )


@handler("alert_first_line")
def alert_first_line(uow: UnitOfWork, task: SpiffTask) -> None:
    """C12: the first-line queue is told that a first response is overdue."""
    clock = uow.sla.clock("first_response")
    due = f"{local(clock.due_at):%a %d %b %H:%M %Z}" if clock and clock.due_at else "its deadline"
    uow.queue_mail("first_line_alert", uow.desk.settings.first_line_address, due=due)


@handler("send_progress_update")
def send_progress_update(uow: UnitOfWork, task: SpiffTask) -> None:
    """C26: kept informed after a breach, and each working day until resolved."""
    clock = uow.sla.clock("resolution")
    note = "Your call is waiting on information or access from you." if uow.ticket.status == "delayed" else ""
    uow.queue_mail(
        "progress_update", uow.ticket.contact_email, target=clock.target if clock else "our target", note=note
    )


@handler("notify_enhancement")
def notify_enhancement(uow: UnitOfWork, task: SpiffTask) -> None:
    """C09: the request goes to the Development Team and the customer's call closes."""
    uow.ticket.outcome = "enhancement"
    uow.queue_mail("enhancement", uow.ticket.contact_email)
    uow.close_for_customer("enhancement")


@handler("send_escalation_response")
def send_escalation_response(uow: UnitOfWork, task: SpiffTask) -> None:
    """C30: the response, once all the information is to hand."""
    response = str(task.data.get("response") or "")
    uow.ticket.outcome = "responded"
    uow.queue_mail("escalation_response", uow.ticket.contact_email, response=response)
