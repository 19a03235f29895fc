"""``supportdesk report``: the C31 SLA report (the same figures as the web page), as text or CSV."""

from __future__ import annotations

from datetime import timedelta

import click

from supportdesk.engine import reports
from supportdesk.engine.clock import local

from .main import open_desk, reports_desk_errors


@click.command("report")
@click.option("--period", type=click.Choice(reports.PERIODS), default=reports.WEEK, show_default=True,
              help="Group the calls by the week (from Monday) or month they were logged in, London time.")
@click.option("--from", "start", metavar="YYYY-MM-DD",
              help=f"First day (default: {reports.DEFAULT_PERIODS[reports.WEEK]} weeks or "
                   f"{reports.DEFAULT_PERIODS[reports.MONTH]} months back).")
@click.option("--to", "end", metavar="YYYY-MM-DD", help="Last day, included (default: today).")
@click.option("--csv", "as_csv", is_flag=True, help="Write CSV (the web page's download) instead of text.")
@click.option("-o", "--output", type=click.File("w", encoding="utf-8"), default="-", help="File to write to.")
@reports_desk_errors
def report(period: str, start: str | None, end: str | None, as_csv: bool, output) -> None:
    """SLA attainment per period and priority against the goals, and the breaches (C31)."""
    period, first, last = reports.requested_range(period, start, end)
    result = reports.sla_report(open_desk(), period=period, start=first, end=last)
    output.write(reports.sla_report_csv(result) if as_csv else "\n".join(text_lines(result)) + "\n")


def text_lines(report: reports.SlaReport) -> list[str]:
    lines = [f"SLA report per {report.period}: calls logged {report.start} to {report.end} (London), "
             f"as at {local(report.generated_at):%Y-%m-%d %H:%M %Z}"]
    for metric in dict.fromkeys(line.metric for line in report.lines):
        lines += ["", f"{metric.replace('_', ' ').capitalize()} (goal {_share(report.goals.get(metric))})"]
        for line in report.lines_of(metric):
            named = zip([p.label for p in report.periods] + ["Total"], [*line.figures, line.total], strict=True)
            for name, figures in named:
                lines.append(f"  {name:<26} {_priority(line.priority):<15} {figures.with_outcome:>5} with an outcome "
                             f"{figures.met:>5} met {figures.breached:>5} breached  {_share(figures.attainment):>8}")
    lines += ["", f"Breaches ({len(report.breaches)})"]
    for breach in report.breaches:
        stopped = f"{local(breach.stopped_at):%Y-%m-%d %H:%M}" if breach.stopped_at else "still open"
        lines.append(f"  {breach.reference:<20} {breach.metric:<15} {breach.priority or '':<12} "
                     f"due {local(breach.due_at):%Y-%m-%d %H:%M}  stopped {stopped:<16}  late {_hours(breach.late)}")
    return lines


def _priority(priority: str) -> str:
    return "All priorities" if priority == reports.ALL else priority


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _hours(amount: timedelta) -> str:
    minutes = int(amount.total_seconds() // 60)
    return f"{minutes // 60} h {minutes % 60:02d} min working"
