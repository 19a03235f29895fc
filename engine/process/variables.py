"""Expressions that read a variable no path to them can have set: at run time each fails with
"name ... is not defined" (a typo, or a field of a form that comes later).

Checked: the conditions of flows, the timers' expressions, the scripts, and the decision tables'
inputs where a business rule task calls them. Names a condition calls (functions the desk offers)
and Python's builtins are not variables.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass

from lxml import etree

from supportdesk.engine.process import camunda, feel, python_names, timers
from supportdesk.engine.process.data_flow import DataFlow, Facts
from supportdesk.engine.process.diagram_set import CAMUNDA, NS, Diagram, DiagramSet
from supportdesk.engine.process.problems import Problem

TIMER_TAGS = ("timeDate", "timeDuration", "timeCycle")


def unset_variable_problems(diagrams: DiagramSet, flow: DataFlow) -> list[Problem]:
    problems = [problem for diagram in diagrams.processes() for problem in _in_process(diagrams, diagram, flow)]
    problems += list(_in_decisions(diagrams, flow))
    return problems


def _in_process(diagrams: DiagramSet, diagram: Diagram, flow: DataFlow) -> Iterator[Problem]:
    for expression in _expressions(diagram):
        facts = flow.facts_at(diagram.name, expression.reached_at)
        if facts is None:
            continue
        for name in sorted(_read(expression.text, expression.mode) - set(facts)):
            message = _message(expression.what, name, facts)
            yield diagrams.problem(diagram, expression.shown_on, message, line=expression.line)


@dataclass(frozen=True)
class _Expression:
    shown_on: etree._Element  # the element a process owner finds it on
    line: int | None
    reached_at: str  # the id of the element whose facts hold when it runs
    text: str
    mode: str
    what: str


def _expressions(diagram: Diagram) -> Iterator[_Expression]:
    for condition in diagram.xpath("//bpmn:sequenceFlow/bpmn:conditionExpression"):
        flow = condition.getparent()
        yield _Expression(flow, condition.sourceline, flow.get("id", ""), condition.text or "", "eval", "condition")
    for script in diagram.xpath("//bpmn:scriptTask/bpmn:script"):
        task = script.getparent()
        yield _Expression(task, script.sourceline, task.get("id", ""), script.text or "", "exec", "script")
    for timer in diagram.xpath("//bpmn:timerEventDefinition/*"):
        event = timer.getparent().getparent()
        if timer.tag.endswith(TIMER_TAGS) and timers.iso_literal(timer.text or "") is None:
            yield _Expression(event, timer.sourceline, event.get("id", ""), timer.text or "", "eval", "timer")


def _read(text: str, mode: str) -> set[str]:
    if not text.strip() or camunda.is_juel(text):
        return set()  # reported as empty, or as JUEL, by the expressions check
    try:
        return python_names.variables_read(text, mode)
    except SyntaxError:
        return set()  # reported by the expressions check


def _message(what: str, name: str, facts: Facts, where: str = "here") -> str:
    guess = difflib.get_close_matches(name, list(facts), n=1)
    hint = f" (did you mean {guess[0]}?)" if guess else ""
    return (
        f"the {what} reads {name}, which no path to {where} sets{hint}: correct the name, or set it on the way "
        "(a form field, a decision output, a message, a script)"
    )


def _in_decisions(diagrams: DiagramSet, flow: DataFlow) -> Iterator[Problem]:
    """Each decision's input expressions (and names in its cells) at every task that calls it."""
    tables = {
        decision.get("id"): (diagram, decision)
        for diagram in diagrams.decisions()
        for decision in diagram.xpath("//dmn:decision")
    }
    for diagram, task in diagrams.elements("//bpmn:businessRuleTask"):
        found = tables.get(task.get(f"{CAMUNDA}decisionRef", ""))
        facts = flow.facts_at(diagram.name, task.get("id", ""))
        if found is None or facts is None:
            continue
        dmn, decision = found
        for element, text in _decision_texts(decision):
            for name in sorted(_read(text, "eval") - set(facts)):
                message = _message("decision", name, facts, f"{task.get('id')} in {diagram.name}")
                yield diagrams.problem(dmn, element, message)


def _decision_texts(decision: etree._Element) -> Iterator[tuple[etree._Element, str]]:
    for text in decision.xpath(".//dmn:inputExpression/dmn:text", namespaces=NS):
        yield text, text.text or ""
    for text in decision.xpath(".//dmn:inputEntry/dmn:text", namespaces=NS):
        python = feel.input_cell_as_run(text.text or "")
        if python and python.strip() != feel.ANYTHING:
            yield text, feel.with_input_named(python, "None")
