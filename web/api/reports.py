"""The C31 SLA report: ``bounds.report_range`` (``reports.requested_range`` within the desk's bounds)
and ``reports.sla_report``, as the CLI's ``report sla --format json`` and the web page call them,
with the same figures and names."""

from __future__ import annotations

from supportdesk.engine import bounds
from supportdesk.engine.oversight import forecast, reports

from .. import current_desk
from ..reports import REPORT_READERS
from . import forecast_schemas, schemas
from .auth import api_user, guarded
from .base import ApiBlueprint

blp = ApiBlueprint("Reports", __name__, description="The SLA report (C31)")


@blp.route("/reports/sla")
@guarded(blp, *REPORT_READERS, errors=(400,))
@blp.arguments(schemas.ReportQuery, location="query")
@blp.response(200, schemas.Report)
def sla_report(query: dict):
    """The SLA report (C31)

    Attainment of each SLA metric per period (week or month, London time) and priority, overall,
    against the goals, and the breaches. Customer services managers, auditors and admin.
    """
    period, start, end = bounds.report_range(query.get("period"), query.get("start"), query.get("end"))
    report = reports.sla_report(current_desk(), period=period, start=start, end=end)
    return as_dict(report)


@blp.route("/reports/forecast")
@guarded(blp, *REPORT_READERS, errors=(400,))
@blp.arguments(forecast_schemas.ForecastQuery, location="query")
@blp.response(200, forecast_schemas.Forecast)
def sla_forecast(query: dict):
    """This period's SLA attainment forecast (C31)

    Median and 80 % interval of the first response and resolution attainment per priority for the month
    (or week) under way, the chance of missing each goal, the calls likely to breach, and the smallest
    lever that would bring a missed median back to its goal. The newest forecast made today, or (none
    yet, or `fresh`) one made now and stored. Customer services managers, auditors and admin.
    """
    period, _ = forecast.check_request(query.get("period"), None)
    desk = current_desk()
    made = None if query.get("fresh") else forecast.made_today(desk, period)
    if made is None:
        # Within a request's time: fewer runs when the store is large (the forecast says how many were made).
        made = forecast.make_forecast(
            desk, period=period, made_by=f"api:{api_user().username}", seconds=forecast.ON_DEMAND_SECONDS
        )
    return made.as_data()


def as_dict(report: reports.SlaReport) -> dict:
    def figures(f: reports.Figures) -> dict:
        return {"with_outcome": f.with_outcome, "met": f.met, "breached": f.breached, "attainment": f.attainment}

    return {
        "period": report.period,
        "start": report.start,
        "end": report.end,
        "generated_at": report.generated_at,
        "goals": report.goals,
        "lines": [
            {
                "metric": line.metric,
                "priority": line.priority,
                "goal": line.goal,
                "total": figures(line.total),
                "periods": [
                    {"first_day": p.first_day, **figures(f)} for p, f in zip(report.periods, line.figures, strict=True)
                ],
            }
            for line in report.lines
        ],
        "breaches": [
            {
                "reference": b.reference,
                "metric": b.metric,
                "priority": b.priority,
                "due": b.due_at,
                "stopped": b.stopped_at,
                "late_working_minutes": int(b.late.total_seconds() // 60),
            }
            for b in report.breaches
        ],
        "at_risk": report.at_risk,
    }
