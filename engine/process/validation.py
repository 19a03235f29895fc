"""Checks a set of diagrams before it may be deployed.

In order: well-formed XML, the BPMN 2.0 XSD, references between elements,
SpiffWorkflow's parse, a
compile of every script, condition and timer expression, and the desk's own
rules (known handler topics, user tasks in a role's lane). The first problem
is raised as a ``DiagramError`` with the file, the line and the element id.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Mapping

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import XSD_PATH
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException

from supportdesk.engine.errors import DiagramError
from supportdesk.engine.process.roles import role_for_lane
from supportdesk.engine.process.spiff import DeskParser, HandlerTask

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "camunda": "http://camunda.org/schema/1.0/bpmn",
    "dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/",
}
MAIN_PROCESS = "support_call"


@functools.cache
def _bpmn_schema() -> etree.XMLSchema:
    # Building the schema takes a few milliseconds: do it once per process.
    return etree.XMLSchema(etree.parse(XSD_PATH))


def parse_xml(name: str, content: str) -> etree._ElementTree:
    try:
        return etree.ElementTree(etree.fromstring(content.encode("utf-8")))
    except etree.XMLSyntaxError as exc:
        raise DiagramError(f"not well-formed XML: {exc.msg}", file=name, line=exc.lineno) from exc


def _element_on_line(tree: etree._ElementTree, line: int | None) -> str:
    """The id of the innermost element that starts on ``line`` (XSD errors carry no id)."""
    found = ""
    for element in tree.iter():
        if element.sourceline == line and element.get("id"):
            found = element.get("id")
    return found


def check_schema(name: str, tree: etree._ElementTree) -> None:
    schema = _bpmn_schema()
    if not schema.validate(tree):
        error = schema.error_log.last_error
        raise DiagramError(
            f"not valid BPMN 2.0: {error.message}",
            file=name,
            line=error.line,
            element_id=_element_on_line(tree, error.line),
        )


# Attributes that must name an element of the same file. The XSD types them
# as IDREF/QName but lxml does not resolve them, and a dangling one gives a
# confusing error (or a blank shape in the modeller) later.
REFERENCE_ATTRIBUTES = ("sourceRef", "targetRef", "attachedToRef", "default", "bpmnElement")


# SpiffWorkflow names its own task specs so; an element with such an id breaks
# the instance at start with "No output task connected".
RESERVED_IDS = ("Start", "End", "Root")


def check_references(name: str, tree: etree._ElementTree) -> None:
    ids = {element.get("id") for element in tree.iter() if element.get("id")}
    for reserved in sorted(ids & set(RESERVED_IDS)):
        element = tree.xpath("//*[@id=$id]", id=reserved)[0]
        raise DiagramError(
            f"the id {reserved!r} is reserved by the engine; rename the element",
            file=name,
            line=element.sourceline,
            element_id=reserved,
        )
    for element in tree.iter():
        for attribute in REFERENCE_ATTRIBUTES:
            target = element.get(attribute)
            if target and target not in ids:
                raise DiagramError(
                    f"{attribute}={target!r} names no element in this file",
                    file=name,
                    line=element.sourceline,
                    element_id=_nearest_id(element),
                )
        if etree.QName(element).localname in ("incoming", "outgoing", "flowNodeRef"):
            target = (element.text or "").strip()
            if target not in ids:
                raise DiagramError(
                    f"<{etree.QName(element).localname}> names no element: {target!r}",
                    file=name,
                    line=element.sourceline,
                    element_id=_nearest_id(element),
                )


def _nearest_id(element) -> str:
    while element is not None and not element.get("id"):
        element = element.getparent()
    return element.get("id") if element is not None else ""


def _expressions(tree: etree._ElementTree):
    """(element, text, mode) for every piece of Python the diagram will run."""
    for script in tree.xpath("//bpmn:scriptTask/bpmn:script", namespaces=NS):
        yield script, script.text or "", "exec"
    for condition in tree.xpath("//bpmn:conditionExpression", namespaces=NS):
        yield condition, condition.text or "", "eval"
    for timer in tree.xpath("//bpmn:timeDate | //bpmn:timeDuration | //bpmn:timeCycle", namespaces=NS):
        yield timer, timer.text or "", "eval"


def check_expressions(name: str, tree: etree._ElementTree) -> None:
    for element, text, mode in _expressions(tree):
        element_id = _nearest_id(element)
        if not text.strip():
            raise DiagramError("empty expression", file=name, line=element.sourceline, element_id=element_id)
        try:
            compile(text, f"{name}:{element_id}", mode)
        except SyntaxError as exc:
            line = element.sourceline + (exc.lineno or 1) - 1
            raise DiagramError(f"Python syntax error: {exc.msg}", file=name, line=line, element_id=element_id) from exc


DMN_NS = {"dmn": "https://www.omg.org/spec/DMN/20191111/MODEL/"}


def check_decision_expressions(name: str, tree: etree._ElementTree) -> None:
    """Decision tables are Python too: inputs, rule entries (with ``?`` for the input) and outputs."""
    for text_node in tree.xpath(
        "//dmn:inputExpression/dmn:text | //dmn:inputEntry/dmn:text | //dmn:outputEntry/dmn:text", namespaces=DMN_NS
    ):
        text = (text_node.text or "").strip()
        if not text or text == "-":
            continue  # an empty entry matches anything
        try:
            compile(text.replace("?", "(_input)"), f"{name}:{_nearest_id(text_node)}", "eval")
        except SyntaxError as exc:
            raise DiagramError(
                f"Python syntax error: {exc.msg}",
                file=name,
                line=text_node.sourceline,
                element_id=_nearest_id(text_node),
            ) from exc


def _line_of(trees: Mapping[str, etree._ElementTree], file: str, element_id: str) -> int | None:
    tree = trees.get(os.path.basename(file or ""))
    if tree is None or not element_id:
        return None
    found = tree.xpath("//*[@id=$id]", id=element_id)
    return found[0].sourceline if found else None


def parse_specs(files: Mapping[str, str], trees: Mapping[str, etree._ElementTree] | None = None):
    """SpiffWorkflow's parse of the whole set; returns the parser."""
    trees = trees or {name: parse_xml(name, content) for name, content in files.items()}
    parser = DeskParser()
    try:
        for name, tree in sorted(trees.items()):
            if name.endswith(".dmn"):
                parser.add_dmn_xml(tree.getroot(), filename=name)
            else:
                parser.add_bpmn_xml(tree, filename=name)
        for process_id in parser.get_process_ids():
            parser.get_spec(process_id)
    except ValidationException as exc:
        raise DiagramError(
            str(exc.args[0]) if exc.args else str(exc),
            file=exc.file_name,
            line=exc.line_number or _line_of(trees, exc.file_name, exc.id),
            element_id=exc.id,
        ) from exc
    except SpiffWorkflowException as exc:
        raise DiagramError(f"SpiffWorkflow cannot parse the diagrams: {exc}") from exc
    return parser


