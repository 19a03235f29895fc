"""Expressions that call a function the desk does not provide: at run time each fails with
"name ... is not defined" when the step is reached (``sla_deu("resolution")`` for ``sla_due``), and
the ticket stops there. The gate knows what a diagram may call: the functions of the desk's script
engine (``HandlerRegistry.expression_functions``, handed to the gate by whoever deploys), Python's
builtins, and what a script defines itself.

Checked: conditions, scripts, timers written as Python, and decision tables' input expressions,
input cells and output cells (the decision engine evaluates them with the same script engine).
"""

from __future__ import annotations

import ast
import difflib
from collections.abc import Iterable, Iterator

from lxml import etree

from supportdesk.engine.process import camunda, feel, python_names, timers
from supportdesk.engine.process.diagram_set import Diagram, DiagramSet
from supportdesk.engine.process.problems import Problem

TIMER_PATHS = " | ".join(f"//bpmn:timerEventDefinition/bpmn:{tag}" for tag in timers.KINDS)


def unknown_function_problems(diagrams: DiagramSet, functions: Iterable[str]) -> list[Problem]:
    """A problem for each call of a name that is no function a diagram may call."""
    offered = sorted(set(functions))
    problems = []
    for diagram, shown_on, element, text, mode, what in _expressions(diagrams):
        for name in sorted(calls_unknown(text, mode, offered)):
            problems.append(diagrams.problem(diagram, shown_on, _message(what, name, offered), line=element.sourceline))
    return problems


def calls_unknown(text: str, mode: str, functions: Iterable[str]) -> set[str]:
    """The names ``text`` calls that are neither in ``functions``, nor builtins, nor defined by ``text``."""
    if not text.strip() or camunda.is_juel(text):
        return set()  # reported as empty, or as JUEL, by the expressions check
    try:
        tree = ast.parse(text, mode=mode)
    except SyntaxError:
        return set()  # reported by the expressions check
    called = {node.func.id for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    return called - set(functions) - python_names.BUILTINS - python_names.variables_set(tree)


def _message(what: str, name: str, offered: list[str]) -> str:
    guess = difflib.get_close_matches(name, offered, n=1) or difflib.get_close_matches(
        name, sorted(python_names.BUILTINS), n=1
    )
    hint = f" (did you mean {guess[0]}?)" if guess else ""
    known = ", ".join(offered) or "none"
    return (
        f"the {what} calls {name}(), which is no function the desk provides{hint}: it would fail when a call "
        f"gets here; correct the name. The functions a diagram may call: {known}, and Python's builtins"
    )


def _expressions(diagrams: DiagramSet) -> Iterator[tuple[Diagram, etree._Element, etree._Element, str, str, str]]:
    """(diagram, element a process owner finds it on, element holding the text, text, mode, what)."""
    for diagram in diagrams.processes():
        for condition in diagram.xpath("//bpmn:conditionExpression"):
            yield diagram, condition.getparent(), condition, condition.text or "", "eval", "condition"
        for script in diagram.xpath("//bpmn:scriptTask/bpmn:script"):
            yield diagram, script.getparent(), script, script.text or "", "exec", "script"
        for timer in diagram.xpath(TIMER_PATHS):
            if timers.iso_literal(timer.text or "") is None:  # an ISO 8601 value calls nothing
                yield diagram, timer.getparent().getparent(), timer, timer.text or "", "eval", "timer"
    for diagram in diagrams.decisions():  # FEEL the desk does not run is the decision tables check's to report
        for text in diagram.xpath("//dmn:inputExpression/dmn:text"):
            if not feel.looks_like_feel(text.text or ""):
                yield diagram, text, text, text.text or "", "eval", "decision input"
        for text in diagram.xpath("//dmn:inputEntry/dmn:text"):
            if feel.is_python(text.text or ""):  # a FEEL unary test runs as comparisons: it calls nothing
                yield diagram, text, text, feel.with_input_named(text.text or "", "None"), "eval", "decision cell"
        for text in diagram.xpath("//dmn:outputEntry/dmn:text"):
            if (text.text or "").strip() and not feel.looks_like_feel(text.text or ""):
                yield diagram, text, text, feel.output_entry_to_python(text.text), "eval", "decision output"
