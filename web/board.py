"""The customer services manager's board (their landing page): the figures of ``engine.oversight.board``,
each a link to the view behind it: the calls list filtered to the calls it counts, the SLA report, a call."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, url_for

from supportdesk.engine.oversight import board as figures
from supportdesk.engine.oversight import forecast as foresight
from supportdesk.engine.oversight.reports import MONTH, NOT_TRIAGED
from supportdesk.engine.tickets import queries
from supportdesk.engine.working_time.clock import local

from . import current_desk
from .access import requires_roles

blueprint = Blueprint("board", __name__)

BOARD_READERS = ("customer_services_manager",)  # admin passes every check
MANAGER_TASKS = ["customer_services_manager"]  # the escalations' lane (C28-C30)

# The calls list's filters (web/tickets.py, GET /calls) the board links with, in one place. Repeated
# parameters are alternatives (status=open&status=delayed: either); "none" is no priority (not triaged
# yet) or no open task; booleans are "true".
OPEN_CALLS = {"status": ["open", "delayed"]}
NONE = "none"


def calls_url(**filters) -> str:
    return url_for("tickets.calls", **filters)


class Links:
    """The address behind each figure of the board."""

    def __init__(self, shown: figures.Board):
        self.shown = shown

    def open_calls(self, tier: str | None = None, priority: str | None = None) -> str:
        return calls_url(**OPEN_CALLS, **_tier(tier), **_priority(priority))

    def waiting_on_customer(self) -> str:
        return calls_url(waiting="customer")

    def breached(self, priority: str | None = None) -> str:
        # The priority a breach counts under is the one in force when it happened (C14), not the call's now.
        under = {"breached_priority": _filter_value(priority)} if priority else {}
        return calls_url(**OPEN_CALLS, breached="true", **under)

    def at_risk(self, priority: str | None = None) -> str:
        return calls_url(**OPEN_CALLS, at_risk="true", **_priority(priority))

    def breached_today(self) -> str:
        return calls_url(breached_on=self.shown.today.isoformat())

    def oldest_waiting(self) -> str:
        return calls_url(status="open", sort="waiting")

    def escalations_open(self) -> str:
        return calls_url(kind="escalation", **OPEN_CALLS)

    def month_report(self, section: str = "") -> str:
        return report_url(self.shown.month_start, self.shown.today, section)


def report_url(start: date, end: date, section: str = "") -> str:
    return url_for("reports.report", period=MONTH, _anchor=section or None, **{"from": start, "to": end})


def _filter_value(value: str) -> str:
    return NONE if value in (NOT_TRIAGED, figures.NO_TASK) else value


def _tier(tier: str | None) -> dict[str, str]:
    return {} if tier is None else {"role": _filter_value(tier)}


def _priority(priority: str | None) -> dict[str, str]:
    return {} if priority is None else {"priority": _filter_value(priority)}


@blueprint.route("/board")
@requires_roles(*BOARD_READERS)
def board():
    desk = current_desk()
    shown = figures.manager_board(desk)
    newest = foresight.latest(desk, MONTH)
    days = foresight.day_by_day(foresight.stored(desk, MONTH, newest.first_day)) if newest else []
    return render_template(
        "board.html",
        board=shown,
        forecast=newest,
        forecast_days=[(f"{local(day.made_at):%d %b}", day) for day in days],
        links=Links(shown),
        no_task=figures.NO_TASK,
        my_tasks=queries.count_open_tasks(desk, MANAGER_TASKS),
    )
