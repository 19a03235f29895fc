"""Call activities, business rule tasks and messages that name nothing: each would fail, or wait for
ever, when a call reaches it."""

from __future__ import annotations

from collections.abc import Iterator

from supportdesk.engine.process.diagram_set import CAMUNDA, DiagramSet
from supportdesk.engine.process.problems import Problem


def reference_problems(diagrams: DiagramSet) -> list[Problem]:
    return [*_called_processes(diagrams), *_called_decisions(diagrams), *_messages(diagrams)]


def _called_processes(diagrams: DiagramSet) -> Iterator[Problem]:
    processes = diagrams.process_ids()
    known = ", ".join(processes)
    for diagram, activity in diagrams.elements("//bpmn:callActivity"):
        called = (activity.get("calledElement") or "").strip()
        if not called:
            yield diagrams.problem(
                diagram, activity, f"names no process to call: set its called element to a process id, one of: {known}"
            )
        elif called not in processes:
            yield diagrams.problem(
                diagram, activity, f"calls process {called!r}, which no file of this set defines: call one of: {known}"
            )


def _called_decisions(diagrams: DiagramSet) -> Iterator[Problem]:
    decisions = diagrams.decision_ids()
    known = ", ".join(decisions) or "(no .dmn file in this set)"
    for diagram, task in diagrams.elements("//bpmn:businessRuleTask"):
        decision = (task.get(f"{CAMUNDA}decisionRef") or "").strip()
        if not decision:
            message = f"names no decision: set its decision reference (camunda:decisionRef) to one of: {known}"
            yield diagrams.problem(diagram, task, message)
        elif decision not in decisions:
            message = f"calls decision {decision!r}, which no .dmn file of this set defines: use one of: {known}"
            yield diagrams.problem(diagram, task, message)


def _messages(diagrams: DiagramSet) -> Iterator[Problem]:
    for diagram, definition in diagrams.elements("//bpmn:messageEventDefinition"):
        if not (definition.get("messageRef") or "").strip():
            message = (
                "names no message, so nothing can ever be delivered to it: choose its message in the modeller "
                "(a message with the name the desk delivers)"
            )
            yield diagrams.problem(diagram, definition.getparent(), message)
    for diagram, task in diagrams.elements("//bpmn:receiveTask[not(@messageRef) and not(bpmn:messageEventDefinition)]"):
        yield diagrams.problem(diagram, task, "waits for no message, so it would wait for ever: choose its message")
    for diagram, message_element in diagrams.elements("/bpmn:definitions/bpmn:message"):
        if not (message_element.get("name") or "").strip():
            message = "the message has no name, and the desk delivers messages by name: give it one"
            yield diagrams.problem(diagram, message_element, message)
