"""C03: every call gets a unique Call Reference."""

from SpiffWorkflow.task import Task as SpiffTask

from supportdesk.engine.tickets.references import next_reference
from supportdesk.engine.tickets.unit_of_work import UnitOfWork

from . import handler


@handler("assign_call_reference")
def assign_call_reference(uow: UnitOfWork, task: SpiffTask) -> None:
    if uow.ticket.reference is None:
        uow.ticket.reference = next_reference(uow.session, uow.now, uow.ticket.kind)
        uow.record("reference_assigned", {"reference": uow.ticket.reference}, actor="desk")
    task.data["call_reference"] = uow.ticket.reference
