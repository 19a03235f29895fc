"""C31 reports: SLA attainment per period and priority against the goals, the breaches, the calls logged
(by channel and priority), the backlog over time and the customers' ratings, with a chart for each, and
every table as CSV and JSON.

The charts are pygal SVG drawn on the server and served as images from their own address: an image's SVG
runs no script and its styles stay inside it, so the page keeps working under a strict
Content-Security-Policy. They are bars, never lines over each other: grouped side by side (attainment per
priority, with the goal as a dashed line across) or stacked (calls by priority, by channel, ratings), so
no series hides another and a month shows as a bar, not a dot.

With no dates asked for, the report covers the last eight weeks (six months) that hold calls.
"""

from __future__ import annotations

import json
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
from .formatting import clock_name, label

blueprint = Blueprint("reports", __name__)

# C31: the managers who answer for the charter, and the auditors who check it (admin passes every check).
REPORT_READERS = ("customer_services_manager", "auditor")
# The breaches a page lists (by due moment); the CSV lists them all.
BREACHES_SHOWN = 200
# The chart image: its own styles only, nothing else loads or runs in it.
CHART_POLICY = "default-src 'none'; style-src 'unsafe-inline'"
VOLUME_BY_PRIORITY, VOLUME_BY_CHANNEL, BACKLOG, SATISFACTION = (
    "volume_priority",
    "volume_channel",
    "backlog",
    "satisfaction",
)
CHARTS = (*METRICS, VOLUME_BY_PRIORITY, VOLUME_BY_CHANNEL, BACKLOG, SATISFACTION)
DATA_FORMATS = ("csv", "json")


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
    """The attainment and the breaches in one file, as ``supportdesk report sla --format csv`` writes it."""
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


