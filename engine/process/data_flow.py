"""Which variables may be set when the process reaches each element, and the values each can have.

Read from the diagrams alone (no run): a form sets its fields (an enum to its values, a boolean to
True or False), a business rule task sets its decision's outputs (to the values its rules give), a
handler what ``desk_data.HANDLER_DATA`` says, a message catch its message's name, a script what it
assigns; a process starts with ``desk_data.START_DATA``. Along every path the facts are joined (a
variable set on one path may be set; its values are those of all paths), until nothing changes.
A variable a task sets again takes that task's values from there on.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from lxml import etree

from supportdesk.engine.process import desk_data, feel, python_names
from supportdesk.engine.process.diagram_set import CAMUNDA, NS, Diagram, DiagramSet, local_name

# The values a variable can have: a frozenset, or ANY when the diagrams do not say.
ANY = None
Values = frozenset | None
Facts = dict[str, Values]
Key = tuple[str, str]  # (file, element id): ids repeat across files

SCOPES = ("process", "subProcess", "transaction", "adHocSubProcess")
NOT_FLOW_NODES = frozenset(
    {
        "sequenceFlow",
        "laneSet",
        "lane",
        "documentation",
        "extensionElements",
        "ioSpecification",
        "dataObject",
        "dataObjectReference",
        "dataStoreReference",
        "textAnnotation",
        "association",
        "property",
        "dataInputAssociation",
        "dataOutputAssociation",
        "multiInstanceLoopCharacteristics",
    }
)


def union(a: Values, b: Values) -> Values:
    return ANY if a is ANY or b is ANY else a | b


def join(facts: Iterable[Facts]) -> Facts:
    joined: Facts = {}
    for one in facts:
        for name, values in one.items():
            joined[name] = union(joined[name], values) if name in joined else values
    return joined


def values_of(raw: Iterable | None) -> Values:
    return ANY if raw is None else frozenset(raw)


@dataclass
class _Node:
    key: Key
    element: etree._Element
    scope: Key
    kind: str
    sets: Facts = field(default_factory=dict)  # what the element itself sets, read once
    predecessors: list[Key] = field(default_factory=list)
    facts_in: Facts = field(default_factory=dict)
    facts_out: Facts = field(default_factory=dict)


class DataFlow:
    def __init__(self, diagrams: DiagramSet):
        self.diagrams = diagrams
        self.nodes: dict[Key, _Node] = {}
        self.scopes: dict[Key, etree._Element] = {}
        self.decision_outputs = decision_outputs(diagrams)
        for diagram in diagrams.processes():
            for process in diagram.xpath("/bpmn:definitions/bpmn:process"):
                self._add_scope(diagram, process)
        self._connect()
        self.in_scope: dict[Key, list[_Node]] = {key: [] for key in self.scopes}
        for node in self.nodes.values():
            self.in_scope[node.scope].append(node)
            node.sets = dict(self._sets(node))
        self._solve()

    def facts_at(self, file: str, element_id: str) -> Facts | None:
        """What may be set when the element is reached (for a flow: when it is taken); None if not a flow element."""
        node = self.nodes.get((file, element_id))
        if node is not None:
            return node.facts_in
        found = self.diagrams.diagrams[file].by_id.get(element_id) if file in self.diagrams.diagrams else None
        if found is not None and local_name(found) == "sequenceFlow":
            source = self.nodes.get((file, found.get("sourceRef", "")))
            return source.facts_out if source is not None else None
        return None

    @functools.cached_property
    def set_anywhere(self) -> Facts:
        """Every variable some element may set, with all its values."""
        return join(node.facts_out for node in self.nodes.values())

    # --- the graph ---------------------------------------------------------------------------------

    def _add_scope(self, diagram: Diagram, scope: etree._Element) -> None:
        scope_key = (diagram.name, scope.get("id", ""))
        self.scopes[scope_key] = scope
        for child in scope:
            kind = local_name(child)
            if not kind or kind in NOT_FLOW_NODES or not child.get("id"):
                continue
            key = (diagram.name, child.get("id"))
            self.nodes[key] = _Node(key, child, scope_key, kind)
            if kind in SCOPES:
                self._add_scope(diagram, child)

    def _connect(self) -> None:
        for diagram in self.diagrams.processes():
            for flow in diagram.xpath("//bpmn:sequenceFlow"):
                target = self.nodes.get((diagram.name, flow.get("targetRef", "")))
                if target is not None:
                    target.predecessors.append((diagram.name, flow.get("sourceRef", "")))

    # --- solving -----------------------------------------------------------------------------------

    def _solve(self) -> None:
        # Round-robin until nothing changes: the values come from the diagrams' literals, so it ends.
        changed, rounds = True, 0
        while changed and rounds < 50:
            changed, rounds = False, rounds + 1
            for node in self.nodes.values():
                facts_in = self._facts_in(node)
                facts_out = self._transfer(node, facts_in)
                if facts_in != node.facts_in or facts_out != node.facts_out:
                    node.facts_in, node.facts_out, changed = facts_in, facts_out, True

    def _facts_in(self, node: _Node) -> Facts:
        if node.kind == "boundaryEvent":  # fires while its task waits: the task's own facts
            attached = self.nodes.get((node.key[0], node.element.get("attachedToRef", "")))
            return dict(attached.facts_in) if attached is not None else {}
        if node.kind == "startEvent":
            return self._scope_entry(node.scope)
        return join(self.nodes[p].facts_out for p in node.predecessors if p in self.nodes)

    def _scope_entry(self, scope_key: Key) -> Facts:
        scope = self.scopes[scope_key]
        kind = local_name(scope)
        if kind == "process":
            callers = (n.facts_in for n in self.nodes.values() if self._calls(n, scope_key[1]))
            return join([START_FACTS.get(scope_key[1], {}), *callers])
        if scope.get("triggeredByEvent") == "true":  # may start whenever its parent scope runs
            parent = self.nodes[scope_key].scope
            return join([self._scope_entry(parent), *(n.facts_out for n in self.in_scope[parent])])
        return dict(self.nodes[scope_key].facts_in)

    @staticmethod
    def _calls(node: _Node, process_id: str) -> bool:
        return node.kind == "callActivity" and node.element.get("calledElement") == process_id

    def _scope_exit(self, scope_key: Key) -> Facts:
        return join(n.facts_out for n in self.in_scope.get(scope_key, ()) if n.kind == "endEvent")

    def _transfer(self, node: _Node, facts_in: Facts) -> Facts:
        if node.key in self.scopes and node.element.get("triggeredByEvent") != "true":
            return self._scope_exit(node.key) or facts_in  # an embedded subprocess hands its data back
        if node.kind == "callActivity":
            called = [key for key in self.scopes if key[1] == node.element.get("calledElement")]
            return join([facts_in, *(self._scope_exit(key) for key in called)])
        return {**facts_in, **node.sets} if node.sets else facts_in

    def _sets(self, node: _Node) -> Iterator[tuple[str, Values]]:
        element, kind = node.element, node.kind
        if kind == "userTask":
            yield from form_fields(element)
        elif kind == "businessRuleTask":
            yield from self.decision_outputs.get(element.get(f"{CAMUNDA}decisionRef", ""), {}).items()
        elif kind == "serviceTask":
            for name, values in desk_data.HANDLER_DATA.get(element.get(f"{CAMUNDA}topic", ""), {}).items():
                yield name, values_of(values)
        elif kind == "scriptTask":
            yield from ((name, ANY) for name in _script_assignments(element))
        for message_name in self._messages_caught(node):
            yield message_name, ANY

    def _messages_caught(self, node: _Node) -> Iterator[str]:
        """The desk delivers a message's payload under the message's name."""
        refs = [d.get("messageRef") for d in node.element.xpath("bpmn:messageEventDefinition", namespaces=NS)]
        if node.kind == "receiveTask":
            refs.append(node.element.get("messageRef"))
        diagram = self.diagrams.diagrams[node.key[0]]
        for ref in refs:
            message = diagram.by_id.get(ref or "")
            if message is not None and message.get("name"):
                yield message.get("name")


START_FACTS: dict[str, Facts] = {
    process: {name: values_of(values) for name, values in data.items()}
    for process, data in desk_data.START_DATA.items()
}


def form_fields(task: etree._Element) -> Iterator[tuple[str, Values]]:
    """Each field of a user task's form and the values it can give (None for a blank optional enum)."""
    for field_element in task.xpath(".//camunda:formData/camunda:formField", namespaces=NS):
        kind = field_element.get("type")
        if kind == "boolean":
            yield field_element.get("id", ""), frozenset({True, False})
        elif kind == "enum":
            values = {v.get("id") for v in field_element.xpath("camunda:value", namespaces=NS)}
            yield field_element.get("id", ""), frozenset(values if _required(field_element) else values | {None})
        else:
            yield field_element.get("id", ""), ANY


