"""Camunda habits: what a diagram drawn for Camunda 7 holds that the desk runs differently, or not at all.

- ``${...}`` (JUEL) in conditions and timers: refused, with the Python to write instead.
- Camunda extensions the desk does not run (listeners, candidate groups, due dates, Java classes,
  input/output mappings, ...): a warning naming the element, since the diagram still runs, but
  without them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from supportdesk.engine.process.diagram_set import CAMUNDA, Diagram, DiagramSet, local_name
from supportdesk.engine.process.problems import WARNING, Problem

_JUEL = re.compile(r"^\s*[$#]\{(?P<body>.*)\}\s*$", re.DOTALL)
_JUEL_TOKEN = re.compile(
    r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|(?P<op>&&|\|\||==|!=|<=|>=|!|[<>()\[\],.+\-*/%?:])
    |(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*))""",
    re.VERBOSE,
)
_JUEL_WORDS = {
    "&&": "and",
    "||": "or",
    "!": "not",
    "eq": "==",
    "ne": "!=",
    "lt": "<",
    "gt": ">",
    "le": "<=",
    "ge": ">=",
    "div": "/",
    "mod": "%",
    "empty": "not",
    "true": "True",
    "false": "False",
    "null": "None",
}
# execution.getVariable("x") is how JUEL reads a variable by name; in Python it is the name itself.
_GET_VARIABLE = re.compile(r"""\bexecution\.getVariable\(\s*["']([A-Za-z_][A-Za-z0-9_]*)["']\s*\)""")


def is_juel(text: str) -> bool:
    return bool(_JUEL.match(text or ""))


def juel_to_python(text: str) -> str | None:
    """The Python for a simple JUEL expression (``${clarified}`` -> ``clarified``), or None."""
    match = _JUEL.match(text or "")
    if match is None:
        return None
    body = _GET_VARIABLE.sub(r"\1", match.group("body"))
    words: list[str] = []
    position = 0
    while position < len(body):
        token = _JUEL_TOKEN.match(body, position)
        if token is None or token.end() == position:
            return None if body[position:].strip() else _joined(words)
        words.append(_python_word(token))
        position = token.end()
    return _joined(words)


def juel_problem(text: str, where: str) -> str:
    python = juel_to_python(text)
    hint = f"write {python}" if python else "write it as a Python expression"
    return f"{text.strip()} is a Camunda expression (JUEL); the desk runs Python in a {where}: {hint}"


def _python_word(token: re.Match) -> str:
    if token.group("string"):
        return json.dumps(token.group("string")[1:-1])
    word = token.group(0).strip()
    return _JUEL_WORDS.get(word, word)


def _joined(words: list[str]) -> str | None:
    python = " ".join(words)
    python = re.sub(r"\(\s+", "(", re.sub(r"\s+\)", ")", python))
    python = re.sub(r"\s*\.\s*", ".", python)
    python = re.sub(r"\b(?!(?:and|or|not|in)\b)(\w+)\s+\(", r"\1(", python)
    if re.search(r"\)\.", python):
        return None  # a Java method call (dateTime().plusDays(5)): no word-for-word Python
    try:
        compile(python, "<suggestion>", "eval")
    except SyntaxError:
        return None
    return python or None


