"""What the desk accepts at its edges: the bounds every entry point (the API, the web desk, the CLI)
checks before any work is done, so that a value no person would send is refused with a message
instead of failing deep down (an integer the store cannot hold, a date past year 9999, a NUL byte
PostgreSQL cannot store, a report over ten thousand years).

Values, not requests: ``web.edges`` applies these to every HTTP request (body size, JSON depth,
NUL bytes anywhere), ``web.api.schemas`` to the API's fields, and the report's entry points call
``report_range`` instead of ``reports.requested_range``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.working_time.clock import clock, local

if TYPE_CHECKING:
    from supportdesk.engine.desk import Desk

# Text: no NUL (PostgreSQL cannot store it in a text column), no lone UTF-16 surrogate (not UTF-8 at
# all, so nothing can store or print it), and no field longer than this (a whole form's free text).
MAX_TEXT = 10_000
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

# Ids: what the id columns hold (INTEGER: 32 bits on PostgreSQL, which refuses a larger parameter
# for them); an offset this deep is no page.
MAX_ID = 2**31 - 1
MAX_OFFSET = 1_000_000

# Moments and dates: the desk's records start after 1970 and nothing is planned past 2199.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)  # excluded
FIRST_DATE, LAST_DATE = EARLIEST.date(), (LATEST - timedelta(days=1)).date()

# The SLA report covers at most ten years (as 120 months, the engine's largest report by month).
MAX_REPORT_YEARS = 10
MAX_REPORT_DAYS = MAX_REPORT_YEARS * 366

# A JSON body nests objects and lists at most this deep (the API's deepest body nests 2).
MAX_JSON_DEPTH = 32


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as text, or None when it can."""
    found = UNSTORABLE.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "Remove the NUL character (\\u0000): text cannot hold it"
    return f"Remove the lone surrogate (\\u{ord(found.group()):04x}): it is no character and cannot be stored"


def moment_problem(moment: datetime) -> str | None:
    """Why ``moment`` (aware) is out of the desk's range, or None."""
    try:
        in_range = EARLIEST <= moment.astimezone(UTC) < LATEST
    except (OverflowError, ValueError):  # 9999-12-31T23:59-23:59 has no UTC moment
        in_range = False
    return None if in_range else f"Enter a moment between {FIRST_DATE} and {LAST_DATE}"


def date_problem(day: date) -> str | None:
    return None if FIRST_DATE <= day <= LAST_DATE else f"Enter a date between {FIRST_DATE} and {LAST_DATE}"


def report_range(
    period: str | None, start: str | None, end: str | None, desk: Desk | None = None
) -> tuple[str, date, date]:
    """``reports.requested_range``, after refusing dates out of range and ranges over
    ``MAX_REPORT_YEARS``, before the engine lists the periods between them (which for year 1 to
    9999 took seconds and then overflowed). InvalidInput names ``from`` or ``to``. With ``desk``,
    a report asked for with no dates covers the periods that hold data (``reports.data_range``)."""
    problems: dict[str, str] = {}
    first = _report_date(start, "from", problems)
    last = _report_date(end, "to", problems)
    if not problems and (first or last):
        today = local(clock.now()).date()
        # The engine's defaults: up to today, from a few periods back (well inside the cap).
        if (last or today) - (first or min(last or today, today)) > timedelta(days=MAX_REPORT_DAYS):
            problems["from"] = f"A report covers at most {MAX_REPORT_YEARS} years: ask for a shorter range"
    if problems:
        raise InvalidInput("the report cannot cover those dates", problems)
    # Imported here: the report module is heavy, and only the report's entry points need it.
    from supportdesk.engine.oversight.reports import requested_range

    return requested_range(period, start, end, desk)


def _report_date(text: str | None, name: str, problems: dict[str, str]) -> date | None:
    """A date inside the desk's range, or None when empty or unreadable (the engine then says why)."""
    text = (text or "").strip()
    if not text:
        return None
    if text_problem(text):
        problems[name] = "Enter a date like 2026-11-23"
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        return None
    problem = date_problem(day)
    if problem:
        problems[name] = problem
    return day
