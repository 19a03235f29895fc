"""Small helpers the tests share: the charter's words for driving a ticket."""

from __future__ import annotations

from supportdesk.engine import commands, queries

ANN = commands.CallDetails(contact_name="Ann Example", contact_email="ann@example.com", account="Acme Ltd",
                           summary="Unable to load data for tomorrow's campaign")


def log_call(desk, actor: str = "alice") -> str:
    return commands.log_call(desk, ANN, actor)


def open_task(desk, reference: str, title: str):
    """The one open task called ``title`` on the ticket."""
    matching = [t for t in queries.ticket_view(desk, reference).open_tasks if t.title == title]
    assert len(matching) == 1, f"expected one open {title!r} on {reference}, got {matching}"
    return matching[0]


def history_kinds(desk, reference: str) -> list[str]:
    return [event.kind for event in queries.ticket_view(desk, reference).history]


FIRST_RESPONSE = {"response_method": "phone", "response": "Called back; looking into the data load"}
RESOLUTION = {"resolution": "Import file had a stray BOM; fixed and reloaded"}
