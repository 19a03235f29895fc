"""Warnings about diagrams that deploy and run, but not as a process owner would expect.

Deploying still succeeds; ``supportdesk deploy`` prints each warning, the versions page lists them,
and the tests keep the shipped diagrams free of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeAlias

from supportdesk.engine.process import camunda
from supportdesk.engine.process.diagram_set import DMN_NS, NS, Diagram, DiagramSet, parse_xml
from supportdesk.engine.process.problems import WARNING, Problem

# A warning is a problem that does not refuse the deploy.
DiagramWarning: TypeAlias = Problem

DI_NS = {**NS, "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI"}
DRAWN = (
    "startEvent",
    "endEvent",
    "userTask",
    "serviceTask",
    "scriptTask",
    "businessRuleTask",
    "task",
    "exclusiveGateway",
    "parallelGateway",
    "eventBasedGateway",
    "inclusiveGateway",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "subProcess",
    "callActivity",
    "lane",
    "participant",
    "sequenceFlow",
)
NEEDS_INCOMING = (
    "endEvent",
    "userTask",
    "serviceTask",
    "scriptTask",
    "businessRuleTask",
    "task",
    "exclusiveGateway",
    "parallelGateway",
    "eventBasedGateway",
    "intermediateCatchEvent",
)
NEEDS_OUTGOING = (
    "startEvent",
    "userTask",
    "serviceTask",
    "scriptTask",
    "businessRuleTask",
    "task",
    "exclusiveGateway",
    "parallelGateway",
    "eventBasedGateway",
    "intermediateCatchEvent",
    "boundaryEvent",
)


def lint(files: Mapping[str, str]) -> list[DiagramWarning]:
    """The warnings of a set of files (each well-formed: a deployed version's)."""
    return lint_set(DiagramSet({name: parse_xml(name, content) for name, content in files.items()}))


def lint_set(diagrams: DiagramSet) -> list[DiagramWarning]:
    warnings: list[DiagramWarning] = []
    for diagram in diagrams.diagrams.values():
        checks = (_no_catch_all,) if diagram.is_decision else (_undrawn, _form_without_key, _dangling)
        for check in checks:
            warnings += [diagrams.problem(diagram, element, message, WARNING) for element, message in check(diagram)]
    return warnings + camunda.extension_warnings(diagrams)


def _elements(diagram: Diagram, tags):
    return [e for tag in tags for e in diagram.xpath(f"//bpmn:{tag}")]


def _undrawn(diagram: Diagram):
    """A modeller shows an element without a shape or edge nowhere: nobody can edit it."""
    drawn = set(
        diagram.tree.xpath("//bpmndi:BPMNShape/@bpmnElement | //bpmndi:BPMNEdge/@bpmnElement", namespaces=DI_NS)
    )
    return [
        (e, "not drawn: it has no shape or edge in the diagram layout (BPMNDI); draw it in the modeller")
        for e in _elements(diagram, DRAWN)
        if e.get("id") not in drawn
    ]


def _form_without_key(diagram: Diagram):
    """SpiffWorkflow reads camunda:formData only when the task has a form key."""
    return [
        (task, "has form fields but no form key: the fields would be ignored; give the task a form key")
        for task in _elements(diagram, ("userTask",))
        if task.xpath(".//camunda:formField", namespaces=NS)
        and task.get("{http://camunda.org/schema/1.0/bpmn}formKey") is None
    ]


def _dangling(diagram: Diagram):
    """A node nothing flows into never runs; one with no way out stops its token."""
    sources = set(diagram.xpath("//bpmn:sequenceFlow/@sourceRef"))
    targets = set(diagram.xpath("//bpmn:sequenceFlow/@targetRef"))
    found = [(e, "nothing flows into it") for e in _elements(diagram, NEEDS_INCOMING) if e.get("id") not in targets]
    found += [(e, "no flow leaves it") for e in _elements(diagram, NEEDS_OUTGOING) if e.get("id") not in sources]
    return found


def _no_catch_all(diagram: Diagram):
    """C11: a decision with no rule that matches everything returns nothing for the calls that fit no rule."""
    found = []
    for table in diagram.tree.xpath("//dmn:decisionTable", namespaces=DMN_NS):
        rules = table.xpath("dmn:rule", namespaces=DMN_NS)
        if not any(
            all(
                not (t.text or "").strip() or (t.text or "").strip() == "-"
                for t in rule.xpath("dmn:inputEntry/dmn:text", namespaces=DMN_NS)
            )
            for rule in rules
        ):
            found.append((table, "no catch-all rule (every input empty): a case that fits no rule gets no answer"))
    return found
