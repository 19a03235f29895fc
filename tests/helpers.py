"""Small helpers the tests share: the charter's words for driving a ticket."""

from __future__ import annotations

from supportdesk.engine.tickets import commands, queries

ANN = commands.CallDetails(
    contact_name="Ann Example",
    contact_email="ann@example.com",
    account="Acme Ltd",
    summary="Unable to load data for tomorrow's campaign",
)

FIRST_RESPONSE = {
    "response_method": "phone",
    "response": "Called back; looking into the data load",
    "next_step": "second_line",
    "handover_reason": "Needs the import logs",
}
RESOLVED_STRAIGHT_AWAY = {
    "response_method": "phone",
    "response": "Walked the customer through it",
    "next_step": "resolved",
    "resolution": "Re-sent the invitation; the user can sign in",
}
RESOLUTION = {"next_step": "resolved", "resolution": "Import file had a stray BOM; fixed and reloaded"}


def log_call(desk, actor: str = "alice", details: commands.CallDetails = ANN) -> str:
    return commands.log_call(desk, details, actor)


def log_and_triage(desk, actor: str = "alice", details: commands.CallDetails = ANN, **triage) -> str:
    """Log a call and confirm its priority (the suggestion, unless ``triage`` overrides it)."""
    reference = log_call(desk, actor, details)
    do(desk, reference, "Confirm priority", triage, actor)
    return reference


def open_task(desk, reference: str, title: str):
    """The one open task called ``title`` on the ticket."""
    matching = [t for t in queries.ticket_view(desk, reference).open_tasks if t.title == title]
    assert len(matching) == 1, f"expected one open {title!r} on {reference}, got {matching}"
    return matching[0]


def open_titles(desk, reference: str) -> list[str]:
    return sorted(t.title for t in queries.ticket_view(desk, reference).open_tasks)


def do(desk, reference: str, title: str, data: dict | None = None, actor: str = "alice") -> None:
    """Complete the open task ``title`` with ``data``."""
    commands.complete_task(desk, commands.CompleteTask(open_task(desk, reference, title).task_id, data or {}), actor)


def history_kinds(desk, reference: str) -> list[str]:
    return [event.kind for event in queries.ticket_view(desk, reference).history]


def events(desk, reference: str, kind: str) -> list:
    return [event for event in queries.ticket_view(desk, reference).history if event.kind == kind]


def delay_for_information(desk, reference: str, note: str = "Please send the import log", actor: str = "sam") -> None:
    """C22: an advisor sets the call Delayed, waiting for information from the customer (``note``)."""
    payload = {"reason": "information_awaited", "note": note}
    commands.deliver_message(desk, commands.DeliverMessage(reference, "call_delayed", payload), actor)