def _required(field_element: etree._Element) -> bool:
    constraints = field_element.xpath("camunda:validation/camunda:constraint[@name='required']", namespaces=NS)
    return any(c.get("config", "true") != "false" for c in constraints)


def decision_outputs(diagrams: DiagramSet) -> dict[str, dict[str, Values]]:
    """For each decision id: each output's name and the values its rules give."""
    outputs: dict[str, dict[str, Values]] = {}
    for diagram in diagrams.decisions():
        for decision in diagram.xpath("//dmn:decision"):
            table = decision.find("dmn:decisionTable", NS)
            if table is not None:
                outputs[decision.get("id", "")] = _table_outputs(table)
    return outputs


def _table_outputs(table: etree._Element) -> dict[str, Values]:
    names = [o.get("name") or o.get("id", "") for o in table.findall("dmn:output", NS)]
    found: dict[str, Values] = {name: frozenset() for name in names}
    for rule in table.findall("dmn:rule", NS):
        for name, entry in zip(names, rule.findall("dmn:outputEntry", NS), strict=False):
            found[name] = union(found[name], _literal_values(entry.findtext("dmn:text", "", NS)))
    return found


def _literal_values(text: str) -> Values:
    try:
        return frozenset({ast.literal_eval(feel.output_entry_to_python(text).strip() or "None")})
    except (ValueError, SyntaxError, TypeError):
        return ANY


def _script_assignments(task: etree._Element) -> set[str]:
    try:
        return python_names.variables_set(task.findtext("bpmn:script", "", NS))
    except SyntaxError:
        return set()
