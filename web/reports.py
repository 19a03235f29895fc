"""C31 reports: SLA attainment per period and priority against the goals, the breaches, a CSV.

The charts are pygal SVG drawn on the server and served as images from their own
address: an image's SVG runs no script and its styles stay inside it, so the page
keeps working under a strict Content-Security-Policy.
"""

from __future__ import annotations

from datetime import date

import pygal
from flask import Blueprint, Response, abort, render_template, request, url_for
from pygal.style import Style

from supportdesk.engine import bounds
from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.oversight import reports
from supportdesk.engine.working_time.sla_policy import METRICS

from . import current_desk
from .access import requires_roles
from .formatting import clock_name

blueprint = Blueprint("reports", __name__)

# C31: the managers who answer for the charter, and the auditors who check it (admin passes every check).
REPORT_READERS = ("customer_services_manager", "auditor")
# The breaches a page lists (by due moment); the CSV lists them all.
BREACHES_SHOWN = 200
# The chart image: its own styles only, nothing else loads or runs in it.
CHART_POLICY = "default-src 'none'; style-src 'unsafe-inline'"


@blueprint.route("/reports")
@requires_roles(*REPORT_READERS)
def report():
    try:
        period, start, end = _asked()
    except InvalidInput as exc:
        return _page(None, exc.fields), 400
    return _page(
        reports.sla_report(current_desk(), period=period, start=start, end=end, breach_limit=BREACHES_SHOWN), {}
    )


@blueprint.route("/reports.csv")
@requires_roles(*REPORT_READERS)
def report_csv():
    try:
        period, start, end = _asked()
    except InvalidInput as exc:
        return _page(None, exc.fields), 400
    report = reports.sla_report(current_desk(), period=period, start=start, end=end)
    name = f"sla-report-{period}-{start.isoformat()}-{end.isoformat()}.csv"
    return Response(
        reports.sla_report_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@blueprint.route("/reports/chart/<metric>.svg")
@requires_roles(*REPORT_READERS)
def chart(metric: str):
    if metric not in METRICS:
        abort(404)
    try:
        period, start, end = _asked()
    except InvalidInput:
        abort(400)
    report = reports.sla_report(current_desk(), period=period, start=start, end=end, breach_limit=0)
    return Response(
        attainment_chart(report, metric), mimetype="image/svg+xml", headers={"Content-Security-Policy": CHART_POLICY}
    )


def _asked() -> tuple[str, date, date]:
    args = request.args
    return bounds.report_range(args.get("period"), args.get("from"), args.get("to"))


def _page(report: reports.SlaReport | None, errors: dict[str, str]) -> str:
    query = _query(report) if report else {}
    return render_template(
        "reports.html",
        report=report,
        errors=errors,
        asked=request.args,
        periods=reports.PERIODS,
        all_priorities=reports.ALL,
        csv_url=url_for("reports.report_csv", **query) if report else None,
        charts={metric: url_for("reports.chart", metric=metric, **query) for metric in METRICS} if report else {},
    )


def _query(report: reports.SlaReport) -> dict[str, str]:
    """The report's own range, defaults filled in, so the chart and CSV show exactly the page's figures."""
    return {"period": report.period, "from": report.start.isoformat(), "to": report.end.isoformat()}


# --- the chart ------------------------------------------------------------------------------------------

# The desk's palette (desk.css): one colour per priority line, the goal always in the error red.
LINE_COLOURS = ("#1f5fa8", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f")
GOAL_COLOUR = "#b3261e"
FONT = 'system-ui, -apple-system, "Segoe UI", sans-serif'


def attainment_chart(report: reports.SlaReport, metric: str) -> bytes:
    """The share met per period of each of the metric's lines, against the goal line."""
    lines = report.lines_of(metric)
    colours = (*LINE_COLOURS[: len(lines)], GOAL_COLOUR)
    chart = pygal.Line(
        js=(),  # no tooltip script: an image runs none, and the CSP allows none
        style=Style(
            colors=colours,
            font_family=FONT,
            background="white",
            plot_background="white",
            title_font_size=15,
            legend_font_size=12,
            label_font_size=11,
            major_label_font_size=11,
        ),
        title=f"{clock_name(metric)}: share met per {report.period}",
        width=760,
        height=320,
        range=(0, 100),
        min_scale=5,
        max_scale=5,
        value_formatter=lambda value: f"{value:.0f} %",
        allow_interruptions=True,
        legend_at_bottom=True,
        legend_at_bottom_columns=len(colours),
        # Many weeks: label every n-th so the labels stay readable.
        x_label_rotation=30 if len(report.periods) > 8 else 0,
        x_labels_major_every=max(len(report.periods) // 12, 1),
        show_minor_x_labels=len(report.periods) <= 12,
        truncate_legend=-1,
        no_data_text="No clocks",
    )
    # pygal writes its config as a script too, whatever ``js`` says: take it out.
    chart.add_xml_filter(_without_scripts)
    chart.x_labels = [period.short_label for period in report.periods]
    for line in lines:
        name = "All priorities" if line.priority == reports.ALL else line.priority
        chart.add(name, [_percent(figures.attainment) for figures in line.figures])
    goal = report.goals.get(metric, 0.0)
    chart.add(
        f"Goal {goal * 100:.0f} %",
        [goal * 100] * len(report.periods),
        show_dots=False,
        stroke_style={"width": 2, "dasharray": "6, 4"},
    )
    return chart.render()


def _without_scripts(root):
    for parent in root.iter():
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return root


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)
