"""What the deploy gate finds: a problem, located by file, line, element id and name, saying what
is wrong and what to do. Errors refuse the whole set of files; warnings do not."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from supportdesk.engine.errors import DiagramError

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    element_id: str
    message: str
    element_name: str = ""
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        where = ":".join(str(part) for part in (self.file, self.line) if part)
        element = self.element_id + (f' "{self.element_name}"' if self.element_name else "")
        located = " ".join(part for part in (where, element) if part)
        return f"{located}: {self.message}" if located else self.message


class DiagramRefused(DiagramError):
    """Every error the gate found in one run. ``file``, ``line``, ``element_id`` and ``detail`` are
    the first one's, for callers that show one; ``problems`` holds them all."""

    def __init__(self, problems: Sequence[Problem]):
        if not problems:
            raise ValueError("a refusal needs at least one problem")
        first = problems[0]
        super().__init__(first.message, file=first.file, line=first.line, element_id=first.element_id)
        self.problems = tuple(problems)
        if len(self.problems) > 1:
            # A page that shows one problem's detail still shows every problem.
            others = "; ".join(str(problem) for problem in self.problems[1:])
            self.detail = f"{first.message} (and {len(self.problems) - 1} more: {others})"

    def __str__(self) -> str:
        if len(self.problems) == 1:
            return str(self.problems[0])
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        return f"{len(self.problems)} problems in the diagrams; nothing was deployed:\n{lines}"
