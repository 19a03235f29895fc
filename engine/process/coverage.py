"""Exclusive and inclusive gateways without a default flow whose conditions miss a case.

SpiffWorkflow stops a call at such a gateway ("No conditions satisfied") when none of its flows'
conditions holds. The gate tries every combination of the values the conditions' variables can
have there (``data_flow``: form enums and booleans, decision outputs, what the desk sets; for a
variable whose values are not listed, the values the conditions compare it with, and any other),
and names the combinations that fall through. A condition it cannot try (one that calls a function)
might hold, so such a gateway is not reported.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from typing import Any

from lxml import etree

from supportdesk.engine.process import python_names, trial
from supportdesk.engine.process.data_flow import ANY, DataFlow, Facts
from supportdesk.engine.process.diagram_set import Diagram, DiagramSet
from supportdesk.engine.process.problems import Problem

MAX_COMBINATIONS = 4096
SHOWN_CASES = 4


def uncovered_gateways(diagrams: DiagramSet, flow: DataFlow) -> list[Problem]:
    problems = []
    for diagram, gateway in diagrams.elements(
        "//bpmn:exclusiveGateway[not(@default)] | //bpmn:inclusiveGateway[not(@default)]"
    ):
        conditions = _conditions(diagram, gateway)
        facts = flow.facts_at(diagram.name, gateway.get("id", ""))
        if conditions and facts is not None:
            cases = list(_falling_through(conditions, facts))
            if cases:
                problems.append(diagrams.problem(diagram, gateway, _message(cases)))
    return problems


def _conditions(diagram: Diagram, gateway: etree._Element) -> list[str]:
    """The conditions of the gateway's flows; none when a flow is always taken (no condition)."""
    flows = diagram.xpath("//bpmn:sequenceFlow[@sourceRef=$id]", id=gateway.get("id", ""))
    texts = [flow.findtext("{*}conditionExpression") for flow in flows]
    return [] if any(text is None for text in texts) else [text or "" for text in texts]


def _falling_through(conditions: list[str], facts: Facts) -> Iterator[dict[str, Any]]:
    codes = [trial.simple_code(text) for text in conditions]
    if any(code is None for code in codes):
        return  # a condition the gate cannot try might hold
    names = sorted(set().union(*(python_names.variables_read(text) for text in conditions)))
    if not names or any(name not in facts for name in names):
        return  # no variable to vary, or one no path sets (the variables check reports it)
    domains = [_values_to_try(name, facts[name], conditions) for name in names]
    if _combinations(domains) > MAX_COMBINATIONS:
        return
    for combination in itertools.product(*domains):
        values = dict(zip(names, combination, strict=True))
        if all(trial.outcome(code, values) is False for code in codes if code is not None):
            yield values


def _values_to_try(name: str, values, conditions: list[str]) -> list[Any]:
    if values is not ANY:
        return sorted(values, key=lambda value: (value is None, str(value)))
    return trial.candidates(literal for text in conditions for literal in trial.constants_compared_with(text, name))


def _message(cases: list[dict[str, Any]]) -> str:
    described = [_case(case) for case in cases[:SHOWN_CASES]]
    more = f", and {len(cases) - SHOWN_CASES} more" if len(cases) > SHOWN_CASES else ""
    also = f" (also when {'; when '.join(described[1:])}{more})" if len(described) > 1 else ""
    return (
        f"no condition of its flows holds when {described[0]}{also}: a call that gets here would stop "
        '("No conditions satisfied"). Add a default flow, or conditions that cover these cases'
    )


def _case(values: dict[str, Any]) -> str:
    return " and ".join(f"{name} is {trial.shown(value)}" for name, value in values.items())


def _combinations(domains) -> int:
    return math.prod(len(domain) for domain in domains)
