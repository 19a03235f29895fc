"""The calls list's query string: what the search form sends (and the manager's board links with), read into
the engine's ``TicketFilter``, and written back (the form's values, the next page's address, a saved view).

The page names its fields for people and the address bar (``q``, ``manager``, ``waiting``, dates as London
days, ``after`` for the cursor); the engine names them for code. Every value is checked here or by the
engine, and each problem is named by the page's own field, so the form shows it where it was typed.

    q                      words, names, addresses, a Call Reference
    status                 open, delayed, resolved, closed; repeated: any of them
    priority               High, Medium, Low, Enhancement, Advice, or none (not triaged)
    kind                   call, escalation, training
    role                   the open task's role (the tier), or none (no open task)
    account                the account's name, exactly
    manager, claimed_by    a username, or me
    breached               true (an SLA clock missed its target) or false
    breached_on            a London day (2026-11-23), or today
    breached_priority      the priority a breach counts under (C14), or none
    at_risk, waiting,      ticked (1, true, ...; waiting=customer too): at risk now, Delayed (waiting on
    replied                the customer), the customer replied since I looked
    logged_from/_to,       London days, both included
    updated_from/_to
    sort                   newest, oldest, deadline, updated, changes, waiting
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode

from werkzeug.datastructures import MultiDict

from supportdesk.engine.bounds import date_problem, text_problem
from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.tickets.queries import TicketFilter
from supportdesk.engine.working_time.clock import DISPLAY_ZONE, clock, local

# The page's fields, in the order the address lists them.
TEXT_FIELDS = ("q", "priority", "kind", "role", "account", "manager", "claimed_by", "breached_priority")
TICKED_FIELDS = ("at_risk", "waiting", "replied")
DATE_FIELDS = ("breached_on", "logged_from", "logged_to", "updated_from", "updated_to")
FIELDS = ("q", "status", *TEXT_FIELDS[1:], "breached", *TICKED_FIELDS, *DATE_FIELDS, "sort")
CURSOR = "after"
DEFAULT_SORT = "newest"
TODAY = "today"  # breached_on=today: whichever day it is when the list is opened (a view keeps it so)
TICKED = ("1", "on", "true", "yes", "customer")
# The engine's name of each field the page names otherwise.
ENGINE_NAMES = {
    "q": "search",
    "manager": "account_manager",
    "waiting": "waiting_on_customer",
    "replied": "customer_replied",
    "logged_to": "logged_before",
    "updated_to": "updated_before",
    CURSOR: "cursor",
}
PAGE_NAMES = {engine: page for page, engine in ENGINE_NAMES.items()}

# Built into every desk (C14, C22): the links above the search form.
BUILT_IN_VIEWS = (
    ("My open work", "claimed_by=me&sort=deadline"),
    ("Breached today", "breached_on=today&sort=deadline"),
    ("Waiting on the customer", "waiting=customer&sort=changes"),
)


class Args(Protocol):
    """A query string as Flask (or a parsed saved view) gives it: one value, or every value, of a name."""

    def get(self, name: str, default: Any = None) -> Any: ...

    def getlist(self, name: str) -> list[str]: ...


@dataclass(frozen=True)
class CallsQuery:
    """The list asked for: the filter, the cursor, the values as typed (to show back) and any problems."""

    filters: TicketFilter
    cursor: str | None
    values: dict[str, Any]  # a text per field; "status" a list
    errors: dict[str, str]

    @property
    def query_string(self) -> str:
        """The filters as an address's query (no cursor): for the next page's link and saved views."""
        pairs = []
        for name in FIELDS:
            value = self.values.get(name)
            pairs += [(name, status) for status in value] if name == "status" else [(name, value)] if value else []
        return urlencode([(name, value) for name, value in pairs if (name, value) != ("sort", DEFAULT_SORT)])

    @property
    def filtered(self) -> bool:
        return any(self.values.get(name) for name in FIELDS if name != "sort")

    @property
    def uses_more_than_search(self) -> bool:
        """A filter or an order beyond the search box is set (the page then shows the filters open)."""
        beyond = any(self.values.get(name) for name in FIELDS if name not in ("q", "sort"))
        return beyond or self.values.get("sort", "") not in ("", DEFAULT_SORT)

    def shown_date(self, name: str) -> str:
        """A date field's value for its date input (``today`` as the day it is)."""
        value = self.values.get(name, "")
        return local(clock.now()).date().isoformat() if value == TODAY else value


