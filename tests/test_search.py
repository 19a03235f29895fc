"""Finding the work (issue 20): the calls list's search over the database's own full-text index (SQLite FTS5,
PostgreSQL tsvector), its filters, its sort orders and keyset pages, saved views, and the same in the API.

The large tests run on both stores against 10,000 tickets written straight into the store (as the engine
writes its rows) and indexed by the engine's own ``search_index.refresh``; the calls they look for go
through the real commands (logged, triaged, answered by the customer's mail). What the list returns is
checked against an oracle: the store's rows read back and filtered in Python."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

import pytest
from sqlalchemy import insert, select

from supportdesk.engine.conversation import seen
from supportdesk.engine.errors import InvalidInput
from supportdesk.engine.mail import inbound
from supportdesk.engine.people import saved_views
from supportdesk.engine.store import search_index
from supportdesk.engine.store.models import (
    Account,
    DiagramVersion,
    Message,
    SlaClock,
    Ticket,
    TicketSearch,
    WorkTask,
)
from supportdesk.engine.tickets import commands, queries
from supportdesk.engine.tickets.queries import TicketFilter
from supportdesk.engine.tickets.unit_of_work import UnitOfWork
from supportdesk.engine.working_time.clock import clock, local

from conftest import MONDAY_10AM, _create_database, _drop_database, _require_postgres, open_test_desk
from helpers import ANN, FIRST_RESPONSE, do, log_and_triage, log_call
from web_client import demo_users, desk_app, signed_in, text, token, use_quick_password_hashes

ROSSI = replace(ANN, contact_name="Mario Rossi", contact_email="mario.rossi@globex.example", account="Globex")
# A word no generated ticket holds: the customer writes it in their reply.
REPLY_WORD = "flibbertigibbet"
BULK = 10_000
SUPPORT = "support@supportdesk.local"


@pytest.fixture(autouse=True)
def quick_password_hashes(monkeypatch):
    use_quick_password_hashes(monkeypatch)


# --- 10,000 tickets in the store, fast ---------------------------------------------------------------------

FAMILY = ("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Müller", "Patel")
GIVEN = ("Ann", "Ben", "Cara", "Dev", "Eve", "Finn", "Gita", "Hugo", "Iris", "Jon", "Kemi")
WORDS = ("printer", "invoice", "export", "template", "login", "campaign", "report", "import", "bounce", "schedule")
ACCOUNTS = tuple(f"Account {n:02d}" for n in range(20))
STATUSES = ("open", "open", "delayed", "resolved", "closed")
PRIORITIES = ("High", "Medium", "Low", None)
ROLES = ("first_line", "second_line", "third_line", "account_manager")


def bulk_tickets(desk, count: int, *, seed: int = 20) -> None:
    """``count`` tickets written straight into the store (ticket, work_task, sla_clock and message rows as
    the engine writes them), then indexed by the engine's ``search_index.refresh``. Moments tie in groups
    (seven tickets logged at each moment, deadlines shared) so that paging is tried on ties."""
    draw = random.Random(seed)
    with desk.db.write_engine.begin() as connection:
        version_id = connection.scalar(select(DiagramVersion.id))
        first_id = (connection.scalar(select(Ticket.id).order_by(Ticket.id.desc()).limit(1)) or 0) + 1
        tickets, tasks, clocks, messages = [], [], [], []
        for n in range(count):
            ticket_id = first_id + n
            logged = MONDAY_10AM - timedelta(days=60) + timedelta(minutes=60 * (n // 7))
            status, priority = draw.choice(STATUSES), draw.choice(PRIORITIES)
            running = status in ("open", "delayed") and draw.random() < 0.75
            due = MONDAY_10AM + timedelta(hours=draw.randrange(-10, 40)) if running else None
            tickets.append(
                {
                    "id": ticket_id,
                    "reference": f"SUP-2025-{n + 1:06d}",
                    "kind": "escalation" if draw.random() < 0.05 else "call",
                    "version_id": version_id,
                    "process_id": "support_call",
                    "status": status,
                    "channel": "phone",
                    "contact_name": f"{draw.choice(GIVEN)} {draw.choice(FAMILY)}",
                    "contact_email": f"person{n}@example.com",
                    "account": draw.choice(ACCOUNTS),
                    "summary": f"The {draw.choice(WORDS)} fails after the {draw.choice(WORDS)}",
                    "priority": priority,
                    "next_due_at": due,
                    "state": "",
                    "revision": 1,
                    "created_at": logged,
                    "updated_at": logged + timedelta(hours=draw.randrange(3)),
                }
            )
            if status in ("open", "delayed"):
                tasks.append(
                    {
                        "id": str(uuid.UUID(int=draw.getrandbits(128))),
                        "ticket_id": ticket_id,
                        "element_id": "Task_bulk",
                        "title": "Resolve call",
                        "role": draw.choice(ROLES),
                        "created_at": logged,
                        "claimed_by": "sam" if draw.random() < 0.1 else None,
                        "due_at": due,
                    }
                )
            if priority is not None:
                clocks.append(_clock(ticket_id, draw, priority, logged, due))
            if draw.random() < 0.35:
                messages.append(
                    {
                        "ticket_id": ticket_id,
                        "kind": "customer_mail",
                        "public": True,
                        "author": f"person{n}@example.com",
                        "body": f"Still no luck with the {draw.choice(WORDS)}; it says error {draw.randrange(97)}",
                        "created_at": logged + timedelta(minutes=5),
                    }
                )
        for table, rows in (
            (Ticket.__table__, tickets),
            (WorkTask.__table__, tasks),
            (SlaClock.__table__, clocks),
            (Message.__table__, messages),
        ):
            connection.execute(insert(table), rows)
        search_index.refresh(connection, [row["id"] for row in tickets])
        if connection.dialect.name == "postgresql":  # ids given explicitly: the sequences move past them
            connection.exec_driver_sql(
                "SELECT setval(pg_get_serial_sequence('ticket', 'id'), (SELECT max(id) FROM ticket))"
            )


def _clock(ticket_id: int, draw: random.Random, priority: str, logged: datetime, due: datetime | None) -> dict:
    """A resolution clock: running to ``due``, or stopped; one in five breached (recorded)."""
    breached = draw.random() < 0.2
    return {
        "ticket_id": ticket_id,
        "metric": "resolution",
        "priority": priority,
        "target": "8 working hours",
        "state": "running" if due is not None else "stopped",
        "started_at": logged,
        "due_at": due or logged + timedelta(hours=8),
        "stopped_at": None if due is not None else logged + timedelta(hours=2),
        "breached_at": MONDAY_10AM - timedelta(hours=draw.randrange(30)) if breached else None,
        "breached_priority": priority if breached else None,
        "budget_seconds": draw.choice((8, 16)) * 3600,
    }


def customer_reply(reference: str, body: str, sender: str = "Mario Rossi <mario.rossi@globex.example>") -> bytes:
    """The customer's answer by mail, the Call Reference in its subject."""
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, SUPPORT, f"Re: [{reference}] Your call"
    message["Date"] = format_datetime(MONDAY_10AM)
    message["Message-ID"] = make_msgid(domain="globex.example")
    message.set_content(body)
    return message.as_bytes()