# What the desk runs of Camunda's extensions (service-task topics, forms, decision references, properties).
RUN = {
    "type",
    "topic",
    "formKey",
    "decisionRef",
    "formData",
    "formField",
    "value",
    "validation",
    "constraint",
    "properties",
    "property",
}
# Set by Camunda Modeler on every process, and harmless here: the desk keeps versions and history itself.
MODELLER_DEFAULTS = {
    "versionTag",
    "historyTimeToLive",
    "isStartableInTasklist",
    "modelerTemplate",
    "modelerTemplateVersion",
    "diagramRelationId",
}
_LANE = "the desk gives a task to the role of its lane: put the task in that role's lane"
_HANDLER = 'the desk runs handlers by topic: set the implementation to External with a topic (camunda:topic="...")'
_ONE_TRANSACTION = "the desk runs each command as one transaction and retries timer jobs itself"
WHY_NOT_RUN = {
    "executionListener": "listeners do not run: put the work in a service task with a handler topic",
    "taskListener": "listeners do not run: put the work in a service task with a handler topic",
    "candidateGroups": _LANE,
    "candidateUsers": _LANE,
    "assignee": _LANE,
    "dueDate": "task due dates are not kept: put a boundary timer on the task for a deadline",
    "followUpDate": "follow-up dates are not kept: put a non-interrupting boundary timer on the task",
    "priority": "task priorities are not kept: the call's priority orders the work",
    "class": f"Java classes do not run: {_HANDLER}",
    "delegateExpression": f"Java delegates do not run: {_HANDLER}",
    "expression": f"expressions as implementations do not run: {_HANDLER}",
    "connector": f"connectors do not run: {_HANDLER}",
    "field": "field injection into Java classes does not run",
    "resultVariable": "a decision's outputs go into the data under their own names (the table's output names)",
    "mapDecisionResult": "a decision's outputs go into the data under their own names (the table's output names)",
    "inputOutput": "input/output mappings do not run: every task sees the whole of the call's data",
    "in": "variable mappings do not run: the called process gets all of the caller's data",
    "out": "variable mappings do not run: the caller gets all of the called process's data back",
    "asyncBefore": _ONE_TRANSACTION,
    "asyncAfter": _ONE_TRANSACTION,
    "exclusive": _ONE_TRANSACTION,
    "jobPriority": _ONE_TRANSACTION,
    "failedJobRetryTimeCycle": _ONE_TRANSACTION,
    "formRef": "Camunda Forms are not shown: the desk shows the task's form fields (camunda:formData)",
    "calledElementBinding": "a call activity calls the process of the same deployed version",
    "calledElementVersion": "a call activity calls the process of the same deployed version",
    "initiator": "who started the call is not put in the data",
    "resource": "external scripts do not run: put the script in the diagram, in Python",
}


def extension_warnings(diagrams: DiagramSet) -> list[Problem]:
    warnings = [warning for diagram in diagrams.processes() for warning in _extensions_in(diagrams, diagram)]
    warnings += [warning for diagram in diagrams.processes() for warning in _foreign_scripts(diagrams, diagram)]
    return warnings


def _extensions_in(diagrams: DiagramSet, diagram: Diagram) -> Iterator[Problem]:
    for element in diagram.tree.iter():
        if not isinstance(element.tag, str):
            continue
        for attribute in element.attrib:
            name = attribute[len(CAMUNDA) :] if attribute.startswith(CAMUNDA) else None
            if name and name not in RUN and name not in MODELLER_DEFAULTS:
                yield _not_run(diagrams, diagram, element, name)
        if element.tag.startswith(CAMUNDA) and local_name(element) not in RUN and not _inside_reported(element):
            yield _not_run(diagrams, diagram, element, local_name(element))


def _inside_reported(element) -> bool:
    """A camunda:script inside a camunda:executionListener is reported with its listener."""
    parent = element.getparent()
    return parent is not None and parent.tag.startswith(CAMUNDA) and local_name(parent) not in RUN


def _not_run(diagrams: DiagramSet, diagram: Diagram, element, name: str) -> Problem:
    why = WHY_NOT_RUN.get(name, "it is a Camunda setting the desk does not run")
    return diagrams.problem(diagram, element, f"camunda:{name} is ignored: {why}", WARNING)


def _foreign_scripts(diagrams: DiagramSet, diagram: Diagram) -> Iterator[Problem]:
    for task in diagram.xpath("//bpmn:scriptTask[@scriptFormat]"):
        language = task.get("scriptFormat", "").strip()
        if language.lower() not in ("python", "python3", "text/x-python", ""):
            message = f"its script is {language}, but the desk runs every script as Python: rewrite it in Python"
            yield diagrams.problem(diagram, task, message, WARNING)