def read(args: Args) -> CallsQuery:
    """The page's query string as a filter; problems are named by the page's fields."""
    values: dict[str, Any] = {name: (args.get(name) or "").strip() for name in (*FIELDS, CURSOR) if name != "status"}
    values["status"] = [status.strip() for status in args.getlist("status") if status.strip()]
    texts = [values[name] for name in values if name != "status"] + values["status"]
    problems = [problem for text in texts if (problem := text_problem(text))]
    if problems:
        return CallsQuery(TicketFilter(), None, {"status": []}, {"q": problems[0]})
    errors: dict[str, str] = {}
    days = {name: _day(values[name], name, errors) for name in DATE_FIELDS}
    ticked = {name: _ticked(values[name], name, errors) for name in TICKED_FIELDS}
    filters = TicketFilter(
        search=values["q"],
        status=tuple(values["status"]),
        **{name: values[name] or None for name in ("priority", "kind", "role", "account", "breached_priority")},
        account_manager=values["manager"] or None,
        claimed_by=values["claimed_by"] or None,
        breached=_yes_or_no(values["breached"], "breached", errors),
        breached_on=days["breached_on"],
        at_risk=ticked["at_risk"],
        waiting_on_customer=ticked["waiting"],
        customer_replied=ticked["replied"],
        logged_from=_start_of(days["logged_from"]),
        logged_before=_start_of(days["logged_to"], then=1),
        updated_from=_start_of(days["updated_from"]),
        updated_before=_start_of(days["updated_to"], then=1),
        sort=values["sort"] or DEFAULT_SORT,
    )
    try:
        filters = filters.validated()
    except InvalidInput as exc:
        errors.update(page_errors(exc))
    return CallsQuery(filters, values[CURSOR] or None, values, errors)


def from_query_string(query: str) -> CallsQuery:
    """A saved view's query string, read as the page reads its address."""
    return read(MultiDict(parse_qsl(query.strip().lstrip("?"))))


def page_errors(exc: InvalidInput) -> dict[str, str]:
    """The engine's problems with a list, named by the page's fields."""
    return {PAGE_NAMES.get(name, name): message for name, message in exc.fields.items()} or {"q": str(exc)}


def _day(text: str, name: str, errors: dict[str, str]) -> date | None:
    """The London day ``text`` names (2026-11-23, or ``today``), or None when empty or wrong."""
    if not text:
        return None
    if text == TODAY:
        return local(clock.now()).date()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        errors[name] = "Enter a date like 2026-11-23"
        return None
    problem = date_problem(day)
    if problem:
        errors[name] = problem
        return None
    return day


def _start_of(day: date | None, *, then: int = 0) -> datetime | None:
    """London midnight of ``day`` (``then`` days on: an inclusive last day ends at the next midnight)."""
    if day is None:
        return None
    return datetime.combine(day + timedelta(days=then), time(), tzinfo=DISPLAY_ZONE)


def _ticked(text: str, name: str, errors: dict[str, str]) -> bool:
    if text and text.lower() not in TICKED:
        errors[name] = "Tick the box, or leave it empty"
    return text.lower() in TICKED


def _yes_or_no(text: str, name: str, errors: dict[str, str]) -> bool | None:
    if text.lower() in ("", "any"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    errors[name] = "Choose breached or not breached"
    return None