@dataclass
class Large:
    desk: object
    rossi: str  # the call whose customer replied with REPLY_WORD
    others: list[str] = field(default_factory=list)  # calls logged through the commands beside it


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def large(request, tmp_path_factory):
    """A store with 10,000 tickets written fast and a few calls through the real commands."""
    if request.param == "postgres":
        _require_postgres()
        url = _create_database("supportdesk_test")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('search') / 'large.sqlite'}"
    clock.set(MONDAY_10AM)
    with pytest.MonkeyPatch.context() as patch:
        use_quick_password_hashes(patch)
        desk = open_test_desk(url)
        commands.deploy(desk, actor="test")
        demo_users(desk)
    try:
        bulk_tickets(desk, BULK)
        rossi = log_and_triage(desk, details=ROSSI)
        do(desk, rossi, "First level response", FIRST_RESPONSE)
        receipt = inbound.receive(
            desk,
            customer_reply(rossi, f"The {REPLY_WORD} setting was off; the import runs now.\n"),
            source="test",
            envelope_from="mario.rossi@globex.example",
        )
        assert (receipt.outcome, receipt.reference) == ("added", rossi)
        others = [log_call(desk), log_call(desk, details=replace(ANN, account="Globex"))]
        yield Large(desk, rossi, others)
    finally:
        desk.close()
        clock.use_system_time()
        if request.param == "postgres":
            _drop_database(url)


# --- the oracle: the store's rows, filtered in Python -------------------------------------------------------


@dataclass
class Known:
    ticket_id: int
    reference: str
    kind: str
    status: str
    priority: str | None
    account: str
    created_at: datetime
    updated_at: datetime
    next_due_at: datetime | None
    words: set[str]
    roles: set[str]
    claimants: set[str]
    breached: bool
    breached_today: bool
    at_risk: bool
    breached_under: str | None  # the priority the board counts its breach under (C14)
    waiting_since: datetime | None  # when its oldest open task opened


