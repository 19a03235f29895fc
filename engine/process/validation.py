"""The deploy gate: every check a set of diagrams passes before it may be stored.

Every problem of every file is found in one run, each located by file, line, element id and
name and saying what to do (``problems.Problem``):

1. each file: well-formed XML, the BPMN 2.0 XSD, references between its elements, ids the engine
   reserves, every script, condition and timer (Python, ISO 8601, or a Camunda habit with its fix);
2. the set: the desk's rules (handlers, lanes, flows out of tasks and gateways), what call
   activities, business rule tasks and messages name, variables no path sets, gateways whose
   conditions miss a case, decision tables (cells, hit policy, rules that never fit or overlap);
3. SpiffWorkflow's own parse, once nothing else is wrong.

Errors refuse the set (``DiagramRefused``); warnings (``lint``) do not.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lxml import etree
from SpiffWorkflow.bpmn.parser.BpmnParser import XSD_PATH
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException

from supportdesk.engine.errors import DiagramError
from supportdesk.engine.process import camunda, timers
from supportdesk.engine.process.coverage import uncovered_gateways
from supportdesk.engine.process.data_flow import DataFlow
from supportdesk.engine.process.decision_tables import decision_problems
from supportdesk.engine.process.desk_rules import desk_rule_problems
from supportdesk.engine.process.diagram_set import CAMUNDA, DMN_NS, NS, Diagram, DiagramSet, local_name, parse_xml
from supportdesk.engine.process.functions import unknown_function_problems
from supportdesk.engine.process.lint import lint_set
from supportdesk.engine.process.problems import DiagramRefused, Problem
from supportdesk.engine.process.references import reference_problems
from supportdesk.engine.process.spiff import DeskParser
from supportdesk.engine.process.variables import unset_variable_problems

__all__ = ["DMN_NS", "MAIN_PROCESS", "NS", "Inspection", "inspect", "parse_specs", "parse_xml", "validate"]

MAIN_PROCESS = "support_call"
BPMN_PREFIX = "{" + NS["bpmn"] + "}"


@dataclass(frozen=True)
class Inspection:
    """What the gate found: errors refuse the set, warnings do not; the parser when there are no errors."""

    errors: tuple[Problem, ...]
    warnings: tuple[Problem, ...]
    parser: DeskParser | None


def validate(
    files: Mapping[str, str], handler_topics: Iterable[str], functions: Iterable[str] | None = None
) -> DeskParser:
    """Raise ``DiagramRefused`` with every error; return the parser when there is none."""
    inspection = inspect(files, handler_topics, functions)
    if inspection.errors or inspection.parser is None:
        raise DiagramRefused(inspection.errors)
    return inspection.parser


def inspect(
    files: Mapping[str, str], handler_topics: Iterable[str], functions: Iterable[str] | None = None
) -> Inspection:
    """Every problem of every file, in one run. ``functions``: the names the desk's script engine
    offers the diagrams' expressions (a call of any other is refused); None does not check calls (a
    replay deploys versions the desk ran before, with the functions it had then)."""
    trees, problems = _read_all(files)
    diagrams = DiagramSet(trees)
    for diagram in diagrams.diagrams.values():
        problems += _file_problems(diagrams, diagram)
    warnings: list[Problem] = []
    if len(trees) == len(files):  # the checks of the set need all of it
        problems += _set_problems(diagrams, handler_topics)
        if functions is not None:
            problems += unknown_function_problems(diagrams, functions)
        warnings = lint_set(diagrams)
    parser = None
    if not problems:
        parser, problems = _spiff_parse(diagrams)
    return Inspection(tuple(_in_order(problems)), tuple(_in_order(warnings)), parser)


def _in_order(problems: list[Problem]) -> list[Problem]:
    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda p: (p.file, p.line or 0))


# --- each file ---------------------------------------------------------------------------------------


def _read_all(files: Mapping[str, str]) -> tuple[dict[str, etree._ElementTree], list[Problem]]:
    trees, problems = {}, []
    if not any(name.endswith(".bpmn") for name in files):
        problems.append(Problem("", None, "", "no .bpmn files to deploy: the desk needs the support_call process"))
    for name, content in sorted(files.items()):
        try:
            trees[name] = parse_xml(name, content)
        except DiagramError as exc:
            problems.append(Problem(exc.file, exc.line, "", exc.detail))
    return trees, problems


def _file_problems(diagrams: DiagramSet, diagram: Diagram) -> list[Problem]:
    if diagram.is_decision:
        return []  # decision tables are checked with the set (their inputs' values come from it)
    return [
        *check_schema(diagrams, diagram),
        *check_references(diagrams, diagram),
        *check_expressions(diagrams, diagram),
    ]


@functools.cache
def _bpmn_schema() -> etree.XMLSchema:
    # Building the schema takes a few milliseconds: do it once per process.
    return etree.XMLSchema(etree.parse(XSD_PATH))


def check_schema(diagrams: DiagramSet, diagram: Diagram) -> list[Problem]:
    schema = _bpmn_schema()
    if schema.validate(diagram.tree):
        return []
    return [_schema_problem(diagrams, diagram, error) for error in schema.error_log]


def _schema_problem(diagrams: DiagramSet, diagram: Diagram, error) -> Problem:
    """XSD errors carry a line but no element: the element starting on that line is the one."""
    message = error.message.replace(BPMN_PREFIX, "bpmn:").replace(CAMUNDA, "camunda:")
    message = f"not valid BPMN 2.0: {message} Fix it in the modeller (or remove the element)"
    on_line = [e for e in diagram.tree.iter() if isinstance(e.tag, str) and e.sourceline == error.line]
    identified = [e for e in on_line if e.get("id")]
    element = identified[-1] if identified else (on_line[-1] if on_line else None)
    if element is None:
        return Problem(diagram.name, error.line, "", message)
    return diagrams.problem(diagram, element, message, line=error.line)


# Attributes that must name an element of the same file. The XSD types them as IDREF/QName but
# lxml does not resolve them, and a dangling one gives a confusing error (or a blank shape) later.
REFERENCE_ATTRIBUTES = (
    "sourceRef",
    "targetRef",
    "attachedToRef",
    "default",
    "bpmnElement",
    "messageRef",
    "signalRef",
    "errorRef",
    "escalationRef",
    "processRef",
)

# SpiffWorkflow names its own task specs so; an element with such an id breaks the instance at
# start with "No output task connected".
RESERVED_IDS = ("Start", "End", "Root")


def check_references(diagrams: DiagramSet, diagram: Diagram) -> list[Problem]:
    problems = []
    for reserved in sorted(set(diagram.by_id) & set(RESERVED_IDS)):
        message = f"the id {reserved!r} is reserved by the engine; rename the element (any other id will do)"
        problems.append(diagrams.problem(diagram, diagram.by_id[reserved], message))
    for element in diagram.tree.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute in REFERENCE_ATTRIBUTES:
            target = element.get(attribute)
            if target and target not in diagram.by_id:
                message = f"{attribute}={target!r} names no element in this file: {_reconnect(attribute)}"
                problems.append(diagrams.problem(diagram, element, message))
        if local_name(element) in ("incoming", "outgoing", "flowNodeRef"):
            target = (element.text or "").strip()
            if target not in diagram.by_id:
                message = (
                    f"<{local_name(element)}> names no element: {target!r}; remove it, or reconnect in the modeller"
                )
                problems.append(diagrams.problem(diagram, element, message))
    return problems


def _reconnect(attribute: str) -> str:
    if attribute == "bpmnElement":
        return "the shape draws nothing; delete it in the modeller"
    return "reconnect it in the modeller to an element that exists"


def check_expressions(diagrams: DiagramSet, diagram: Diagram) -> list[Problem]:
    """Every script and condition compiles, every timer gives a moment, duration or cycle."""
    problems = []
    for script in diagram.xpath("//bpmn:scriptTask/bpmn:script"):
        problems += _python_problems(diagrams, diagram, script, "exec", "script")
    for condition in diagram.xpath("//bpmn:conditionExpression"):
        problems += _python_problems(diagrams, diagram, condition, "eval", "condition")
    for timer in diagram.xpath("//bpmn:timeDate | //bpmn:timeDuration | //bpmn:timeCycle"):
        message = timers.timer_problem(local_name(timer), timer.text or "")
        if message:  # on the event the process owner sees, at the timer's line
            event = timer.getparent().getparent() if timer.getparent() is not None else timer
            problems.append(diagrams.problem(diagram, event, message, line=timer.sourceline))
    return problems


def _python_problems(diagrams: DiagramSet, diagram: Diagram, element, mode: str, what: str) -> list[Problem]:
    text = element.text or ""
    if not text.strip():
        return [diagrams.problem(diagram, element, f"empty {what}: write the Python it runs, or remove it")]
    if camunda.is_juel(text):
        return [diagrams.problem(diagram, element, camunda.juel_problem(text, what))]
    try:
        compile(text, f"{diagram.name}:{element.getparent().get('id')}", mode)
    except SyntaxError as exc:
        line = (element.sourceline or 0) + (exc.lineno or 1) - 1
        return [diagrams.problem(diagram, element, f"Python syntax error in the {what}: {exc.msg}", line=line)]
    return []


# --- the set -----------------------------------------------------------------------------------------


def _set_problems(diagrams: DiagramSet, handler_topics: Iterable[str]) -> list[Problem]:
    flow = DataFlow(diagrams)
    return [
        *_main_process(diagrams),
        *desk_rule_problems(diagrams, handler_topics),
        *reference_problems(diagrams),
        *unset_variable_problems(diagrams, flow),
        *uncovered_gateways(diagrams, flow),
        *decision_problems(diagrams, flow),
    ]


def _main_process(diagrams: DiagramSet) -> list[Problem]:
    processes = list(diagrams.elements("//bpmn:process[@id=$id]", id=MAIN_PROCESS))
    if any(process.get("isExecutable") == "true" for _, process in processes):
        return []
    if processes:
        diagram, process = processes[0]
        message = "the desk starts calls in this process, but it is not executable: tick Executable in the modeller"
        return [diagrams.problem(diagram, process, message)]
    message = f"no process with id {MAIN_PROCESS!r}: the desk starts calls there; give the call process that id"
    return [Problem("", None, "", message)]


# --- SpiffWorkflow's parse ---------------------------------------------------------------------------


def _spiff_parse(diagrams: DiagramSet) -> tuple[DeskParser | None, list[Problem]]:
    """SpiffWorkflow's parse, process by process, so that one's error does not hide another's."""
    parser, problems = DeskParser(), []
    try:
        _add_files(parser, diagrams)
    except (ValidationException, SpiffWorkflowException, NotImplementedError) as exc:
        return None, [_spiff_problem(diagrams, exc)]
    for process_id in parser.get_process_ids():
        try:
            parser.get_spec(process_id)
        except (ValidationException, SpiffWorkflowException, NotImplementedError) as exc:
            problems.append(_spiff_problem(diagrams, exc))
    return (None if problems else parser), problems


