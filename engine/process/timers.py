"""Timers as Camunda Modeler writes them, and the check that each will give a moment or a duration.

Camunda Modeler writes a timer's value bare: ``P5D``, ``2026-12-01T09:00:00Z``, ``R3/PT1H``.
SpiffWorkflow evaluates a timer's text as Python, where ``P5D`` is an unknown name; so the parser
quotes a bare ISO 8601 value (``as_python``), and it runs as Camunda would run it. A Python
expression (``sla_due("resolution")``, ``"PT1H"``) runs as it is.
"""

from __future__ import annotations

import ast
import json
import re

from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition

from supportdesk.engine.process import camunda

_NUMBER = r"\d+(?:[.,]\d+)?"
DURATION = re.compile(
    rf"^P(?=\d|T\d)({_NUMBER}Y)?({_NUMBER}M)?({_NUMBER}W)?({_NUMBER}D)?(T(?=\d)({_NUMBER}H)?({_NUMBER}M)?({_NUMBER}S)?)?$",
    re.IGNORECASE,
)
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}(:\d{2}(:\d{2}(\.\d+)?)?)?)?(Z|[+-]\d{2}(:?\d{2})?)?$", re.IGNORECASE)
ZONED = re.compile(r"(Z|[+-]\d{2}(:?\d{2})?)$", re.IGNORECASE)
CYCLE = re.compile(r"^R\d*/[^/\s]+(/[^/\s]+)?$", re.IGNORECASE)
# Camunda also takes cron in a cycle ("0 0 9 * * ?", "0 0 9 ? * MON-FRI"): five to seven fields.
_CRON_NAMES = "MON|TUE|WED|THU|FRI|SAT|SUN|JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_CRON_FIELD = rf"(?:[\d*?/,LW#-]+|(?:{_CRON_NAMES})(?:[-,](?:{_CRON_NAMES}))*)"
CRON = re.compile(rf"^{_CRON_FIELD}(?:\s+{_CRON_FIELD}){{4,6}}$")

KINDS = {"timeDate": "date", "timeDuration": "duration", "timeCycle": "cycle"}
TYPE_IN_MODELLER = {"date": "Date", "duration": "Duration", "cycle": "Cycle"}
EXAMPLES = {"date": "2026-12-01T09:00:00Z", "duration": "P5D", "cycle": "R3/PT1H"}


def kind_of(literal: str) -> str | None:
    """ "date", "duration" or "cycle" for an ISO 8601 value; None for anything else."""
    if DURATION.match(literal):
        return "duration"
    if CYCLE.match(literal):
        return "cycle"
    if DATE.match(literal):
        return "date"
    return None


def iso_literal(text: str) -> str | None:
    """The ISO 8601 value a timer holds, bare or as a quoted Python string; None for an expression."""
    stripped = (text or "").strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        stripped = stripped[1:-1]
    return stripped if kind_of(stripped) else None


def as_python(text: str) -> str:
    """The expression SpiffWorkflow evaluates for a timer's text: a bare ISO 8601 value quoted."""
    stripped = (text or "").strip()
    if kind_of(stripped):
        return json.dumps(stripped)
    return text


def timer_problem(element_tag: str, text: str) -> str | None:
    """What is wrong with a timer's value (``element_tag`` is timeDate, timeDuration or timeCycle), or None."""
    expected = KINDS[element_tag]
    stripped = (text or "").strip()
    if not stripped:
        return f"the timer has no value: write a {expected} such as {EXAMPLES[expected]}, or Python that returns one"
    if camunda.is_juel(stripped):
        return camunda.juel_problem(stripped, "timer")
    if CRON.match(stripped):
        return (
            f"{stripped!r} is a cron expression, which the desk does not run: write an ISO 8601 cycle (timer type "
            "Cycle), e.g. R/P1D (every day from when the timer is reached) or R5/2026-12-01T09:00:00Z/P1D"
        )
    literal = iso_literal(stripped)
    if literal is not None:
        return _literal_problem(expected, literal)
    return _expression_problem(expected, stripped)


def _literal_problem(expected: str, literal: str) -> str | None:
    found = kind_of(literal)
    if found != expected:
        return (
            f"{literal} is a {found}, but the timer's type is {TYPE_IN_MODELLER[expected]}: set its type to "
            f"{TYPE_IN_MODELLER[found or expected]} in the modeller, or write a {expected} such as {EXAMPLES[expected]}"
        )
    if found == "date" and not ZONED.search(literal):
        return (
            f"{literal} has no time zone, so its moment would depend on the server's: add Z (UTC) or an offset, "
            f"e.g. {literal if 'T' in literal else literal + 'T00:00:00'}Z"
        )
    try:
        _parse(found, literal)
    except Exception:  # noqa: BLE001  (SpiffWorkflow's parsers fail in many ways on a bad value)
        return f"{literal} is not a valid ISO 8601 {found}: write one such as {EXAMPLES[found]}"
    return None


def _parse(kind: str, literal: str) -> None:
    """Parse as SpiffWorkflow will when the timer is reached (a bad value fails there)."""
    if kind == "duration":
        TimerEventDefinition.parse_iso_duration(literal)
    elif kind == "cycle":
        TimerEventDefinition.parse_iso_recurring_interval(literal)
    else:
        TimerEventDefinition.get_datetime(literal)


def _expression_problem(expected: str, text: str) -> str | None:
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        return (
            f"{text!r} is neither an ISO 8601 {expected} (such as {EXAMPLES[expected]}) nor Python ({exc.msg}): "
            f'write the value, or Python that returns one, such as sla_due("resolution")'
        )
    if isinstance(tree.body, ast.Constant):
        value = tree.body.value
        what = f"{value!r} is not an ISO 8601 {expected}" if isinstance(value, str) else f"it gives {value!r}"
        return f"{what}, so the timer has no moment to wait for: write a {expected} such as {EXAMPLES[expected]}"
    return None  # a call or a name: its names are checked with every expression's; its value shows when run