def known_tickets(desk) -> list[Known]:
    now = clock.now()
    midnight = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # London is on GMT in November
    with desk.db.reading() as session:
        tickets = session.execute(
            select(
                Ticket.id,
                Ticket.reference,
                Ticket.kind,
                Ticket.status,
                Ticket.priority,
                Ticket.account,
                Ticket.created_at,
                Ticket.updated_at,
                Ticket.next_due_at,
                Ticket.contact_name,
                Ticket.contact_email,
                Ticket.summary,
            )
        ).all()
        texts = {
            row.id: [row.reference, row.contact_name, row.contact_email, row.account, row.summary] for row in tickets
        }
        for ticket_id, body, author, kind in session.execute(
            select(Message.ticket_id, Message.body, Message.author, Message.kind)
        ):
            texts[ticket_id] += [body, author] if kind in ("customer_mail", "portal_message") else [body]
        roles, claimants, waiting_since = {}, {}, {}
        for ticket_id, role, claimant, opened in session.execute(
            select(WorkTask.ticket_id, WorkTask.role, WorkTask.claimed_by, WorkTask.created_at)
        ):
            roles.setdefault(ticket_id, set()).add(role)
            waiting_since[ticket_id] = min(opened, waiting_since.get(ticket_id, opened))
            if claimant:
                claimants.setdefault(ticket_id, set()).add(claimant)
        own_priority = {row.id: row.priority for row in tickets}
        breached, breached_today, at_risk, under = set(), set(), set(), {}
        share = desk.sla_policy.at_risk_share
        for (
            ticket_id,
            metric,
            priority,
            state,
            due_at,
            stopped_at,
            breached_at,
            breached_priority,
            seconds,
        ) in session.execute(
            select(
                SlaClock.ticket_id,
                SlaClock.metric,
                SlaClock.priority,
                SlaClock.state,
                SlaClock.due_at,
                SlaClock.stopped_at,
                SlaClock.breached_at,
                SlaClock.breached_priority,
                SlaClock.budget_seconds,
            )
        ):
            budget = timedelta(seconds=seconds or 0)
            late = bool(due_at) and (stopped_at > due_at if state == "stopped" and stopped_at else due_at < now)
            if breached_at is not None or late:
                breached.add(ticket_id)
                if (breached_at or due_at) >= midnight:
                    breached_today.add(ticket_id)
                if metric == "resolution":  # the board: a resolution breach's priority then, else the call's
                    under[ticket_id] = breached_priority or priority or own_priority[ticket_id]
                else:
                    under.setdefault(ticket_id, own_priority[ticket_id])
            elif state == "running" and due_at > now and desk.calendar.between(now, due_at) <= budget * share:
                at_risk.add(ticket_id)
    return [
        Known(
            row.id,
            row.reference,
            row.kind,
            row.status,
            row.priority,
            row.account,
            row.created_at,
            row.updated_at,
            row.next_due_at,
            {word for text in texts[row.id] for word in search_index.words(text or "")},
            roles.get(row.id, set()),
            claimants.get(row.id, set()),
            row.id in breached,
            row.id in breached_today,
            row.id in at_risk,
            under.get(row.id),
            waiting_since.get(row.id),
        )
        for row in tickets
    ]


def oracle(known: list[Known], filters: TicketFilter) -> list[int]:
    """The ticket ids ``filters`` lets through, in its order (ties by id), computed in Python."""
    words = search_index.words(filters.search)

    assert filters.breached_on in (None, date(2026, 11, 23)), "the oracle knows the frozen clock's day only"
    none = queries.NONE

    def holds(ticket: Known) -> bool:
        return (
            all(any(w == s or (len(s) > 1 and w.startswith(s)) for w in ticket.words) for s in words)
            and all(getattr(filters, name) in (None, getattr(ticket, name)) for name in ("kind", "account"))
            and (not filters.statuses or ticket.status in filters.statuses)
            and filters.priority in (None, ticket.priority or none)
            and (filters.role is None or (filters.role in ticket.roles if filters.role != none else not ticket.roles))
            and (filters.claimed_by is None or filters.claimed_by in ticket.claimants)
            and (filters.breached is None or filters.breached == ticket.breached)
            and (filters.breached_on is None or ticket.breached_today)
            and (
                filters.breached_priority is None
                or (ticket.breached and filters.breached_priority == (ticket.breached_under or none))
            )
            and (not filters.at_risk or ticket.at_risk)
            and (not filters.waiting_on_customer or ticket.status == "delayed")
            and (filters.logged_from is None or ticket.created_at >= filters.logged_from)
            and (filters.logged_before is None or ticket.created_at < filters.logged_before)
            and (filters.updated_from is None or ticket.updated_at >= filters.updated_from)
            and (filters.updated_before is None or ticket.updated_at < filters.updated_before)
        )

    found = [ticket for ticket in known if holds(ticket)]
    key = {
        "newest": lambda t: (-t.created_at.timestamp(), -t.ticket_id),
        "oldest": lambda t: (t.created_at, t.ticket_id),
        "deadline": lambda t: (t.next_due_at is None, t.next_due_at or t.created_at, t.ticket_id),
        "updated": lambda t: (-t.updated_at.timestamp(), -t.ticket_id),
        "changes": lambda t: (t.updated_at, t.ticket_id),
        "waiting": lambda t: (t.waiting_since is None, t.waiting_since or t.created_at, t.ticket_id),
    }[filters.sort]
    return [ticket.ticket_id for ticket in sorted(found, key=key)]


def every_page(desk, filters: TicketFilter, limit: int, viewer: str | None = None) -> tuple[list[int], int]:
    """Follow next_cursor from the first page to the last: the ticket ids in order, and how many pages."""
    ids, cursor, pages = [], None, 0
    while True:
        page = queries.find_tickets(desk, filters, viewer=viewer, cursor=cursor, limit=limit)
        ids += [row.ticket_id for row in page.rows]
        pages += 1
        cursor = page.next_cursor
        if cursor is None:
            return ids, pages
        assert pages <= BULK, "the pages never end"


def references(page: queries.TicketPage) -> list[str]:
    return [row.reference for row in page.rows]


# --- searching among 10,000 -------------------------------------------------------------------------------


