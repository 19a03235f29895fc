"""Decision tables: every cell readable (Python with ``?``, or a FEEL unary test the desk runs), a hit
policy the desk runs as Camunda does, and no rule that can never fit or that fits where the hit
policy allows no other.

SpiffWorkflow takes the first rule that fits, whatever the policy, and returns nothing when none
fits. So a UNIQUE table whose rules overlap silently takes the first, where Camunda fails the call;
and in a FIRST table a rule below others that take all its cases never fits. The gate tries each
column's cells on representative values: the values the input can have (declared input values, a
boolean, the values the desk or a form gives that variable), else the values the cells mention
(with numbers either side of each), nothing, and any other value.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import CodeType
from typing import Any

from lxml import etree

from supportdesk.engine.process import camunda, feel, trial
from supportdesk.engine.process.data_flow import ANY, DataFlow, Values
from supportdesk.engine.process.diagram_set import Diagram, DiagramSet
from supportdesk.engine.process.problems import Problem

INPUT = "_input_"
UNSUPPORTED_POLICIES = {
    "PRIORITY": "the desk does not rank outputs: set the hit policy to FIRST and put the rules in order of priority",
    "RULE ORDER": "the desk returns one rule's outputs, not a list: set the hit policy to COLLECT for a list",
    "OUTPUT ORDER": "the desk returns one rule's outputs, not a list: set the hit policy to COLLECT for a list",
}
MAX_COMBINATIONS = 20000


@dataclass
class _Column:
    name: str  # the input expression (or its label), as a message names it
    values: list[Any] = field(default_factory=list)
    listed: bool = False  # the values are the input's own (declared or known), not the gate's picks


@dataclass
class _Cell:
    element: etree._Element | None
    python: str | None  # None: matches anything
    code: CodeType | None = None
    matches: frozenset[int] = frozenset()  # indices of the column's values it holds for
    exact: bool = True  # every value tried gave True or False


@dataclass
class _Rule:
    element: etree._Element
    cells: list[_Cell]
    outputs: tuple[str, ...]

    @property
    def exact(self) -> bool:
        return all(cell.exact for cell in self.cells)


def decision_problems(diagrams: DiagramSet, flow: DataFlow | None) -> list[Problem]:
    problems: list[Problem] = []
    for diagram in diagrams.decisions():
        decisions = list(diagram.tree.getroot().iter("{*}decision"))
        if len(decisions) > 1:
            message = "the desk reads one decision per .dmn file: put each of the others in a file of its own"
            problems += [diagrams.problem(diagram, decision, message) for decision in decisions[1:]]
        for decision in decisions[:1]:
            problems += _decision(diagrams, diagram, decision, flow)
    return problems


def _decision(diagrams: DiagramSet, diagram: Diagram, decision, flow: DataFlow | None) -> list[Problem]:
    tables = decision.findall("{*}decisionTable")
    message = "only a decision's first table is used: put this table in a decision (and a .dmn file) of its own"
    problems = [diagrams.problem(diagram, table, message) for table in tables[1:]]
    if not tables:
        return problems
    table = tables[0]
    problems += list(_policy(diagrams, diagram, table))
    problems += list(_unreadable_cells(diagrams, diagram, table))
    if not problems:
        problems += _rules_that_never_fit_or_overlap(diagrams, diagram, table, flow)
    return problems


def _policy(diagrams: DiagramSet, diagram: Diagram, table) -> Iterator[Problem]:
    policy = (table.get("hitPolicy") or "UNIQUE").upper()
    if policy in UNSUPPORTED_POLICIES:
        yield diagrams.problem(diagram, table, f"hit policy {policy}: {UNSUPPORTED_POLICIES[policy]}")
    elif policy == "COLLECT" and table.get("aggregation"):
        aggregation = table.get("aggregation")
        message = (
            f"COLLECT with {aggregation}: the desk collects a list and does not aggregate it; remove {aggregation}"
        )
        yield diagrams.problem(diagram, table, message)


# --- every cell readable ---------------------------------------------------------------------------


def input_cell_python(text: str) -> str | None:
    """The Python (with ``?``) an input cell runs as, None for one that matches anything. Raises
    ValueError (with what to write) for a cell that is neither."""
    if (text or "").strip() in ("", feel.ANYTHING):
        return None
    if feel.is_python(text):
        _compile(_runnable(text))
        return text
    try:
        return feel.input_entry_to_python(text)
    except feel.NotUnaryTests as exc:
        if feel.looks_like_feel(text):
            raise ValueError(
                f"{text.strip()!r} is FEEL the desk does not run ({exc}): write it in Python with ? for the input, "
                'e.g. ? in ("a", "b"), ? is not None and 1 <= ? <= 5'
            ) from None
    _compile(f"({INPUT}) == ({text})")  # Python compared with the input, as SpiffWorkflow reads it
    return f"? == ({text.strip()})"


def _compile(python: str) -> None:
    try:
        compile(python, "<cell>", "eval")
    except SyntaxError as exc:
        raise ValueError(
            f'Python syntax error ({exc.msg}): write a FEEL test such as "a","b" or [1..5], or Python with ? '
            'for the input, such as ? in ("a", "b")'
        ) from None


def _unreadable_cells(diagrams: DiagramSet, diagram: Diagram, table) -> Iterator[Problem]:
    for text in table.iterfind("{*}input/{*}inputExpression/{*}text"):
        yield from _expression_problem(diagrams, diagram, text, "input expression")
    for text in table.iterfind("{*}rule/{*}inputEntry/{*}text"):
        try:
            input_cell_python(text.text or "")
        except ValueError as exc:
            yield diagrams.problem(diagram, text, str(exc))
    for text in table.iterfind("{*}rule/{*}outputEntry/{*}text"):
        yield from _expression_problem(diagrams, diagram, text, "output", feel.output_entry_to_python(text.text or ""))


def _expression_problem(diagrams: DiagramSet, diagram: Diagram, element, what: str, python=None) -> Iterator[Problem]:
    text = (python if python is not None else element.text) or ""
    if not text.strip():
        return
    if camunda.is_juel(text):
        yield diagrams.problem(diagram, element, camunda.juel_problem(text, what))
        return
    try:
        compile(text.strip(), "<cell>", "eval")
    except SyntaxError as exc:
        yield diagrams.problem(diagram, element, f"Python syntax error in the {what}: {exc.msg}")


# --- rules that never fit, or overlap --------------------------------------------------------------


def _rules_that_never_fit_or_overlap(diagrams: DiagramSet, diagram: Diagram, table, flow) -> list[Problem]:
    inputs = table.findall("{*}input")
    rows = [(rule, _entries(rule, len(inputs))) for rule in table.findall("{*}rule")]
    pythons = [[_entry_python(entry) for entry in entries] for _, entries in rows]
    columns = [
        _column(index, element, [cells[index] for cells in pythons], flow) for index, element in enumerate(inputs)
    ]
    rules = [
        _Rule(rule, [_tried(_Cell(e, p), c) for e, p, c in zip(entries, cells, columns, strict=True)], _outputs(rule))
        for (rule, entries), cells in zip(rows, pythons, strict=True)
    ]
    policy = (table.get("hitPolicy") or "UNIQUE").upper()
    problems = list(_impossible_cells(diagrams, diagram, rules, columns))
    if problems:
        return problems
    _keep_one_value_per_outcome(rules, columns)
    if policy == "FIRST":
        problems += _shadowed(diagrams, diagram, rules)
    if policy in ("UNIQUE", "ANY"):
        problems += _overlapping(diagrams, diagram, rules, columns, policy)
    return problems


def _entries(rule, count: int) -> list:
    """The rule's input entries, one per input (None where the rule has fewer)."""
    entries = rule.findall("{*}inputEntry")
    return [entries[index] if index < len(entries) else None for index in range(count)]


