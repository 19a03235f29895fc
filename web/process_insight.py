"""Process insight for process owners (issue 21): a version's diagram with, over each element, the
tickets there now, those that passed it in a period, the median working time they spent there and the
SLA breaches that happened while they were there (``engine.oversight.insight`` says what is recorded
and so what is counted), a colour scale of where the working time went, and the same figures in a
table below, sortable and as CSV."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request, url_for

from supportdesk.engine.errors import InvalidInput, NoActiveVersion
from supportdesk.engine.oversight import insight

from . import current_desk, diagram_view
from .access import PROCESS_OWNER, requires_roles
from .formatting import working_time

blueprint = Blueprint("process_insight", __name__)

# What the page and the CSV are asked for (the sort is the table's only).
ASKED = ("version", "file", "from", "to")
SORT_NAMES = {
    "element": "Element",
    "now": "There now",
    "passed": "Passed",
    "median": "Median time there",
    "time": "All passes' time",
    "breaches": "Breaches there",
}


@blueprint.route("/process/insight")
@requires_roles(PROCESS_OWNER)
def page():
    try:
        found = _found()
    except (InvalidInput, NoActiveVersion) as exc:
        return _page(None, _problems(exc)), 400
    return _page(found, {})


@blueprint.route("/process/insight.csv")
@requires_roles(PROCESS_OWNER)
def as_csv():
    try:
        found = _found()
    except (InvalidInput, NoActiveVersion) as exc:
        return _page(None, _problems(exc)), 400
    name = f"process-insight-v{found.version}-{found.file_name.removesuffix('.bpmn')}-{found.start}-{found.end}.csv"
    return Response(
        insight.insight_csv(found, _sort()),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _found() -> insight.Insight:
    desk = current_desk()
    args = request.args
    return insight.insight(
        desk, insight.requested(desk, args.get("version"), args.get("file"), args.get("from"), args.get("to"))
    )


def _sort() -> str:
    sort = request.args.get("sort", "element")
    return sort if sort in insight.SORTS else "element"


def _problems(exc: Exception) -> dict[str, str]:
    if isinstance(exc, InvalidInput) and exc.fields:
        return dict(exc.fields)
    return {"version": str(exc)}


def _page(found: insight.Insight | None, errors: dict[str, str]) -> str:
    sort = _sort()
    chosen = _chosen(found)
    return render_template(
        "process_insight.html",
        found=found,
        errors=errors,
        asked=request.args,
        view=diagram_view.for_insight(found, working_time) if found else None,
        rows=found.sorted_by(sort) if found else [],
        sort=sort,
        sort_names=SORT_NAMES,
        sort_url=lambda key: url_for("process_insight.page", **chosen, sort=key) + "#figures",
        csv_url=url_for("process_insight.as_csv", **chosen, sort=sort),
        heat_levels=range(insight.HEAT_LEVELS + 1),
        heat_step=100 // insight.HEAT_LEVELS,
    )


def _chosen(found: insight.Insight | None) -> dict[str, str]:
    """What the page shows, as the query that shows it again (the table's sort links, the CSV)."""
    if found is None:
        return {key: request.args[key] for key in ASKED if request.args.get(key)}
    return {
        "version": str(found.version),
        "file": found.file_name,
        "from": found.start.isoformat(),
        "to": found.end.isoformat(),
    }