def test_C25_a_word_from_the_customers_reply_finds_its_call_among_10000_tickets(large, frozen_clock):
    page = queries.find_tickets(large.desk, TicketFilter(search=REPLY_WORD))
    assert references(page) == [large.rossi]
    assert references(queries.find_tickets(large.desk, TicketFilter(search=REPLY_WORD[:6]))) == [large.rossi]
    # ...and with other words of the call: all of them must be in it, wherever they are.
    assert references(queries.find_tickets(large.desk, TicketFilter(search=f"rossi {REPLY_WORD} globex"))) == [
        large.rossi
    ]
    assert references(queries.find_tickets(large.desk, TicketFilter(search=f"rossi {REPLY_WORD} printer"))) == []


def test_a_search_of_a_name_finds_the_call_of_that_contact_and_a_reference_finds_its_ticket_exactly(
    large, frozen_clock
):
    assert references(queries.find_tickets(large.desk, TicketFilter(search="Rossi"))) == [large.rossi]
    assert references(queries.find_tickets(large.desk, TicketFilter(search="mario.rossi@globex.example"))) == [
        large.rossi
    ]
    number = large.rossi.rsplit("-", 1)[1].lstrip("0")
    # C03: the reference as typed, in any case, zeros or not; it finds that ticket and no other.
    for typed in (large.rossi, large.rossi.lower(), f"SUP-2026-{number}"):
        assert references(queries.find_tickets(large.desk, TicketFilter(search=typed))) == [large.rossi]
    assert references(queries.find_tickets(large.desk, TicketFilter(search="SUP-2025-000777"))) == ["SUP-2025-000777"]


def test_words_match_by_their_start_without_case_or_accents_on_either_store(large, frozen_clock):
    known = known_tickets(large.desk)
    for search in ("mull", "MÜLLER", "muller", "invoic", "printer export", "Account 07", "err 5"):
        filters = TicketFilter(search=search, sort="oldest")
        ids, _ = every_page(large.desk, filters, limit=200)
        assert ids == oracle(known, filters), search
        assert ids, f"{search!r} should find something in the generated tickets"


@pytest.mark.parametrize("crossover", [None, 0, 10**9], ids=["as-planned", "always-walked", "always-read-first"])
def test_the_filters_combine_each_narrowing_what_the_others_let_through(large, frozen_clock, monkeypatch, crossover):
    """Both ways of reading a filter that may match few or many (read its matches first, or ask each ticket
    as the sort order is walked) give the same tickets in the same order."""
    if crossover is not None:
        monkeypatch.setattr(queries._Plan, "few", property(lambda _plan: crossover))
    known = known_tickets(large.desk)
    monday = datetime(2026, 11, 1, tzinfo=UTC)
    combinations = [
        TicketFilter(status="open", priority="High"),
        TicketFilter(status="open", priority="High", role="second_line"),
        TicketFilter(status="delayed", account="Account 03", sort="deadline"),
        TicketFilter(waiting_on_customer=True, role="first_line", sort="changes"),
        TicketFilter(claimed_by="sam", sort="deadline"),
        TicketFilter(claimed_by="sam", priority="Low", kind="call", sort="updated"),
        TicketFilter(kind="escalation", sort="oldest"),
        TicketFilter(breached=True, status="open", priority="Medium"),
        TicketFilter(breached_on=date(2026, 11, 23), role="second_line", sort="oldest"),
        TicketFilter(at_risk=True, sort="deadline"),
        TicketFilter(status=("open", "delayed"), breached=True, breached_priority="High"),
        TicketFilter(status=("open", "delayed"), at_risk=True, priority="Low", sort="waiting"),
        TicketFilter(priority="none", role="none", sort="changes"),
        TicketFilter(status="open", sort="waiting"),
        TicketFilter(breached=False, status="open", logged_from=monday),
        TicketFilter(search="invoice", status="open", role="third_line", updated_before=monday),
        TicketFilter(
            search="report",
            priority="High",
            logged_from=monday - timedelta(days=20),
            logged_before=monday,
            sort="newest",
        ),
    ]
    for filters in combinations:
        ids, _ = every_page(large.desk, filters, limit=200)
        expected = oracle(known, filters)
        assert ids == expected, filters
        assert 0 < len(expected) < len(known), f"{filters} should narrow the list, not empty it"
    every_one = TicketFilter(status="open", priority="High", role="second_line", account="Account 05", breached=True)
    assert every_page(large.desk, every_one, limit=200)[0] == oracle(known, every_one)