def _add_files(parser: DeskParser, diagrams: DiagramSet) -> None:
    for name, diagram in diagrams.diagrams.items():
        if diagram.is_decision:
            parser.add_dmn_xml(diagram.tree.getroot(), filename=name)
        else:
            parser.add_bpmn_xml(diagram.tree, filename=name)


# SpiffWorkflow's words, for what the desk's own checks do not catch first, in a process owner's.
SPIFF_MESSAGES = {
    "There is no support implemented for this task type.": (
        "the desk cannot run this kind of element: use a user, service, script or business rule task, "
        "a gateway, an event or a subprocess"
    ),
    "No start event found": "the process has no start event: draw one where a call begins",
}


def _spiff_problem(diagrams: DiagramSet, exc: Exception) -> Problem:
    detail = str(exc.args[0]) if exc.args else str(exc)
    message = SPIFF_MESSAGES.get(detail) or f"SpiffWorkflow cannot run it: {detail}; change the element in the modeller"
    if isinstance(exc, ValidationException):
        return diagrams.problem_at(exc.id, message, os.path.basename(exc.file_name or ""))
    mentioned = re.search(r"""id=["']([^"']+)["']""", detail)  # some errors quote the element's XML
    return diagrams.problem_at(mentioned.group(1), message) if mentioned else Problem("", None, "", message)


def parse_specs(files: Mapping[str, str], trees: Mapping[str, etree._ElementTree] | None = None) -> DeskParser:
    """SpiffWorkflow's parse of a set that passed the gate (a deployed version); returns the parser."""
    trees = trees or {name: parse_xml(name, content) for name, content in files.items()}
    parser, problems = _spiff_parse(DiagramSet(trees))
    if parser is None:
        raise DiagramRefused(problems)
    return parser
