"""Trying a diagram's conditions at deploy time on values the gate chooses, without running the
diagram's code: only comparisons, boolean logic, arithmetic and literals are tried (no calls, no
attribute access), so trying one can do nothing but give an answer."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from types import CodeType
from typing import Any

_SIMPLE = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.BinOp,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Mod,
    ast.FloorDiv,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.Is,
    ast.IsNot,
    ast.In,
    ast.NotIn,
    ast.IfExp,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.Set,
)


class Unknown:
    """A condition the gate cannot try (it calls something, or fails on the chosen values)."""

    def __repr__(self) -> str:
        return "unknown"


UNKNOWN = Unknown()


class Other:
    """A value of a variable the diagrams do not list, equal to none of the values they mention."""

    def __eq__(self, other: object) -> bool:
        return other is self

    def __hash__(self) -> int:
        return id(self)

    def __repr__(self) -> str:
        return "any other value"


def simple_code(text: str) -> CodeType | None:
    """The compiled expression when it is simple enough to try; None otherwise."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return None
    if not all(isinstance(node, _SIMPLE) for node in ast.walk(tree)):
        return None
    return compile(tree, "<condition>", "eval")


def outcome(code: CodeType, values: Mapping[str, Any]) -> bool | Unknown:
    try:
        return bool(eval(code, {"__builtins__": {}}, dict(values)))  # noqa: S307 (simple_code allows no calls)
    except Exception:  # noqa: BLE001  (an Other compared with <, a name not given: the gate cannot tell)
        return UNKNOWN


def constants_compared_with(text: str, name: str) -> list[Any]:
    """The literals ``text`` compares ``name`` with (``x == "a"``, ``x in ("a", "b")``, ``x < 5``)."""
    found: list[Any] = []
    for node in ast.walk(ast.parse(text.strip(), mode="eval")):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(isinstance(side, ast.Name) and side.id == name for side in sides):
                found += [c.value for side in sides for c in ast.walk(side) if isinstance(c, ast.Constant)]
    return found


def candidates(literals: Iterable[Any]) -> list[Any]:
    """Values to try for a variable whose values the diagrams do not list: each literal it is
    compared with, numbers on either side of each numeric one, nothing, and any other value (a
    number compared with numbers is one of the numbers around them: an Other would fail there)."""
    values: list[Any] = []
    numeric = False
    for literal in literals:
        values.append(literal)
        if isinstance(literal, int | float) and not isinstance(literal, bool):
            values += [literal - 1, literal - 0.5, literal + 0.5, literal + 1]
            numeric = True
    values = [value for value in _unique(values) if value is not None]
    return [*values, None] if numeric else [*values, None, Other()]


def _unique(values: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for value in values:
        if not any(type(value) is type(kept) and value == kept for kept in seen):
            seen.append(value)
    return seen


def shown(value: Any) -> str:
    """A value as a process owner reads it in a message."""
    if value is None:
        return "blank (None)"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)
