"""The desk's own rules for a diagram, and SpiffWorkflow's, said in a process owner's words: service
tasks name a handler the desk has, user tasks sit in the lane of a role of the charter, a task
leaves by one flow, a choice's flows have conditions, an event-based gateway waits for one timer."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator

from lxml import etree

from supportdesk.engine.process.diagram_set import CAMUNDA, Diagram, DiagramSet, local_name
from supportdesk.engine.process.problems import Problem
from supportdesk.engine.process.roles import ROLES, TASK_ROLES, role_for_lane

ROLE_LANES = ", ".join(ROLES[role] for role in TASK_ROLES)
# SpiffWorkflow follows more than one flow out of these only (TaskParser.handles_multiple_outgoing).
SPLITS = (
    "exclusiveGateway",
    "inclusiveGateway",
    "parallelGateway",
    "eventBasedGateway",
    "complexGateway",
    "startEvent",
)
CHOICES = ("exclusiveGateway", "inclusiveGateway")


def desk_rule_problems(diagrams: DiagramSet, handler_topics: Iterable[str]) -> list[Problem]:
    topics = sorted(set(handler_topics))
    problems: list[Problem] = []
    for diagram in diagrams.processes():
        problems += _service_tasks(diagrams, diagram, topics)
        problems += _user_task_lanes(diagrams, diagram)
        problems += _one_flow_out_of_a_task(diagrams, diagram)
        problems += _choices_have_conditions(diagrams, diagram)
        problems += _one_timer_per_event_gateway(diagrams, diagram)
    return problems


def _service_tasks(diagrams: DiagramSet, diagram: Diagram, topics: list[str]) -> Iterator[Problem]:
    known = ", ".join(topics)
    for task in diagram.xpath("//bpmn:serviceTask"):
        topic = task.get(f"{CAMUNDA}topic")
        if task.get(f"{CAMUNDA}type") != "external" or not topic:
            message = (
                "names no handler: set its implementation to External and its topic (camunda:topic) "
                f"to the handler it runs, one of: {known}"
            )
            yield diagrams.problem(diagram, task, message)
        elif topic not in topics:
            guess = difflib.get_close_matches(topic, topics, n=1)
            hint = f" (did you mean {guess[0]!r}?)" if guess else ""
            message = f"calls unknown handler {topic!r}{hint}: set camunda:topic to one of: {known}"
            yield diagrams.problem(diagram, task, message)


def _user_task_lanes(diagrams: DiagramSet, diagram: Diagram) -> Iterator[Problem]:
    for process in diagram.xpath("/bpmn:definitions/bpmn:process"):
        lanes = _lane_of_each_node(process)
        for task in process.iter("{*}userTask"):
            lane = _lane_of(task, lanes)
            if lane is None:
                message = (
                    f"user task is in no lane, so no role can do it: put it in the lane of its role ({ROLE_LANES})"
                )
                yield diagrams.problem(diagram, task, message)
            elif role_for_lane(lane) is None:
                message = (
                    f"user task is in lane {lane!r}, which is not a role of the charter: "
                    f"name the lane after the role that does it, one of: {ROLE_LANES}"
                )
                yield diagrams.problem(diagram, task, message)


def _lane_of_each_node(process: etree._Element) -> dict[str, str]:
    lanes: dict[str, str] = {}
    for lane in process.iter("{*}lane"):  # nested lanes come after their parent: the innermost wins
        for ref in lane.iterfind("{*}flowNodeRef"):
            lanes[(ref.text or "").strip()] = lane.get("name") or ""
    return lanes


def _lane_of(task: etree._Element, lanes: dict[str, str]) -> str | None:
    """A task's lane, or (inside a subprocess, as SpiffWorkflow does it) the subprocess's lane."""
    element = task
    while element is not None and local_name(element) != "process":
        if element.get("id") in lanes:
            return lanes[element.get("id")]
        element = element.getparent()
    return None


def _outgoing(diagram: Diagram) -> dict[str, list[etree._Element]]:
    flows: dict[str, list[etree._Element]] = {}
    for flow in diagram.xpath("//bpmn:sequenceFlow"):
        flows.setdefault(flow.get("sourceRef", ""), []).append(flow)
    return flows


def _one_flow_out_of_a_task(diagrams: DiagramSet, diagram: Diagram) -> Iterator[Problem]:
    for source, flows in _outgoing(diagram).items():
        node = diagram.by_id.get(source)
        if node is None or len(flows) < 2 or local_name(node) in SPLITS:
            continue
        ids = ", ".join(flow.get("id", "") for flow in flows)
        message = (
            f"{len(flows)} flows leave it ({ids}), but the desk follows one flow out of a task or event: "
            "to choose between them, put an exclusive gateway after it; to follow all of them, a parallel gateway"
        )
        yield diagrams.problem(diagram, node, message)


def _choices_have_conditions(diagrams: DiagramSet, diagram: Diagram) -> Iterator[Problem]:
    for source, flows in _outgoing(diagram).items():
        gateway = diagram.by_id.get(source)
        if gateway is None or local_name(gateway) not in CHOICES or len(flows) < 2:
            continue
        for flow in flows:
            if flow.get("id") != gateway.get("default") and _condition(flow) is None:
                message = (
                    f"this flow out of gateway {_label(gateway)} has no condition and is not the gateway's default: "
                    "give it a condition, or make it the default flow"
                )
                yield diagrams.problem(diagram, flow, message)


def _one_timer_per_event_gateway(diagrams: DiagramSet, diagram: Diagram) -> Iterator[Problem]:
    outgoing = _outgoing(diagram)
    for gateway in diagram.xpath("//bpmn:eventBasedGateway"):
        targets = [diagram.by_id.get(flow.get("targetRef", "")) for flow in outgoing.get(gateway.get("id", ""), [])]
        timers = [t.get("id", "") for t in targets if t is not None and t.find("{*}timerEventDefinition") is not None]
        if len(timers) > 1:
            message = (
                f"it waits for {len(timers)} timers ({', '.join(timers)}); SpiffWorkflow then runs every timer's "
                "branch when the first fires: keep one timer on the gateway"
            )
            yield diagrams.problem(diagram, gateway, message)


def _condition(flow: etree._Element) -> str | None:
    condition = flow.find("{*}conditionExpression")
    return None if condition is None else condition.text or ""


def _label(element: etree._Element) -> str:
    return f"{element.get('id')} ({element.get('name')!r})" if element.get("name") else str(element.get("id"))
