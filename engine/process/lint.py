"""Warnings about diagrams that deploy and run, but not as a process owner would expect.

Deploying still succeeds; ``supportdesk deploy`` prints each warning, and the
tests keep the shipped diagrams free of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from supportdesk.engine.process.validation import DMN_NS, NS, parse_xml

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


@dataclass(frozen=True)
class DiagramWarning:
    file: str
    line: int | None
    element_id: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} (element {self.element_id}): {self.message}"


def lint(files: Mapping[str, str]) -> list[DiagramWarning]:
    warnings: list[DiagramWarning] = []
    for name, content in sorted(files.items()):
        tree = parse_xml(name, content)
        checks = (_undrawn, _form_without_key, _dangling) if name.endswith(".bpmn") else (_no_catch_all,)
        for check in checks:
            warnings += [
                DiagramWarning(name, element.sourceline, element.get("id") or "", message)
                for element, message in check(tree)
            ]
    return warnings


def _elements(tree, tags):
    return [e for tag in tags for e in tree.xpath(f"//bpmn:{tag}", namespaces=NS)]


def _undrawn(tree):
    """A modeller shows an element without a shape or edge nowhere: nobody can edit it."""
    drawn = set(tree.xpath("//bpmndi:BPMNShape/@bpmnElement | //bpmndi:BPMNEdge/@bpmnElement", namespaces=DI_NS))
    return [
        (e, "not drawn: it has no shape or edge in the diagram layout (BPMNDI)")
        for e in _elements(tree, DRAWN)
        if e.get("id") not in drawn
    ]


def _form_without_key(tree):
    """SpiffWorkflow reads camunda:formData only when the task has a form key."""
    return [
        (task, "has form fields but no form key: the fields would be ignored")
        for task in _elements(tree, ("userTask",))
        if task.xpath(".//camunda:formField", namespaces=NS)
        and task.get("{http://camunda.org/schema/1.0/bpmn}formKey") is None
    ]


def _dangling(tree):
    """A node nothing flows into never runs; one with no way out stops its token."""
    sources = set(tree.xpath("//bpmn:sequenceFlow/@sourceRef", namespaces=NS))
    targets = set(tree.xpath("//bpmn:sequenceFlow/@targetRef", namespaces=NS))
    found = [(e, "nothing flows into it") for e in _elements(tree, NEEDS_INCOMING) if e.get("id") not in targets]
    found += [(e, "no flow leaves it") for e in _elements(tree, NEEDS_OUTGOING) if e.get("id") not in sources]
    return found


def _no_catch_all(tree):
    """C11: a decision with no rule that matches everything returns nothing for the calls that fit no rule."""
    found = []
    for table in tree.xpath("//dmn:decisionTable", namespaces=DMN_NS):
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
