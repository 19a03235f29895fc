"""A BPMN diagram on a page (the ticket, the versions, the migration): which file to draw and what to
highlight, for the ``_diagram.html`` partial. Its static script (static/diagram.js) draws the file
with bpmn.io's viewer (static/vendor/bpmn-js), the library inside Camunda Modeler, so the drawing is
the one the process owner made: gateway and event markers, task icons, flow names, default flows,
labels wrapped in their boxes, at 100 % with zoom and pan. Highlights are CSS classes
(static/diagram.css) the script puts on elements by id, and figures (the process insight) badges it
draws over them; they travel in data attributes, since the page's Content-Security-Policy runs no
inline script.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from flask import url_for

from supportdesk.engine.oversight.insight import HEAT_LEVELS, ElementFigures, Insight
from supportdesk.engine.tickets.migration import DiagramChanges
from supportdesk.engine.tickets.queries import TicketDiagram

# Where a ticket is and has been.
CURRENT, WAITING, DONE, TAKEN = "hl-current", "hl-waiting", "hl-done", "hl-taken"
TICKET_LEGEND = (
    (CURRENT, "where the call is now: a task to do"),
    (WAITING, "waiting for a timer or a message"),
    (DONE, "steps it has passed"),
    (TAKEN, "the path it took"),
)
# How one version differs from another.
ADDED, REMOVED, CHANGED, REWIRED = "hl-added", "hl-removed", "hl-changed", "hl-rewired"
BEFORE_LEGEND = (
    (REMOVED, "removed"),
    (CHANGED, "changed (name, form, kind, lane, event, timer, script…)"),
    (REWIRED, "only its flows changed"),
)
AFTER_LEGEND = (
    (ADDED, "added"),
    (CHANGED, "changed (name, form, kind, lane, event, timer, script…)"),
    (REWIRED, "only its flows changed"),
)


@dataclass(frozen=True)
class DiagramView:
    title: str  # what the drawing is: shown above it, and said to screen readers
    file_name: str
    source: str = ""  # the role-checked address of the file (``web.diagrams``)
    xml: str = ""  # or the file itself: uploaded files being checked are stored nowhere
    marks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # CSS class -> element ids
    focus: tuple[str, ...] = ()  # shown first, at 100 %; the diagram's top left when empty
    focus_label: str = ""  # the button that shows them again
    legend: tuple[tuple[str, str], ...] = ()  # (CSS class, what it means)
    # Figures drawn in a badge over each element (the process insight): element id -> what to show.
    figures: Mapping[str, Mapping[str, object]] = field(default_factory=dict)

    @property
    def marks_data(self) -> dict[str, list[str]]:
        """The marks as the script reads them (JSON in a data attribute)."""
        return {css: sorted(ids) for css, ids in self.marks.items() if ids}

    @property
    def figures_data(self) -> dict[str, Mapping[str, object]]:
        """The figures as the script reads them (JSON in a data attribute)."""
        return dict(sorted(self.figures.items()))


@dataclass(frozen=True)
class Comparison:
    """One file of two versions, each drawn with what changed marked."""

    file_name: str
    before: DiagramView | None  # None: the file is new
    after: DiagramView | None  # None: the file was taken out


def file_address(version: int, file_name: str) -> str:
    return url_for("diagrams.file", number=version, name=file_name)


def stored(version: int, file_name: str, title: str = "") -> DiagramView:
    """A file of a deployed version, drawn as it is."""
    return DiagramView(title or f"{file_name}, version {version}", file_name, source=file_address(version, file_name))


def for_ticket(position: TicketDiagram, version: int) -> DiagramView:
    """The ticket's diagram with where it is now (shown first), what it waits for, and the path it took."""
    return DiagramView(
        f"{position.file_name}, version {version}",
        position.file_name,
        source=file_address(version, position.file_name),
        marks={
            CURRENT: tuple(position.current),
            WAITING: tuple(position.waiting),
            DONE: tuple(position.done),
            TAKEN: tuple(position.taken),
        },
        focus=tuple(sorted(position.current or position.waiting)),
        focus_label="Where the call is now",
        legend=TICKET_LEGEND,
    )


def for_insight(found: Insight, working_time: Callable[[timedelta], str]) -> DiagramView:
    """The diagram of the process insight: over each element its figures in badges (tickets there now,
    passed, median working time, breaches while there), each element filled by where the working time
    went (``heat-1`` to ``heat-4``; the page draws that scale), shown first around the elements with the most."""
    heat = found.heat
    marks = {f"heat-{level}": tuple(i for i, h in heat.items() if h == level) for level in range(1, HEAT_LEVELS + 1)}
    hottest = tuple(sorted(i for i, h in heat.items() if h == HEAT_LEVELS))
    return DiagramView(
        f"{found.file_name}, version {found.version}",
        found.file_name,
        source=file_address(found.version, found.file_name),
        marks=marks,
        focus=hottest,
        focus_label="Where most time goes",
        figures={f.element.id: _badges(f, working_time) for f in found.elements},
    )


def _badges(figures: ElementFigures, working_time: Callable[[timedelta], str]) -> dict[str, object]:
    median = figures.median_working
    return {
        "now": figures.there_now,
        "passed": figures.passed,
        "median": working_time(median) if median is not None else None,
        "breaches": figures.breaches,
    }


def comparisons(
    changes: DiagramChanges,
    before_files: Mapping[str, str],
    after_files: Mapping[str, str],
    before_view: Callable[[str], DiagramView],
    after_view: Callable[[str], DiagramView],
) -> list[Comparison]:
    """The process files (.bpmn) that hold a change, each before and after with the changes marked;
    ``before_view`` and ``after_view`` say where each side's file comes from."""
    found = []
    for name in sorted(n for n in before_files.keys() | after_files.keys() if n.endswith(".bpmn")):
        both = {CHANGED: changes.changed, REWIRED: changes.rewired}
        before = _in_file(before_files.get(name), {REMOVED: changes.removed, **both})
        after = _in_file(after_files.get(name), {ADDED: changes.added, **both})
        if not any(before.values()) and not any(after.values()):
            continue
        found.append(
            Comparison(
                name,
                _with(before_view(name), before, BEFORE_LEGEND) if name in before_files else None,
                _with(after_view(name), after, AFTER_LEGEND) if name in after_files else None,
            )
        )
    return found


def _in_file(xml: str | None, marks: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    """The marked elements that are in this file (a set's files share no element ids)."""
    if xml is None:
        return {}
    return {css: tuple(i for i in ids if f'id="{i}"' in xml) for css, ids in marks.items()}


def _with(view: DiagramView, marks: Mapping[str, tuple[str, ...]], legend) -> DiagramView:
    focus = tuple(i for css in (REMOVED, ADDED, CHANGED, REWIRED) for i in marks.get(css, ()))
    shown = tuple((css, words) for css, words in legend if marks.get(css))  # only the kinds of change it has
    return DiagramView(view.title, view.file_name, view.source, view.xml, marks, focus, "The changes", shown)
