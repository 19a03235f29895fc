"""FEEL simple unary tests, as dmn-js (Camunda Modeler's table editor) writes them in decision-table
input cells, turned into the Python the desk's DMN engine runs, where ``?`` stands for the input.

SpiffWorkflow reads every cell as Python. Most FEEL cells are also Python, but mean something else
there: ``"cannot_load_data","cannot_access"`` is a tuple, which no input ever equals, so the rule
silently never fits; ``[1..5]`` and ``not("a")`` do not even compile, or compile to nonsense.
So a cell that parses as FEEL is run as FEEL means it:

    "a"                  ? == "a"
    "a","b"              ? in ("a", "b")
    < 10                 ? is not None and ? < 10     (FEEL: null fits no comparison)
    [1..5]               ? is not None and 1 <= ? <= 5
    ]1..5[, (1..5)       ? is not None and 1 < ? < 5
    not("a","b")         not (? in ("a", "b"))
    true, false, null    ? is True, ? is False, ? is None
    -                    (anything)

A cell that holds ``?`` is the desk's own Python and is left as it is.
"""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass

ANYTHING = "-"
INPUT = "?"

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<range>\.\.)
      | (?P<operator><=|>=|!=|<|>|=)
      | (?P<punct>[\[\]\(\),])
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {"true": "True", "false": "False", "null": "None"}
# What only FEEL writes: a cell holding one of these that is not a simple unary test the desk can
# run is FEEL it cannot run (a function, a date, ...), not Python with a typo.
_FEEL_MARKS = re.compile(r"\.\.|\bnot\s*\(|\b(?:date|time|date and time|duration|contains|starts with)\s*\(|^\s*[<>]=?")


_STRING_OR_INPUT = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|\?')


class NotUnaryTests(ValueError):
    """The text is no FEEL simple unary test the desk runs."""


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str


def with_input_named(python: str, name: str) -> str:
    """``python`` with each ``?`` outside its strings replaced by ``name``."""
    return _STRING_OR_INPUT.sub(lambda match: name if match.group(0) == INPUT else match.group(0), python)


def is_python(text: str) -> bool:
    """The desk's own form: Python with ``?`` for the input (outside of strings)."""
    return INPUT in _outside_strings(text)


def looks_like_feel(text: str) -> bool:
    """Text that only FEEL would hold (ranges, not(...), comparisons without a left side, FEEL functions)."""
    return bool(_FEEL_MARKS.search(_outside_strings(text)))


def input_entry_to_python(text: str) -> str | None:
    """The Python (with ``?``) that runs the input cell ``text`` as FEEL means it; None for a cell
    that matches anything. Raises NotUnaryTests for text that is no simple unary test."""
    stripped = (text or "").strip()
    if stripped in ("", ANYTHING):
        return None
    tokens = _tokens(stripped)
    for token, after in itertools.pairwise(tokens):
        if token.kind == "name" and token.text != "not" and after.text == "(":
            raise NotUnaryTests(f"FEEL functions such as {token.text}(...) do not run")
    if tokens and tokens[0] == _Token("name", "not") and len(tokens) > 1 and tokens[1].text == "(":
        if tokens[-1].text != ")":
            raise NotUnaryTests("not( ... ) is not closed")
        return f"not ({_positive_list(tokens[2:-1])})"
    return _positive_list(tokens)


def input_cell_as_run(cell: str) -> str | None:
    """What SpiffWorkflow is given for an input cell: a FEEL unary test as its Python; the desk's
    Python, "-" and what is no FEEL as written (the gate checks it); None for an empty cell, which
    SpiffWorkflow reads as "anything" only when it has no text at all."""
    if not cell.strip():
        return None
    if is_python(cell) or cell.strip() == ANYTHING:
        return cell
    try:
        return input_entry_to_python(cell)
    except NotUnaryTests:
        return cell


def output_entry_to_python(text: str) -> str:
    """An output cell's FEEL literal (true, false, null) as Python; other text is left as it is."""
    stripped = (text or "").strip()
    return _KEYWORDS.get(stripped, text)


