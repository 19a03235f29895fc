"""Small helpers the tests share: the charter's words for driving a ticket."""

from __future__ import annotations

from lxml import etree
from sqlalchemy import func, select

from supportdesk.engine.process.deployment import content_hash
from supportdesk.engine.store.models import DiagramFile, DiagramVersion
from supportdesk.engine.tickets import commands, queries
from supportdesk.engine.working_time.clock import clock

from conftest import WORKFLOWS

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


def deploy_without_the_gate(desk, files: dict[str, str], actor: str = "test, gate bypassed") -> int:
    """Store ``files`` as the next active diagram version as ``deploy_files`` does, but without the deploy
    gate (nor its dry run): how a diagram that fails at run time gets live in a test. Returns its number."""
    with desk.db.transaction() as session:
        number = (session.scalar(select(func.max(DiagramVersion.number))) or 0) + 1
        activation = (session.scalar(select(func.max(DiagramVersion.activation))) or 0) + 1
        session.add(
            DiagramVersion(
                number=number,
                content_hash=content_hash(files),
                deployed_at=clock.now(),
                deployed_by=actor,
                activation=activation,
                activated_at=clock.now(),
                files=[DiagramFile(name=name, content=content) for name, content in sorted(files.items())],
            )
        )
    return number


def shipped_diagrams() -> dict[str, str]:
    """The shipped workflows/ files, by name."""
    return {path.name: path.read_text() for path in sorted(WORKFLOWS.iterdir()) if path.suffix in (".bpmn", ".dmn")}


def with_a_case_uncovered(bpmn: str, gateway_id: str, condition: str) -> str:
    """``bpmn`` whose exclusive gateway ``gateway_id`` lost its default flow, which takes ``condition``
    instead (SpiffWorkflow wants a condition on every flow of a gateway without a default): a case that
    neither it nor the other flows' conditions cover falls through the gateway at run time."""
    root = etree.fromstring(bpmn.encode("utf-8"))
    [gateway] = root.xpath("//*[local-name()='exclusiveGateway'][@id=$id]", id=gateway_id)
    default = gateway.attrib.pop("default", None)
    assert default, f"{gateway_id} has no default flow to take away"
    return with_condition(
        etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8"), default, condition
    )


def with_condition(bpmn: str, flow_id: str, condition: str) -> str:
    """``bpmn`` whose sequence flow ``flow_id`` (out of an exclusive gateway) has ``condition``, in place of
    any it had: a condition that raises makes the gateway's step fail at run time."""
    root = etree.fromstring(bpmn.encode("utf-8"))
    [flow] = root.xpath("//*[local-name()='sequenceFlow'][@id=$id]", id=flow_id)
    for old in flow.xpath("*[local-name()='conditionExpression']"):
        flow.remove(old)
    expression = etree.SubElement(flow, flow.tag.replace("sequenceFlow", "conditionExpression"))
    expression.set("{http://www.w3.org/2001/XMLSchema-instance}type", "bpmn:tFormalExpression")
    expression.text = condition
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")


def edited(text: str, *changes: tuple[str, str]) -> str:
    """``text`` (a shipped diagram) with each (old, new) replaced; old must be there exactly once, so a test
    cannot go stale or edit the wrong place."""
    for old, new in changes:
        assert text.count(old) == 1, f"the shipped diagram should contain {old!r} once"
        text = text.replace(old, new)
    return text
