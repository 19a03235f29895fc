"""C05-C11: the advisor allocates the priority the table suggests, or overrides it with a reason."""

from SpiffWorkflow.task import Task as SpiffTask

from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.tickets.unit_of_work import UnitOfWork
from supportdesk.engine.working_time.sla_policy import PRIORITIES, RESOLUTION

from . import handler


@handler("set_priority")
def set_priority(uow: UnitOfWork, task: SpiffTask) -> None:
    suggested = task.data.get("suggested_priority") or "Low"  # C11: what fits no rule is Low
    chosen = task.data.get("priority") or suggested
    reason = str(task.data.get("override_reason") or "").strip()
    if chosen not in PRIORITIES:
        raise InvalidInput("unknown priority", {"priority": f"Priority must be one of: {', '.join(PRIORITIES)}"})
    if chosen != suggested and not reason:
        raise InvalidInput(
            "say why the priority differs from the suggestion",
            {"override_reason": f"Say why you chose {chosen} rather than the suggested {suggested}"},
        )
    task.data["priority"] = uow.ticket.priority = chosen
    uow.record(
        "priority_set",
        {"priority": chosen, "suggested": suggested, **({"override_reason": reason} if chosen != suggested else {})},
    )
    if uow.sla.start(RESOLUTION, chosen, uow.ticket.created_at) is not None:
        clock = uow.sla.clock(RESOLUTION)
        uow.record(
            "sla_started",
            {
                "clock": RESOLUTION,
                "priority": chosen,
                "target": clock.target,
                "due": clock.due_at.isoformat() if clock.due_at else None,
            },
            actor="desk",
        )