@pytest.mark.parametrize("sort", list(queries.SORTS))
def test_paging_visits_every_ticket_exactly_once_in_order_even_where_the_sort_key_ties(large, frozen_clock, sort):
    known = known_tickets(large.desk)
    ids, pages = every_page(large.desk, TicketFilter(sort=sort), limit=97)  # pages end inside groups of ties
    assert len(ids) == len(set(ids)) == len(known) == BULK + 3
    assert ids == oracle(known, TicketFilter(sort=sort))
    assert pages == -(-len(known) // 97)


def test_paging_a_filtered_list_visits_each_match_once(large, frozen_clock):
    known = known_tickets(large.desk)
    filters = TicketFilter(search="campaign", status="open", sort="deadline")  # deadlines and no deadline
    ids, pages = every_page(large.desk, filters, limit=13)
    assert ids == oracle(known, filters)
    assert pages > 10
    assert len(ids) == len(set(ids))


def test_C14_at_risk_now_is_the_ticket_pages_at_risk(large, frozen_clock):
    """C14: a running clock with a quarter or less of its target's working time left, not breached."""
    desk = large.desk
    now, share = clock.now(), desk.sla_policy.at_risk_share
    expected = set()
    with desk.db.reading() as session:
        for ticket_id, due_at, budget in session.execute(
            select(SlaClock.ticket_id, SlaClock.due_at, SlaClock.budget_seconds).where(
                SlaClock.state == "running", SlaClock.breached_at.is_(None), SlaClock.due_at > now
            )
        ):
            if desk.calendar.between(now, due_at) <= timedelta(seconds=budget) * share:
                expected.add(ticket_id)
    ids, _ = every_page(desk, TicketFilter(at_risk=True), limit=200)
    assert set(ids) == expected
    assert 0 < len(expected) < BULK


def test_C14_breached_today_counts_breaches_since_london_midnight(large, frozen_clock):
    midnight = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)  # London is on GMT in November
    expected = set()
    with large.desk.db.reading() as session:
        for ticket_id, breached_at, due_at, state in session.execute(
            select(SlaClock.ticket_id, SlaClock.breached_at, SlaClock.due_at, SlaClock.state)
        ):
            moment = breached_at or (due_at if state != "stopped" and due_at < clock.now() else None)
            if moment is not None and moment >= midnight:
                expected.add(ticket_id)
    ids, _ = every_page(large.desk, TicketFilter(breached_on=date(2026, 11, 23)), limit=200)
    assert set(ids) == expected
    assert expected


def test_customer_replied_is_per_person_until_they_open_the_call(large, frozen_clock):
    replied = TicketFilter(customer_replied=True, sort="oldest")
    sams, _ = every_page(large.desk, replied, limit=200, viewer="sam")
    with large.desk.db.reading() as session:
        rossi_id = session.scalar(select(Ticket.id).where(Ticket.reference == large.rossi))
        customers = set(session.scalars(select(Message.ticket_id).where(Message.kind == "customer_mail")))
    assert rossi_id in sams
    assert set(sams) == customers  # nobody at the desk has opened any of them yet
    seen.mark_seen(large.desk, large.rossi, "tara")
    taras, _ = every_page(large.desk, replied, limit=200, viewer="tara")
    assert rossi_id not in taras
    assert set(taras) == customers - {rossi_id}
    with pytest.raises(InvalidInput) as refused:
        queries.find_tickets(large.desk, replied)
    assert set(refused.value.fields) == {"customer_replied"}


# --- the index kept in the command's transaction ---------------------------------------------------------


def found(desk, search: str) -> list[str]:
    return references(queries.find_tickets(desk, TicketFilter(search=search)))


def test_C25_every_kind_of_conversation_entry_is_found_once_its_command_commits(desk, frozen_clock):
    from supportdesk.engine.conversation import commands as conversation

    reference = log_and_triage(desk, details=ROSSI)
    conversation.add_note(desk, conversation.Note(reference, "Checked the quokka logs"), "sam")
    conversation.log_call_back(desk, conversation.CallBack(reference, "Talked through the wombat export"), "sam")
    inbound.receive(
        desk,
        customer_reply(reference, "The numbat import still fails.\n"),
        source="test",
        envelope_from="mario.rossi@globex.example",
    )
    for word in ("quokka", "wombat", "numbat", "mario", "rossi", "globex"):
        assert found(desk, word) == [reference], word


def test_a_command_that_fails_leaves_the_index_as_it_was(desk, frozen_clock):
    reference = log_call(desk)
    with desk.db.reading() as session:
        ticket_id = session.scalar(select(Ticket.id).where(Ticket.reference == reference))

    def failing_command() -> None:
        with UnitOfWork(desk, "sam") as uow:
            note = Message(ticket_id=ticket_id, kind="note", public=False, author="sam", body="axolotl")
            note.created_at = clock.now()
            uow.session.add(note)
            uow.session.flush()
            raise RuntimeError("the command fails after writing its entry")

    with pytest.raises(RuntimeError):
        failing_command()
    assert found(desk, "axolotl") == []
    with desk.db.reading() as session:
        assert "axolotl" not in session.scalar(select(TicketSearch.words).where(TicketSearch.ticket_id == ticket_id))


def test_changed_details_are_found_by_their_new_words_and_no_longer_by_the_old(desk, frozen_clock):
    reference = log_call(desk)
    with UnitOfWork(desk, "alice") as uow:  # no command changes a call's details yet: any that does is watched
        uow.ticket = ticket = uow.session.scalar(select(Ticket).where(Ticket.reference == reference))
        ticket.contact_name, ticket.account = "Zelda Quist", "Hyrule Ltd"
    assert found(desk, "zelda hyrule") == [reference]
    assert found(desk, "acme") == []


def test_the_migration_indexes_the_calls_already_in_the_store(any_store_url, frozen_clock):
    from alembic import command

    from supportdesk.engine.desk import Desk
    from supportdesk.engine.store import schema
    from supportdesk.handlers import REGISTRY

    desk = open_test_desk(any_store_url)
    commands.deploy(desk, actor="test")
    reference = log_and_triage(desk, details=ROSSI)
    with desk.db.engine.begin() as connection:  # back to before search: no index
        config = schema._alembic_config(desk.db)
        config.attributes["connection"] = connection
        command.downgrade(config, "0013")
    desk.close()
    again = Desk(desk.settings, REGISTRY)
    again.upgrade_schema()
    assert found(again, "rossi") == [reference]
    assert found(again, "unable load") == [reference]
    again.close()