def _entry_python(entry) -> str | None:
    return input_cell_python(entry.findtext("{*}text") or "") if entry is not None else None


def _outputs(rule) -> tuple[str, ...]:
    return tuple((e.findtext("{*}text") or "").strip() for e in rule.findall("{*}outputEntry"))


def _column(index: int, element, cells: list[str | None], flow: DataFlow | None) -> _Column:
    expression = (element.findtext("{*}inputExpression/{*}text") or "").strip()
    name = expression or element.get("label") or f"input {index + 1}"
    values, listed = _values_to_try(element, expression, cells, flow)
    return _Column(name, values, listed)


def _values_to_try(element, expression: str, cells: list[str | None], flow: DataFlow | None) -> tuple[list, bool]:
    """The values to try in a column, and whether they are the input's own (to list in a message)."""
    declared = feel.literal_list(element.findtext("{*}inputValues/{*}text") or "")
    if declared:
        return [*declared, None], True
    type_ref = element.find("{*}inputExpression")
    if type_ref is not None and type_ref.get("typeRef") == "boolean":
        return [True, False, None], False
    known: Values = ANY
    if flow is not None and expression.isidentifier():
        known = flow.set_anywhere.get(expression, ANY)
    if known is not ANY:
        return sorted(known, key=lambda value: (value is None, str(value))), True
    literals = [c for cell in cells if cell for c in trial.constants_compared_with(_runnable(cell), INPUT)]
    return trial.candidates(literals), False


def _runnable(python: str) -> str:
    return feel.with_input_named(python, INPUT)


