"""``supportdesk report sla``: the C31 SLA report (the same figures as the web page) as a table, CSV or JSON."""

from __future__ import annotations

import json
from datetime import timedelta

import click

from supportdesk.engine import bounds
from supportdesk.engine.oversight import reports
from supportdesk.engine.working_time.clock import local

from .group import open_desk, reports_desk_errors


@click.group("report")
def report() -> None:
    """Reports on the charter's service levels (C31)."""


@report.command("sla")
@click.option(
    "--by",
    "period",
    type=click.Choice(reports.PERIODS),
    default=reports.WEEK,
    show_default=True,
    help="Group the calls by the week (from Monday) or month they were logged in, London time.",
)
@click.option(
    "--from",
    "start",
    metavar="YYYY-MM-DD",
    help=f"First day (default: {reports.DEFAULT_PERIODS[reports.WEEK]} weeks or "
    f"{reports.DEFAULT_PERIODS[reports.MONTH]} months back).",
)
@click.option("--to", "end", metavar="YYYY-MM-DD", help="Last day, included (default: today).")
@click.option(
    "--format",
    "shape",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="csv is the web page's download; json is for scripts.",
)
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="File to write to.")
@reports_desk_errors
def sla(period: str, start: str | None, end: str | None, shape: str, output) -> None:
    """SLA attainment per period and priority (and overall) against the goals, and the breaches (C31)."""
    period, first, last = bounds.report_range(period, start, end)
    result = reports.sla_report(open_desk(), period=period, start=first, end=last)
    if shape == "csv":
        output.write(reports.sla_report_csv(result))
    elif shape == "json":
        output.write(json.dumps(as_json(result), indent=2) + "\n")
    else:
        output.write("\n".join(text_lines(result)) + "\n")


def as_json(report: reports.SlaReport) -> dict:
    """The report for scripts: every figure with its counts and share, and the breaches."""

    def figures(f: reports.Figures) -> dict:
        return {"with_outcome": f.with_outcome, "met": f.met, "breached": f.breached, "attainment": f.attainment}

    return {
        "period": report.period,
        "from": report.start.isoformat(),
        "to": report.end.isoformat(),
        "generated_at": report.generated_at.isoformat(),
        "goals": report.goals,
        "lines": [
            {
                "metric": line.metric,
                "priority": line.priority,
                "goal": line.goal,
                "total": figures(line.total),
                "periods": [
                    {"first_day": p.first_day.isoformat(), **figures(f)}
                    for p, f in zip(report.periods, line.figures, strict=True)
                ],
            }
            for line in report.lines
        ],
        "breaches": [
            {
                "reference": b.reference,
                "metric": b.metric,
                "priority": b.priority,
                "due": b.due_at.isoformat(),
                "stopped": b.stopped_at.isoformat() if b.stopped_at else None,
                "late_working_minutes": int(b.late.total_seconds() // 60),
            }
            for b in report.breaches
        ],
        "at_risk": report.at_risk,
    }


def text_lines(report: reports.SlaReport) -> list[str]:
    lines = [
        f"SLA report per {report.period}: calls logged {report.start} to {report.end} (London), "
        f"as at {local(report.generated_at):%Y-%m-%d %H:%M %Z}"
    ]
    for metric in dict.fromkeys(line.metric for line in report.lines):
        lines += ["", f"{metric.replace('_', ' ').capitalize()} (goal {_share(report.goals.get(metric))})"]
        for line in report.lines_of(metric):
            named = zip([p.label for p in report.periods] + ["Total"], [*line.figures, line.total], strict=True)
            for name, figures in named:
                lines.append(
                    f"  {name:<26} {_priority(line.priority):<15} {figures.with_outcome:>5} with an outcome "
                    f"{figures.met:>5} met {figures.breached:>5} breached  {_share(figures.attainment):>8}"
                )
    lines += [
        "",
        "At risk now: " + ", ".join(f"{metric.replace('_', ' ')} {count}" for metric, count in report.at_risk.items()),
    ]
    lines += ["", f"Breaches ({len(report.breaches)})"]
    for breach in report.breaches:
        stopped = f"{local(breach.stopped_at):%Y-%m-%d %H:%M}" if breach.stopped_at else "still open"
        lines.append(
            f"  {breach.reference:<20} {breach.metric:<15} {breach.priority or '':<12} "
            f"due {local(breach.due_at):%Y-%m-%d %H:%M}  stopped {stopped:<16}  late {_hours(breach.late)}"
        )
    return lines


def _priority(priority: str) -> str:
    return "All priorities" if priority == reports.ALL else priority


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _hours(amount: timedelta) -> str:
    minutes = int(amount.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min working"