def check_desk_rules(
    parser: DeskParser, handler_topics: Iterable[str], trees: Mapping[str, etree._ElementTree]
) -> None:
    if MAIN_PROCESS not in parser.get_process_ids():
        raise DiagramError(f"no executable process with id {MAIN_PROCESS!r}: the desk starts calls there")
    topics = set(handler_topics)
    for process_id in parser.get_process_ids():
        for spec in parser.get_spec(process_id).task_specs.values():
            _check_task(spec, topics, process_id, trees)


def _check_task(spec, topics: set[str], process_id: str, trees) -> None:
    file = _file_of(trees, spec.bpmn_id)
    line = _line_of(trees, file, spec.bpmn_id)
    if isinstance(spec, HandlerTask) and spec.topic not in topics:
        known = ", ".join(sorted(topics))
        raise DiagramError(
            f"service task calls unknown handler {spec.topic!r}; known: {known}",
            file=file,
            line=line,
            element_id=spec.bpmn_id,
        )
    if spec.manual and role_for_lane(spec.lane) is None:
        raise DiagramError(
            f"user task is in lane {spec.lane!r}, which is not a role of the charter",
            file=file,
            line=line,
            element_id=spec.bpmn_id,
        )


def _file_of(trees: Mapping[str, etree._ElementTree], element_id: str | None) -> str:
    for name, tree in trees.items():
        if element_id and tree.xpath("//*[@id=$id]", id=element_id):
            return name
    return ""


def validate(files: Mapping[str, str], handler_topics: Iterable[str]) -> DeskParser:
    """Raise ``DiagramError`` for the first problem; return the parser when all is well."""
    if not any(name.endswith(".bpmn") for name in files):
        raise DiagramError("no .bpmn files to deploy")
    trees = {name: parse_xml(name, content) for name, content in files.items()}
    for name, tree in sorted(trees.items()):
        if name.endswith(".bpmn"):
            check_schema(name, tree)
            check_references(name, tree)
            check_expressions(name, tree)
        else:
            check_decision_expressions(name, tree)
    parser = parse_specs(files, trees)
    check_desk_rules(parser, handler_topics, trees)
    return parser