def _tried(cell: _Cell, column: _Column) -> _Cell:
    if cell.python is None:
        cell.matches = frozenset(range(len(column.values)))
        return cell
    cell.code = trial.simple_code(_runnable(cell.python))
    if cell.code is None:
        cell.exact = False
        return cell
    outcomes = [trial.outcome(cell.code, {INPUT: value}) for value in column.values]
    cell.matches = frozenset(i for i, result in enumerate(outcomes) if result is True)
    cell.exact = all(result is not trial.UNKNOWN for result in outcomes)
    return cell


def _impossible_cells(diagrams: DiagramSet, diagram: Diagram, rules: list[_Rule], columns) -> Iterator[Problem]:
    for rule in rules:
        for cell, column in zip(rule.cells, columns, strict=True):
            if cell.exact and cell.python is not None and not cell.matches:
                text = (cell.element.findtext("{*}text") or "").strip() if cell.element is not None else ""
                message = (
                    f"this rule never fits: its {column.name} cell ({text}) holds for no value {column.name} can have"
                    f"{_listed(column)}: correct the cell"
                )
                yield diagrams.problem(diagram, rule.element, message)


def _listed(column: _Column) -> str:
    if not column.listed:
        return ""
    return f" ({', '.join(trial.shown(value) for value in column.values if value is not None)})"


def _keep_one_value_per_outcome(rules: list[_Rule], columns: list[_Column]) -> None:
    """Values of a column that every rule's cell treats alike are one case: keep the first of them
    (this keeps the combinations to try few: a catch-all rule fits all of them)."""
    for index, column in enumerate(columns):
        first_of_kind: dict[tuple[bool, ...], int] = {}
        for value in range(len(column.values)):
            first_of_kind.setdefault(tuple(value in rule.cells[index].matches for rule in rules), value)
        kept = frozenset(first_of_kind.values())
        for rule in rules:
            rule.cells[index].matches &= kept


def _shadowed(diagrams: DiagramSet, diagram: Diagram, rules: list[_Rule]) -> Iterator[Problem]:
    for position, rule in enumerate(rules):
        earlier = [r for r in rules[:position] if r.exact]
        combinations = [sorted(cell.matches) for cell in rule.cells]
        if not rule.exact or not earlier or _combinations(combinations) > MAX_COMBINATIONS:
            continue
        winners = [_first_fitting(earlier, combination) for combination in itertools.product(*combinations)]
        if winners and all(winner is not None for winner in winners):
            takers = ", ".join(dict.fromkeys(w.element.get("id", "") for w in winners if w is not None))
            message = (
                f"this rule never fits: every case it fits is taken by {takers} above it (the first rule that "
                "fits wins): move it above, or narrow the rules above"
            )
            yield diagrams.problem(diagram, rule.element, message)


def _first_fitting(rules: list[_Rule], combination: tuple[int, ...]) -> _Rule | None:
    for rule in rules:
        if all(i in cell.matches for i, cell in zip(combination, rule.cells, strict=True)):
            return rule
    return None


def _overlap(a: _Rule, b: _Rule) -> tuple[int, ...] | None:
    """One combination of values both rules fit, or None."""
    common = [sorted(x.matches & y.matches) for x, y in zip(a.cells, b.cells, strict=True)]
    return None if any(not values for values in common) else tuple(values[0] for values in common)


def _overlapping(diagrams: DiagramSet, diagram: Diagram, rules: list[_Rule], columns, policy: str) -> Iterator[Problem]:
    for position, rule in enumerate(rules):
        if not rule.exact:
            continue
        clashing = [
            (other, both)
            for other in rules[:position]
            if other.exact
            and (both := _overlap(other, rule)) is not None
            and (policy == "UNIQUE" or other.outputs != rule.outputs)
        ]
        if clashing:
            yield diagrams.problem(diagram, rule.element, _overlap_message(rule, clashing, columns, policy))


def _overlap_message(rule: _Rule, clashing, columns: list[_Column], policy: str) -> str:
    other, both = clashing[0]
    case = f"this rule and {other.element.get('id')} both fit when {_case(other, rule, both, columns)}"
    if len(clashing) > 1:
        case += f" (it overlaps {', '.join(o.element.get('id', '') for o, _ in clashing[1:])} too)"
    if policy == "UNIQUE":
        return (
            f"{case}, but the hit policy UNIQUE allows one rule per case (Camunda fails such a call; the desk "
            "would silently take the first): make the rules exclusive, "
            "or set the hit policy to FIRST if the order decides"
        )
    return (
        f"{case}, and they give different outputs, which the hit policy ANY does not allow: give them the same "
        "outputs, or set the hit policy to FIRST"
    )


def _case(a: _Rule, b: _Rule, both: tuple[int, ...], columns: list[_Column]) -> str:
    parts = [
        f"{column.name} is {trial.shown(column.values[index])}"
        for index, column, x, y in zip(both, columns, a.cells, b.cells, strict=True)
        if x.python is not None or y.python is not None
    ]
    return " and ".join(parts) or "any input"


def _combinations(domains) -> int:
    return math.prod(len(domain) for domain in domains)