def literal_list(text: str) -> list | None:
    """The values of a FEEL list of literals (dmn-js's input values: ``"a","b"``), or None."""
    try:
        parts = _split_on_commas(_tokens((text or "").strip()))
    except NotUnaryTests:
        return None
    if not all(len(part) == 1 and part[0].kind in ("string", "number") for part in parts):
        return None
    return [
        _string_value(t.text) if t.kind == "string" else float(t.text) if "." in t.text else int(t.text)
        for [t] in parts
    ]


def _tokens(text: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if text[position:].strip() == "":
                break
            raise NotUnaryTests(f"cannot read {text[position:]!r}")
        kind = match.lastgroup or ""
        tokens.append(_Token(kind, match.group(kind)))
        position = match.end()
    return tokens


def _positive_list(tokens: list[_Token]) -> str:
    """``a, b, c`` (a FEEL list of positive unary tests): any of them."""
    tests = [_positive(part) for part in _split_on_commas(tokens)]
    if len(tests) == 1:
        return tests[0].python
    if all(test.equals is not None for test in tests):
        return f"{INPUT} in ({', '.join(test.equals or '' for test in tests)})"
    return " or ".join(f"({test.python})" for test in tests)


def _split_on_commas(tokens: list[_Token]) -> list[list[_Token]]:
    # No simple unary test holds a comma of its own (an interval's ends are single values).
    parts: list[list[_Token]] = [[]]
    for token in tokens:
        if token.text == ",":
            parts.append([])
        else:
            parts[-1].append(token)
    if any(not part for part in parts):
        raise NotUnaryTests("an empty test in a list")
    return parts


@dataclass(frozen=True)
class _Test:
    python: str
    equals: str | None = None  # the literal, when the test is plain equality (lists become ``in``)


def _positive(tokens: list[_Token]) -> _Test:
    first = tokens[0]
    if first.kind == "operator":
        return _comparison(first.text, _endpoint(tokens[1:]))
    if first.kind == "punct" and first.text in "[(]":
        return _interval(tokens)
    value = _endpoint(tokens)
    if value in ("True", "False", "None"):
        return _Test(f"{INPUT} is {value}")
    return _Test(f"{INPUT} == {value}", equals=value)


def _comparison(operator: str, value: str) -> _Test:
    if operator == "=":
        return _Test(f"{INPUT} == {value}", equals=value)
    if operator == "!=":
        return _Test(f"{INPUT} != {value}")
    return _Test(f"{INPUT} is not None and {INPUT} {operator} {value}")


def _interval(tokens: list[_Token]) -> _Test:
    """``[a..b]`` includes both ends; ``(a..b)``, ``]a..b[`` and mixes leave out an end."""
    texts = [token.text for token in tokens]
    if ".." not in texts or tokens[-1].text not in ")][":
        raise NotUnaryTests("a range is written [low..high]")
    middle = texts.index("..")
    low, high = _endpoint(tokens[1:middle]), _endpoint(tokens[middle + 1 : -1])
    low_op = "<=" if tokens[0].text == "[" else "<"
    high_op = "<=" if tokens[-1].text == "]" else "<"
    return _Test(f"{INPUT} is not None and {low} {low_op} {INPUT} {high_op} {high}")


def _endpoint(tokens: list[_Token]) -> str:
    """One literal or name, as Python."""
    if len(tokens) != 1:
        raise NotUnaryTests("expected one value")
    token = tokens[0]
    if token.kind == "string":
        return json.dumps(_string_value(token.text), ensure_ascii=False)
    if token.kind == "number":
        return token.text
    if token.kind == "name" and token.text != "not":
        return _KEYWORDS.get(token.text, token.text)
    raise NotUnaryTests(f"{token.text!r} is not a value")


def _string_value(literal: str) -> str:
    try:
        return json.loads(literal)
    except ValueError:
        return literal[1:-1]


def _outside_strings(text: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', text or "")
