"""The names a diagram's Python reads from the process data, and the names a script sets there."""

from __future__ import annotations

import ast
import builtins
from collections.abc import Iterable

BUILTINS = frozenset(dir(builtins))


def variables_read(text: str, mode: str = "eval", also_known: Iterable[str] = ()) -> set[str]:
    """Names ``text`` reads that must come from the data: not builtins, not functions it calls, not
    names it binds itself (a script's assignments, comprehension and lambda variables)."""
    tree = ast.parse(text, mode=mode)
    loaded, called, bound = set(), set(), set(variables_set(tree))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            loaded.add(node.id)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            called.add(node.func.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return loaded - called - bound - BUILTINS - set(also_known)


def variables_set(tree_or_text: ast.AST | str) -> set[str]:
    """Names a script assigns (they land in the task's data when it runs)."""
    tree = ast.parse(tree_or_text, mode="exec") if isinstance(tree_or_text, str) else tree_or_text
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
    return names


def compiles(text: str, mode: str = "eval") -> bool:
    try:
        ast.parse(text, mode=mode)
    except SyntaxError:
        return False
    return True
