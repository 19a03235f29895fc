"""The files of one deploy, read once: each parsed tree, every element by id, and problems located
on an element (file, line, id and name). Every check of the gate reads this instead of parsing or
searching the XML again (searching a tree per task spec made the gate slow)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from lxml import etree

from supportdesk.engine.errors import DiagramError
from supportdesk.engine.process.problems import ERROR, Problem

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/",
}
DMN_NS = {"dmn": NS["dmn"]}
CAMUNDA = "{" + NS["camunda"] + "}"


def parse_xml(name: str, content: str) -> etree._ElementTree:
    try:
        return etree.ElementTree(etree.fromstring(content.encode("utf-8")))
    except etree.XMLSyntaxError as exc:
        raise DiagramError(
            f"not well-formed XML: {exc.msg}; fix the file, or save it again from the modeller",
            file=name,
            line=exc.lineno,
        ) from exc


def local_name(element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def nearest_identified(element):
    """The element itself, or its closest ancestor, that has an id (a problem is located there)."""
    while element is not None and not element.get("id"):
        element = element.getparent()
    return element


def name_of(element) -> str:
    """What a process owner sees on the element: its name, a rule's description, or nothing."""
    if element is None:
        return ""
    name = element.get("name") or element.get("label")
    if name:
        return " ".join(name.split())
    if local_name(element) == "rule":
        description = element.find("dmn:description", DMN_NS)
        if description is not None and (description.text or "").strip():
            return description.text.strip()
        return f"row {len(element.xpath('preceding-sibling::dmn:rule', namespaces=DMN_NS)) + 1}"
    return ""


@dataclass
class Diagram:
    name: str
    tree: etree._ElementTree
    by_id: dict[str, etree._Element]

    @property
    def is_decision(self) -> bool:
        return self.name.endswith(".dmn")

    def xpath(self, path: str, **variables) -> list:
        return self.tree.xpath(path, namespaces=NS, **variables)


class DiagramSet:
    def __init__(self, trees: Mapping[str, etree._ElementTree]):
        self.diagrams = {
            name: Diagram(name, tree, {e.get("id"): e for e in tree.iter() if isinstance(e.tag, str) and e.get("id")})
            for name, tree in sorted(trees.items())
        }

    def processes(self) -> list[Diagram]:
        return [d for d in self.diagrams.values() if not d.is_decision]

    def decisions(self) -> list[Diagram]:
        return [d for d in self.diagrams.values() if d.is_decision]

    def elements(self, path: str, **variables) -> Iterator[tuple[Diagram, etree._Element]]:
        """(diagram, element) for ``path`` (an XPath, with $variables) in every process file."""
        for diagram in self.processes():
            for element in diagram.xpath(path, **variables):
                yield diagram, element

    def find(self, element_id: str) -> tuple[Diagram, etree._Element] | None:
        for diagram in self.diagrams.values():
            element = diagram.by_id.get(element_id)
            if element is not None:
                return diagram, element
        return None

    def process_ids(self) -> list[str]:
        return [p.get("id") for _, p in self.elements("//bpmn:process") if p.get("id")]

    def decision_ids(self) -> list[str]:
        return [d.get("id") for diagram in self.decisions() for d in diagram.xpath("//dmn:decision") if d.get("id")]

    def problem(
        self, diagram: Diagram | str, element, message: str, severity: str = ERROR, line: int | None = None
    ) -> Problem:
        """A problem located on ``element`` (or its nearest ancestor with an id), at ``line`` or the element's."""
        file = diagram if isinstance(diagram, str) else diagram.name
        located = nearest_identified(element)
        line = line or (element.sourceline if element is not None else None)
        line = line or (located.sourceline if located is not None else None)
        if located is None:
            return Problem(file, line, "", message, severity=severity)
        return Problem(file, line, located.get("id"), message, name_of(located), severity)

    def problem_at(self, element_id: str, message: str, file: str = "", severity: str = ERROR) -> Problem:
        """A problem located by element id alone (SpiffWorkflow's errors carry no line)."""
        found = self.diagrams[file].by_id.get(element_id) if file in self.diagrams else None
        if found is None:
            located = self.find(element_id) if element_id else None
            if located is not None:
                file, found = located[0].name, located[1]
        if found is None:
            return Problem(file, None, element_id, message, severity=severity)
        return Problem(file, found.sourceline, element_id, message, name_of(found), severity)