# --- refusals ----------------------------------------------------------------------------------------------


def test_a_list_asked_for_wrongly_is_refused_with_each_field_named(desk, frozen_clock):
    with pytest.raises(InvalidInput) as refused:
        queries.find_tickets(
            desk,
            TicketFilter(
                search="!!!",
                status="lost",
                role="admin",
                breached_priority="Urgent",
                sort="random",
                logged_from=MONDAY_10AM,
                logged_before=MONDAY_10AM - timedelta(days=1),
            ),
        )
    assert set(refused.value.fields) == {"search", "status", "role", "breached_priority", "sort", "logged_before"}
    for cursor in ("not a cursor", "W10", "WyJuZXdlc3QiLCJ4IiwxXQ", "WyJuZXdlc3QiLG51bGwsMV0"):
        with pytest.raises(InvalidInput) as refused:
            queries.find_tickets(desk, TicketFilter(), cursor=cursor)
        assert refused.value.fields == {"cursor": queries.CURSOR_HELP}
    log_call(desk), log_call(desk)
    newest = queries.find_tickets(desk, TicketFilter(), limit=1).next_cursor
    with pytest.raises(InvalidInput, match="another order"):
        queries.find_tickets(desk, TicketFilter(sort="oldest"), cursor=newest)


# --- the calls page -------------------------------------------------------------------------------------------


@pytest.fixture
def browser(desk):
    return desk_app(desk).test_client()


def listed(page) -> list[str]:
    """The Call References a calls page lists, in order."""
    body = text(page)
    table = body[body.index('<table class="calls">') :] if '<table class="calls">' in body else ""
    return [part.split('"', 1)[0] for part in table.split('<a href="/calls/')[1:]]


def test_the_calls_page_searches_one_box_and_combines_its_filters(browser, desk, frozen_clock):
    ann, rossi = log_and_triage(desk), log_and_triage(desk, details=ROSSI, priority="High", override_reason="Demo")
    other = log_call(desk, details=replace(ANN, account="Globex", contact_name="Gina Globe"))
    signed_in(browser, "sam")
    assert listed(browser.get("/calls")) == [other, rossi, ann]  # newest first
    assert listed(browser.get("/calls?q=Rossi")) == [rossi]
    assert listed(browser.get("/calls?q=globex")) == [other, rossi]
    assert listed(browser.get("/calls?q=globex&priority=High")) == [rossi]
    assert listed(browser.get("/calls?account=Globex&sort=oldest")) == [rossi, other]
    assert listed(browser.get(f"/calls?q={ann.lower()}")) == [ann]
    page = text(browser.get("/calls?q=globex&priority=High"))
    assert 'value="globex"' in page
    assert '<option value="High" selected>High</option>' in page
    nothing = text(browser.get("/calls?q=zebra"))
    assert "No calls match." in nothing


def test_the_calls_page_names_each_bad_filter_beside_its_field_with_a_400(browser, desk, frozen_clock):
    signed_in(browser, "sam")
    response = browser.get("/calls?status=lost&logged_from=23/11/2026&waiting=maybe")
    assert response.status_code == 400
    page = text(response)
    assert "Choose one of: open, delayed, resolved, closed" in page
    assert "Enter a date like 2026-11-23" in page
    assert "Tick the box, or leave it empty" in page
    assert browser.get("/calls?after=garbage").status_code == 400
    assert queries.CURSOR_HELP in text(browser.get("/calls?after=garbage"))


def test_the_calls_page_pages_by_50_with_a_next_link_that_keeps_the_filters(browser, desk, frozen_clock):
    bulk_tickets(desk, 300)
    signed_in(browser, "sam")
    listed_refs, bodies, address = [], [], "/calls?status=open&sort=oldest"
    while address:
        page = browser.get(address)
        assert page.status_code == 200
        listed_refs += listed(page)
        bodies.append(text(page))
        address = None
        if 'rel="next"' in bodies[-1]:
            address = bodies[-1].split('" rel="next"')[0].rsplit('href="', 1)[1].replace("&amp;", "&")
            assert address.startswith("/calls?status=open&sort=oldest&after=")
    with desk.db.reading() as session:
        open_ones = session.scalars(
            select(Ticket.reference).where(Ticket.status == "open").order_by(Ticket.created_at, Ticket.id)
        ).all()
    assert listed_refs == open_ones
    assert 100 < len(open_ones) <= 150
    assert [body.count('<a href="/calls/SUP-') for body in bodies] == [50, 50, len(open_ones) - 100]
    assert "First page" not in bodies[0]
    assert '<a href="/calls?status=open&amp;sort=oldest" rel="first">First page</a>' in bodies[1]


