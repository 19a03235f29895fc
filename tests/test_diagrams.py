"""The shipped diagrams open cleanly in a modeller: every element is drawn,
and every user task sits in the lane of a role of the charter."""

from __future__ import annotations

import pytest
from lxml import etree

from supportdesk.engine.process.roles import TASK_ROLES, role_for_lane
from supportdesk.engine.process.validation import NS, validate
from supportdesk.handlers import HANDLERS

from conftest import WORKFLOWS

NS = {
    **NS,
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
DIAGRAMS = sorted(WORKFLOWS.glob("*.bpmn"))
DRAWN = (
    "startEvent",
    "endEvent",
    "userTask",
    "serviceTask",
    "scriptTask",
    "task",
    "exclusiveGateway",
    "parallelGateway",
    "eventBasedGateway",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "subProcess",
    "callActivity",
    "businessRuleTask",
    "lane",
    "participant",
    "sequenceFlow",
    "messageFlow",
)


def test_the_shipped_diagrams_pass_deploy_validation():
    files = {path.name: path.read_text() for path in WORKFLOWS.iterdir() if path.suffix in (".bpmn", ".dmn")}
    validate(files, HANDLERS)


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_every_element_has_its_shape_or_edge(path):
    tree = etree.parse(str(path))
    drawn = set(tree.xpath("//bpmndi:BPMNShape/@bpmnElement | //bpmndi:BPMNEdge/@bpmnElement", namespaces=NS))
    elements = [e.get("id") for name in DRAWN for e in tree.xpath(f"//bpmn:{name}", namespaces=NS)]
    assert elements
    assert [e for e in elements if e not in drawn] == []
    for edge in tree.xpath("//bpmndi:BPMNEdge", namespaces=NS):
        assert len(edge.xpath("di:waypoint", namespaces=NS)) >= 2, edge.get("id")


def test_C15_to_C30_every_role_of_the_charter_has_a_lane_with_tasks():
    roles_with_tasks = set()
    for path in DIAGRAMS:
        tree = etree.parse(str(path))
        for lane in tree.xpath("//bpmn:lane", namespaces=NS):
            refs = lane.xpath("bpmn:flowNodeRef/text()", namespaces=NS)
            if any(tree.xpath(f"//bpmn:userTask[@id='{ref}']", namespaces=NS) for ref in refs):
                roles_with_tasks.add(role_for_lane(lane.get("name")))
    assert roles_with_tasks == set(TASK_ROLES)