@blueprint.route("/reports/data/<name>.<fmt>")
@requires_roles(*REPORT_READERS)
def table(name: str, fmt: str):
    """One table of the page (``reports.TABLES``), whole, as CSV or JSON."""
    if name not in reports.TABLES or fmt not in DATA_FORMATS:
        abort(404)
    try:
        period, start, end = _asked()
    except InvalidInput as exc:
        return _page(None, exc.fields), 400
    found = reports.report_table(current_desk(), name, period=period, start=start, end=end)
    file_name = f"{name}-{period}-{start.isoformat()}-{end.isoformat()}.{fmt}"
    if fmt == "csv":
        body, mimetype = reports.table_csv(found), "text/csv"
    else:
        body = json.dumps(reports.table_json(found, period=period, start=start, end=end), indent=2) + "\n"
        mimetype = "application/json"
    return Response(body, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{file_name}"'})


@blueprint.route("/reports/chart/<name>.svg")
@requires_roles(*REPORT_READERS)
def chart(name: str):
    if name not in CHARTS:
        abort(404)
    try:
        period, start, end = _asked()
    except InvalidInput:
        abort(400)
    return Response(
        _draw(name, period, start, end), mimetype="image/svg+xml", headers={"Content-Security-Policy": CHART_POLICY}
    )


def _draw(name: str, period: str, start: date, end: date) -> bytes:
    desk = current_desk()
    if name in METRICS:
        return attainment_chart(reports.sla_report(desk, period=period, start=start, end=end, breach_limit=0), name)
    if name in (VOLUME_BY_PRIORITY, VOLUME_BY_CHANNEL):
        return volume_chart(
            reports.volume(desk, period=period, start=start, end=end), by_channel=name == VOLUME_BY_CHANNEL
        )
    if name == BACKLOG:
        return backlog_chart(reports.backlog(desk, period=period, start=start, end=end))
    return satisfaction_chart(reports.satisfaction(desk, period=period, start=start, end=end))


def _asked() -> tuple[str, date, date]:
    args = request.args
    return bounds.report_range(args.get("period"), args.get("from"), args.get("to"), current_desk())


def _page(report: reports.SlaReport | None, errors: dict[str, str]) -> str:
    query = _query(report) if report else {}
    desk = current_desk()
    return render_template(
        "reports.html",
        report=report,
        errors=errors,
        asked=request.args,
        periods=reports.PERIODS,
        all_priorities=reports.ALL,
        volume=reports.volume(desk, period=report.period, start=report.start, end=report.end) if report else None,
        backlog=reports.backlog(desk, period=report.period, start=report.start, end=report.end) if report else (),
        satisfaction=(
            reports.satisfaction(desk, period=report.period, start=report.start, end=report.end) if report else None
        ),
        ratings=reports.RATINGS,
        default_periods=reports.DEFAULT_PERIODS,
        csv_url=url_for("reports.report_csv", **query) if report else None,
        charts={name: url_for("reports.chart", name=name, **query) for name in CHARTS} if report else {},
        data={
            name: {fmt: url_for("reports.table", name=name, fmt=fmt, **query) for fmt in DATA_FORMATS}
            for name in reports.TABLES
        }
        if report
        else {},
    )


def _query(report: reports.SlaReport) -> dict[str, str]:
    """The report's own range, defaults filled in, so the charts and tables show exactly the page's figures."""
    return {"period": report.period, "from": report.start.isoformat(), "to": report.end.isoformat()}


# --- the charts -----------------------------------------------------------------------------------------

# The desk's palette (desk.css): one colour per series, the goal always in the error red.
SERIES_COLOURS = ("#1f5fa8", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#8d6e63", "#546e7a")
GOAL_COLOUR = "#b3261e"
RATING_COLOURS = ("#b3261e", "#ef6c00", "#f9a825", "#7cb342", "#2e7d32")  # 1 (poor) to 5 (good)
FONT = 'system-ui, -apple-system, "Segoe UI", sans-serif'
WIDTH, HEIGHT = 760, 320


def _style(colours, **extra) -> Style:
    return Style(
        colors=tuple(colours),
        font_family=FONT,
        background="white",
        plot_background="white",
        title_font_size=15,
        legend_font_size=12,
        label_font_size=11,
        major_label_font_size=11,
        guide_stroke_color="#c5ced8",  # light guides: the bars and the goal line are what the eye follows
        guide_stroke_dasharray="2,4",
        **extra,
    )


def _chart(kind, title: str, periods, colours, *, series: int, **config):
    """A bar chart of the desk's look, one bar (or stack) per period, its labels readable however many."""
    chart = kind(
        js=(),  # no tooltip script: an image runs none, and the CSP allows none
        style=config.pop("style", None) or _style(colours),
        title=title,
        width=WIDTH,
        height=HEIGHT,
        legend_at_bottom=True,
        legend_at_bottom_columns=min(max(series, 1), 6),
        truncate_legend=-1,
        x_label_rotation=30 if len(periods) > 8 else 0,
        x_labels_major_every=max(len(periods) // 12, 1),
        show_minor_x_labels=len(periods) <= 12,
        margin_bottom=8,
        **config,
    )
    # pygal writes its config as a script too, whatever ``js`` says: take it out.
    chart.add_xml_filter(_without_scripts)
    chart.x_labels = [period.short_label for period in periods]
    return chart


def attainment_chart(report: reports.SlaReport, metric: str) -> bytes:
    """The share met per period of each of the metric's lines (priorities side by side), with the goal as a
    dashed red line across (a major guide of the y axis, named in the legend)."""
    lines = report.lines_of(metric)
    goal = report.goals.get(metric, 0.0) * 100
    colours = (*SERIES_COLOURS[: len(lines)], GOAL_COLOUR)
    chart = _chart(
        pygal.Bar,
        f"{clock_name(metric)}: share met per {report.period}",
        report.periods,
        colours,
        series=len(colours),
        style=_style(colours, major_guide_stroke_color=GOAL_COLOUR, major_guide_stroke_dasharray="6,4"),
        range=(0, 100),
        y_labels=_percent_labels(goal),
        y_labels_major=[goal],
        value_formatter=lambda value: f"{value:.0f} %",
        no_data_text="No clocks",
    )
    for line in lines:
        name = "All priorities" if line.priority == reports.ALL else line.priority
        chart.add(name, [_percent(figures.attainment) for figures in line.figures])
    chart.add(f"Goal {goal:.0f} %", [None] * len(report.periods))  # the legend's name for the dashed line
    return chart.render()


def _percent_labels(goal: float) -> list[float]:
    """0 to 100 by 20, and the goal, without a label too close to the goal's to read."""
    return sorted({*(n for n in range(0, 101, 20) if abs(n - goal) >= 6 or n in (0, 100)), goal})


def volume_chart(found: reports.Volume, *, by_channel: bool) -> bytes:
    counts = found.by_channel if by_channel else found.by_priority
    names = [label(c, "channel") for c in counts] if by_channel else list(counts)
    chart = _chart(
        pygal.StackedBar,
        f"Calls logged per {found.periods[0].kind} by {'channel' if by_channel else 'priority'}",
        found.periods,
        SERIES_COLOURS,
        series=len(counts),
        min_scale=2,
        max_scale=6,
        no_data_text="No calls",
    )
    for name, per_period in zip(names, counts.values(), strict=True):
        chart.add(name, list(per_period))
    return chart.render()


def backlog_chart(points: tuple[reports.BacklogPoint, ...]) -> bytes:
    chart = _chart(
        pygal.Bar,
        f"Open calls at the end of each {points[0].period.kind}",
        [point.period for point in points],
        SERIES_COLOURS,
        series=1,
        print_values=True,
        min_scale=2,
        max_scale=6,
        no_data_text="No calls",
    )
    chart.add("Open calls", [point.open_calls for point in points])
    return chart.render()


def satisfaction_chart(found: reports.Satisfaction) -> bytes:
    chart = _chart(
        pygal.StackedBar,
        f"Customers' ratings given per {found.periods[0].kind} (1 poor, 5 very good)",
        found.periods,
        RATING_COLOURS,
        series=len(reports.RATINGS),
        min_scale=2,
        max_scale=6,
        no_data_text="No ratings",
    )
    for index, rating in enumerate(reports.RATINGS):
        chart.add(f"Rated {rating}", [ratings.counts[index] for ratings in found.ratings])
    return chart.render()


def _without_scripts(root):
    for parent in root.iter():
        for child in list(parent):
            if isinstance(child.tag, str) and child.tag.rsplit("}", 1)[-1] == "script":
                parent.remove(child)
    return root


def _percent(share: float | None) -> float | None:
    return None if share is None else round(share * 100, 1)