def test_C14_C22_the_built_in_views_are_offered_and_show_what_they_say(browser, desk, frozen_clock):
    mine, breached, waiting = log_and_triage(desk), log_and_triage(desk), log_and_triage(desk)
    do(desk, waiting, "First level response", {**FIRST_RESPONSE, "next_step": "second_line"})
    commands.deliver_message(
        desk, commands.DeliverMessage(waiting, "call_delayed", {"reason": "customer_absent"}), "sam"
    )
    task = next(t for t in queries.ticket_view(desk, mine).open_tasks)
    commands.claim_task(desk, commands.ClaimTask(task.task_id), "alice")
    frozen_clock.advance(timedelta(hours=2))  # every first response still running is breached now (C14)
    signed_in(browser, "alice")
    page = text(browser.get("/calls"))
    for name, query in (
        ("My open work", "claimed_by=me&amp;sort=deadline"),
        ("Breached today", "breached_on=today&amp;sort=deadline"),
        ("Waiting on the customer", "waiting=customer&amp;sort=changes"),
    ):
        assert f'<a href="/calls?{query}">{name}</a>' in page
    assert listed(browser.get("/calls?claimed_by=me&sort=deadline")) == [mine]
    assert listed(browser.get("/calls?waiting=customer&sort=changes")) == [waiting]
    assert set(listed(browser.get("/calls?breached_on=today&sort=deadline"))) == {mine, breached}
    assert set(listed(browser.get("/calls?breached_on=2026-11-23"))) == {mine, breached}
    assert listed(browser.get("/calls?breached_on=2026-11-22")) == []
    assert breached not in listed(browser.get("/calls?claimed_by=me"))


def save(browser, name: str, query: str, *, shared: bool = False):
    page = browser.get(f"/calls?{query}")
    data = {"csrf_token": token(page), "name": name, "query": query, **({"shared": "y"} if shared else {})}
    return browser.post("/calls/views", data=data)


def test_a_person_saves_filters_as_a_view_for_themselves_or_shared_and_deletes_their_own(desk, frozen_clock):
    use = desk_app(desk)
    rossi, ann = log_and_triage(desk, details=ROSSI), log_and_triage(desk)
    sam, tara = signed_in(use.test_client(), "sam"), signed_in(use.test_client(), "tara")
    saved = save(sam, "Globex calls", "q=globex&sort=oldest")
    assert saved.status_code == 302
    assert saved.headers["Location"] == "/calls?q=globex&sort=oldest"
    save(sam, "Open Acme", "account=Acme+Ltd&status=open", shared=True)
    sams = text(sam.get("/calls"))
    assert '<a href="/calls?q=globex&amp;sort=oldest">Globex calls</a>' in sams
    assert "Open Acme" in sams
    taras = text(tara.get("/calls"))
    assert "Globex calls" not in taras  # private
    assert '<a href="/calls?status=open&amp;account=Acme+Ltd">Open Acme</a>' in taras  # as the list writes it
    assert "(shared by Sam Second)" in taras
    assert listed(tara.get("/calls?account=Acme+Ltd&status=open")) == [ann]
    assert listed(sam.get("/calls?q=globex&sort=oldest")) == [rossi]
    views = {view.name: view for view in saved_views.views_for(desk, "sam")}
    shared_id, private_id = views["Open Acme"].view_id, views["Globex calls"].view_id
    page = tara.get("/calls")
    assert tara.post(f"/calls/views/{shared_id}/delete", data={"csrf_token": token(page)}).status_code == 403
    assert tara.post(f"/calls/views/{private_id}/delete", data={"csrf_token": token(page)}).status_code == 404
    assert sam.post(f"/calls/views/{private_id}/delete", data={"csrf_token": token(page)}).status_code == 400  # CSRF
    page = sam.get("/calls")
    assert sam.post(f"/calls/views/{private_id}/delete", data={"csrf_token": token(page)}).status_code == 302
    after = text(sam.get("/calls"))
    assert "View deleted: Globex calls" in after
    assert ">Globex calls</a>" not in after
    assert [view.name for view in saved_views.views_for(desk, "tara")] == ["Open Acme"]


def test_saving_a_view_again_under_its_name_changes_it_and_a_bad_one_is_refused(browser, desk, frozen_clock):
    signed_in(browser, "sam")
    save(browser, "Mine", "status=open")
    save(browser, "Mine", "status=delayed")
    assert [(v.name, v.query) for v in saved_views.views_for(desk, "sam")] == [("Mine", "status=delayed")]
    refused = save(browser, "  ", "status=open")
    assert "The view was not saved: Give the view a name" in text(browser.get(refused.headers["Location"]))
    refused = save(browser, "Lost", "status=lost")
    assert "The view was not saved: Choose one of: open, delayed, resolved, closed" in text(
        browser.get(refused.headers["Location"])
    )
    assert len(saved_views.views_for(desk, "sam")) == 1


def test_every_staff_role_may_search_and_nobody_signed_out(desk, frozen_clock):
    log_call(desk)
    use = desk_app(desk)
    for username in ("alice", "sam", "tara", "amy", "carl", "dev", "audrey", "admin"):
        assert signed_in(use.test_client(), username).get("/calls?q=acme").status_code == 200, username
    assert use.test_client().get("/calls?q=acme").status_code == 302
    assert use.test_client().post("/calls/views", data={"name": "x"}).status_code == 400  # no CSRF token


# --- the API --------------------------------------------------------------------------------------------------


def test_the_api_searches_and_filters_tickets_like_the_calls_page(desk, frozen_clock):
    from supportdesk.engine.people import api_tokens

    rossi = log_and_triage(desk, details=ROSSI, priority="High", override_reason="Demo")
    ann = log_and_triage(desk)
    app = desk_app(desk)
    bearer = {"Authorization": f"Bearer {api_tokens.create_token(desk, 'carl', 'tests', by=None)[1]}"}
    client = app.test_client()

    def items(**query) -> list[str]:
        response = client.get("/api/v1/tickets", query_string=query, headers=bearer)
        assert response.status_code == 200, response.get_json()
        return [item["reference"] for item in response.get_json()["items"]]

    assert items(q="rossi") == [rossi]
    assert items(q="acme", status="open") == [ann]
    assert items(q="unable", priority="High") == [rossi]
    assert items(sort="newest") == [ann, rossi]
    assert items(role="first_line", sort="oldest") == [rossi, ann]
    assert items(customer_replied="true") == []
    first = client.get("/api/v1/tickets", query_string={"sort": "newest", "limit": 1}, headers=bearer).get_json()
    second = client.get(
        "/api/v1/tickets", query_string={"sort": "newest", "limit": 1, "cursor": first["next_cursor"]}, headers=bearer
    ).get_json()
    assert [first["items"][0]["reference"], second["items"][0]["reference"]] == [ann, rossi]
    assert second["next_cursor"] is None
    refused = client.get("/api/v1/tickets", query_string={"q": "???", "breached_priority": "Urgent"}, headers=bearer)
    assert refused.status_code == 400
    assert set(refused.get_json()["errors"]) == {"breached_priority"}  # the schema answers first
    refused = client.get("/api/v1/tickets", query_string={"q": "???"}, headers=bearer)
    assert (refused.status_code, set(refused.get_json()["errors"])) == (400, {"q"})
    wrong_order = client.get(
        "/api/v1/tickets", query_string={"sort": "oldest", "cursor": first["next_cursor"]}, headers=bearer
    )
    assert (wrong_order.status_code, set(wrong_order.get_json()["errors"])) == (400, {"cursor"})
    spec = client.get("/api/v1/openapi.json").get_json()
    documented = {p["name"] for p in spec["paths"]["/api/v1/tickets"]["get"]["parameters"]}
    assert {"q", "role", "account_manager", "claimed_by", "at_risk", "breached_on", "sort", "cursor"} <= documented


def test_the_account_manager_filter_lists_the_calls_of_the_accounts_they_manage(desk, frozen_clock):
    log_call(desk, details=replace(ANN, account="Globex"))
    acme = log_call(desk)
    demo_users(desk)
    with desk.db.transaction() as session:
        session.add(
            Account(
                name="Acme Ltd", account_manager="amy", created_at=clock.now(), updated_at=clock.now(), updated_by="t"
            )
        )
    assert references(queries.find_tickets(desk, TicketFilter(account_manager="me"), viewer="amy")) == [acme]
    assert references(queries.find_tickets(desk, TicketFilter(account_manager="amy"))) == [acme]
    assert references(queries.find_tickets(desk, TicketFilter(account_manager="sam"))) == []


def test_tickets_logged_and_updated_between_london_days(browser, desk, frozen_clock):
    first = log_call(desk)  # Monday 23 November, 10:00
    frozen_clock.advance(timedelta(days=1, hours=14))  # Wednesday 00:00 London: the day after
    second = log_call(desk)
    signed_in(browser, "sam")
    assert listed(browser.get("/calls?logged_from=2026-11-23&logged_to=2026-11-24")) == [first]
    assert listed(browser.get("/calls?logged_from=2026-11-25")) == [second]
    assert listed(browser.get("/calls?updated_to=2026-11-23")) == [first]
    assert local(clock.now()).hour == 0


def test_C14_the_managers_board_links_are_lists_the_calls_page_reads(browser, desk, frozen_clock):
    """The board (web/board.py) links every figure to the calls list with these filters: each is read."""
    high = log_and_triage(desk, details=ROSSI, priority="High", override_reason="Demo")
    untriaged = log_call(desk)
    escalation = commands.start_escalation(desk, commands.StartEscalation("Nobody called", call_reference=high), "amy")
    frozen_clock.advance(timedelta(hours=2))  # both first responses breached (C14); the High call's under High
    signed_in(browser, "carl")
    open_calls = "status=open&status=delayed"
    assert set(listed(browser.get(f"/calls?{open_calls}&kind=call"))) == {high, untriaged}
    assert listed(browser.get(f"/calls?{open_calls}&priority=none&kind=call")) == [untriaged]
    assert listed(browser.get(f"/calls?{open_calls}&breached=true&breached_priority=High")) == [high]
    assert listed(browser.get(f"/calls?{open_calls}&breached=true&breached_priority=none")) == [untriaged]
    assert set(listed(browser.get("/calls?breached_on=2026-11-23&sort=deadline"))) == {high, untriaged}
    assert listed(browser.get(f"/calls?{open_calls}&at_risk=true")) == []
    assert listed(browser.get(f"/calls?kind=escalation&{open_calls}")) == [escalation]
    assert listed(browser.get("/calls?waiting=customer")) == []
    assert browser.get("/calls?status=open&sort=waiting").status_code == 200
    assert listed(browser.get("/calls?status=open&sort=waiting&kind=call")) == [high, untriaged]  # tasks tie: by id
    assert browser.get("/calls?role=none").status_code == 200
