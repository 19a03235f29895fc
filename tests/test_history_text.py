"""The history a person reads (C32) and the portal in the customer's words (C22, C25, C27).

Every event the engine can write has a sentence in the charter's words, with its details in
words: no ``None``, no raw dict, no UUID, no text cut short. The portal says what the desk is
waiting for, with no clause numbers or internal reasons, and shows the feedback given back.
"""

from __future__ import annotations

import ast
import re
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest

from supportdesk.engine.background.worker import Worker
from supportdesk.engine.conversation import commands as conversation
from supportdesk.engine.mail import inbound
from supportdesk.engine.people import portal
from supportdesk.engine.tickets import commands, queries
from supportdesk.web import create_app
from supportdesk.web.history_text import describe, has_sentence

from conftest import MONDAY_10AM
from helpers import ANN, FIRST_RESPONSE, RESOLVED_STRAIGHT_AWAY, do, log_and_triage
from web_client import desk_app, portal_link, signed_in, text, token

REPO = Path(__file__).resolve().parents[1]
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
CLAUSE_ID = re.compile(r"\bC\d\d\b")
HISTORY_TABLE = re.compile(r'<table class="history"[^>]*>.*?</table>', re.DOTALL)
NAMES = {"sam": "Sam Second", "alice": "Alice First"}
# C06: the software crashes three hours before a campaign (the frozen clock is Monday 10:00 GMT).
HIGH = replace(ANN, symptom="software_crashes", campaign_at=MONDAY_10AM + timedelta(hours=3))
TASK_ID = "26ab3da1-f903-4097-be15-8e16f992c7b4"


# --- every kind the engine writes has a sentence ------------------------------------------------------------


def kinds_written_by_the_engine() -> set[str]:
    """Every history kind the source can write: ``uow.record("kind", ...)``, ``history.append(kind="kind")``,
    the helpers that note an event on another ticket, the first event ``start`` records, and the SLA
    handlers' ``_record(uow, "started", ...)`` behind their ``f"sla_{kind}"``."""
    kinds: set[str] = set()
    for path in [*REPO.joinpath("engine").rglob("*.py"), *REPO.joinpath("handlers").rglob("*.py")]:
        kinds |= _kinds_in(ast.parse(path.read_text(encoding="utf-8")))
    return kinds


def _kinds_in(tree: ast.AST) -> set[str]:
    prefixes = {_fstring_prefix(call.args[0]) for call in _calls(tree, "record") if call.args}
    found = set()
    for call in ast.walk(tree):
        if not isinstance(call, ast.Call):
            continue
        name = _name(call.func)
        strings = [arg.value for arg in call.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        if name == "record" and call.args and isinstance(call.args[0], ast.Constant):
            found.add(call.args[0].value)
        elif name == "append":
            found |= {kw.value.value for kw in call.keywords if kw.arg == "kind" and isinstance(kw.value, ast.Constant)}
        elif name in ("_note_on_parent", "_note_on_ticket"):
            found |= set(strings)
        elif name == "start" and len(call.args) > 4 and isinstance(call.args[4], ast.Constant):
            found.add(call.args[4].value)
        elif name == "_record" and len(strings) == 1:
            found |= {prefix + strings[0] for prefix in prefixes if prefix}
    return found


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call) and _name(node.func) == name]


def _name(func: ast.expr) -> str:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def _fstring_prefix(node: ast.expr) -> str:
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return node.values[0].value
    return ""


def test_C32_the_source_parser_finds_the_kinds_it_should():
    found = kinds_written_by_the_engine()
    expected = {"call_logged", "escalation_raised", "escalation_started", "sla_started", "sla_breached", "mail_sent"}
    assert expected <= found
    assert {"timer_fired", "job_incident", "held_mail_discarded", "ticket_migrated", "portal_link_sent"} <= found
    # No longer written (the portal writes conversation entries now), but older tickets have it.
    assert "customer_information" not in found
    assert has_sentence("customer_information")


def test_C32_every_kind_the_engine_can_write_has_a_sentence_of_its_own():
    missing = sorted(kind for kind in kinds_written_by_the_engine() if not has_sentence(kind))
    assert missing == [], f"history kinds without a sentence in web/history_text.py: {missing}"


def test_C32_a_kind_from_a_future_version_reads_as_words_with_no_raw_values():
    said = describe(
        "widget_frobbed",
        "desk",
        {"task_id": TASK_ID, "settings": {"depth": None, "sizes": [1, 2]}, "when": "2026-11-23T10:00:00+00:00"},
    )
    assert said.text == "The desk recorded: Widget frobbed"
    assert said.details == [("Settings", "Sizes: 1, 2"), ("When", "23 Nov 2026, 10:00")]
    assert not _raw_values(said.text + str(said.details))


# --- the sentences, in the charter's words -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "actor", "payload", "sentence"),
    [
        (
            "call_delayed",
            "sam",
            {
                "reason": "information_awaited",
                "why": "crucial information requested from the customer has not arrived (C22)",
                "note": "waiting for the customer's log files",
            },
            "Sam Second set the call Delayed: waiting for the customer's log files",
        ),
        (
            "call_delayed",
            "sam",
            {"reason": "customer_absent", "why": "the customer is absent (C22)"},
            "Sam Second set the call Delayed: the customer is absent (C22)",
        ),
        (
            "task_completed",
            "alice",
            {
                "task": "First level response",
                "element": "Task_first_level_response",
                "task_id": TASK_ID,
                "data": {**FIRST_RESPONSE, "resolution": None},
            },
            "Alice First completed “First level response”: call-back by phone; passed the call to second line",
        ),
        (
            "priority_set",
            "alice",
            {"priority": "High", "suggested": "Low", "override_reason": "Campaign goes out at noon"},
            "Alice First set the priority High rather than the suggested Low: Campaign goes out at noon",
        ),
        ("priority_set", "alice", {"priority": "Enhancement", "suggested": "Enhancement"}, None),
        (
            "priority_regraded",
            "sam",
            {"from": "High", "to": "Medium", "reason": "the customer is absent (C22)"},
            "Sam Second re-graded the call from High to Medium: the customer is absent (C22)",
        ),
        (
            "sla_paused",
            "desk",
            {"clock": "resolution", "reason": "the customer is absent (C22)"},
            "The desk paused the resolution clock: the customer is absent (C22)",
        ),
        (
            "sla_breached",
            "desk",
            {
                "clock": "resolution",
                "priority": "High",
                "target": "8 working hours",
                "due": "2026-11-24T10:00:00+00:00",
            },
            "The desk recorded a breach of the resolution clock (High, 8 working hours): "
            "it was due by 24 Nov 2026, 10:00",
        ),
        (
            "sla_started",
            "desk",
            {
                "clock": "first_response",
                "priority": None,
                "target": "1 working hour",
                "due": "2026-07-01T10:00:00+01:00",
            },
            "The desk started the first level response clock (1 working hour), due by 01 Jul 2026, 10:00",
        ),
        (
            "call_reopened",
            "desk",
            {"priority": "Medium"},
            "The desk re-opened the call: work can progress, at priority Medium",
        ),
        (
            "reference_assigned",
            "desk",
            {"reference": "SUP-2026-000123"},
            "The desk assigned the Call Reference SUP-2026-000123",
        ),
        (
            "handed_over",
            "sam",
            {"step": "ask_third_line", "what": "asked third line for advice", "reason": "Known importer bug?"},
            "Sam Second asked third line for advice: Known importer bug?",
        ),
        (
            "feedback_received",
            "customer:ann@example.com",
            {"rating": 4, "comment": "Quick, thanks"},
            "The customer (ann@example.com) gave feedback, rating the call 4 out of 5: Quick, thanks",
        ),
        (
            "ticket_migrated",
            "admin",
            {"from": 1, "to": 2, "process": "support_call", "by": "admin", "changed": {"added": []}, "timers": []},
            "admin moved the ticket from diagram version 1 to version 2",
        ),
        (
            "task_released",
            "admin",
            {"task": "First level response", "task_id": TASK_ID, "was_claimed_by": "alice"},
            "admin released the task “First level response”",
        ),
    ],
)
def test_C05_C12_C14_C22_C23_C24_C32_each_event_is_a_sentence_in_the_charters_words(kind, actor, payload, sentence):
    said = describe(kind, actor, payload, NAMES)
    if sentence is not None:
        assert said.text == sentence
    assert not _raw_values(said.text + " " + " ".join(f"{name} {value}" for name, value in said.details))


def test_C05_priorities_are_named_as_the_charter_names_them():
    said = describe("priority_set", "alice", {"priority": "Enhancement", "suggested": "Enhancement"}, NAMES)
    assert said.text == "Alice First set the priority Request for Product Enhancement, as suggested"


def test_C32_details_are_words_and_long_text_is_whole():
    resolution = "Re-sent the invitation. " * 20
    said = describe(
        "task_completed",
        "sam",
        {
            "task": "Resolve call (second line)",
            "task_id": TASK_ID,
            "data": {"next_step": "resolved", "resolution": resolution},
        },
        NAMES,
    )
    assert said.text == "Sam Second completed “Resolve call (second line)”: resolved"
    assert said.details == [("Next", "Resolved"), ("Resolution", resolution)]
    assert describe("call_resolved", "sam", {"resolution": resolution}).details == [("Resolution", resolution)]
    released = describe(
        "task_released", "admin", {"task": "Triage", "task_id": TASK_ID, "was_claimed_by": "alice"}, NAMES
    )
    assert released.details == [("It was claimed by", "Alice First")]


def test_C19_C28_a_sentence_names_the_linked_ticket_where_the_page_links_it():
    said = describe("escalation_started", "amy", {"escalation": "ESC-2026-000001"}, {"amy": "Amy Account"})
    assert said.text == "Amy Account started the escalation ESC-2026-000001"
    assert said.around_link == ("Amy Account started the escalation ", "ESC-2026-000001", "")


# --- every ticket page of a charter scenario -----------------------------------------------------------------


def customer_mail(reference: str, body: str) -> bytes:
    message = EmailMessage()
    message["From"], message["To"] = "Ann Example <ann@example.com>", "support@supportdesk.local"
    message["Subject"], message["Date"] = f"RE: {reference} the log files", format_datetime(MONDAY_10AM)
    message["Message-ID"] = make_msgid(domain="example.com")
    message.set_content(body)
    message.add_attachment(b"line 1\n", maintype="text", subtype="plain", filename="import.log")
    return message.as_bytes()


def play_the_charter(desk, frozen_clock) -> list[str]:
    """A High call through most of the charter (C05-C30), and an enhancement and an advice call."""
    call = log_and_triage(desk, details=HIGH)
    task = queries.ticket_view(desk, call).open_tasks[0].task_id
    commands.claim_task(desk, commands.ClaimTask(task), "alice")
    commands.release_task(desk, commands.ReleaseTask(task), "alice")
    frozen_clock.advance(timedelta(minutes=90))
    Worker(desk).run_once()  # C12, C14: the first level response is late
    do(desk, call, "First level response", FIRST_RESPONSE, "alice")
    commands.deliver_message(
        desk,
        commands.DeliverMessage(
            call, "call_delayed", {"reason": "information_awaited", "note": "the import log of Monday"}
        ),
        "sam",
    )
    inbound.receive(desk, customer_mail(call, "Here it is."), source="test", envelope_from="ann@example.com")
    conversation.add_portal_message(desk, conversation.PortalMessage(call, ANN.contact_email, "It fails at row 40"))
    do(desk, call, "Resolve call (second line)", {"next_step": "ask_third_line", "handover_reason": "Known?"}, "sam")
    do(desk, call, "Advise second line", {"advice": "Yes: strip the BOM"}, "tara")
    training = commands.record_training_need(
        desk, commands.RecordTrainingNeed(call, "new_user", "Two new marketers"), "alice"
    )
    escalation = commands.start_escalation(
        desk, commands.StartEscalation("Nobody called me back", call_reference=call), "amy"
    )
    do(desk, call, "Resolve call (second line)", {"next_step": "resolved", "resolution": "Stripped the BOM"}, "sam")
    portal.leave_feedback(desk, ANN.contact_email, call, 4, "Quick, thanks")
    enhancement = log_and_triage(desk, details=replace(ANN, request_kind="enhancement", summary="Dark mode"))
    advice = log_and_triage(desk, details=replace(ANN, request_kind="advice", summary="Warming up a domain"))
    do(desk, advice, "First level response", RESOLVED_STRAIGHT_AWAY, "alice")
    return [call, training, escalation, enhancement, advice]


@pytest.fixture
def charter_played(desk, frozen_clock):
    return desk, play_the_charter(desk, frozen_clock)


def test_C32_every_ticket_page_of_the_charter_tells_its_history_in_words(charter_played, quick_password_hashes):
    desk, references = charter_played
    browser = signed_in(desk_app(desk).test_client(), "audrey")
    for reference in references:
        view = queries.ticket_view(desk, reference)
        assert all(has_sentence(event.kind) for event in view.history), reference
        [history] = HISTORY_TABLE.findall(text(browser.get(f"/calls/{reference}")))
        assert history.count("<tr>") == len(view.history) + 1  # the head row, and a row per event
        assert not _raw_values(history), f"{reference}: {_raw_values(history)}"
    call_history = HISTORY_TABLE.findall(text(browser.get(f"/calls/{references[0]}")))[0]
    assert "Sam Second set the call Delayed: the import log of Monday" in call_history
    assert "Alice First completed “First level response”: call-back by phone; passed the call to second line" in (
        call_history
    )
    assert "<summary>Details</summary>" in call_history
    assert "<dd>import.log</dd>" in call_history  # the customer's mail, with its attachment
    for linked in references[1:3]:  # the training and the escalation (C19, C28)
        assert f'href="/calls/{linked}"' in call_history


def _raw_values(html: str) -> list[str]:
    """What a person should never read in a history: None, a dict or list repr, a UUID, text cut short."""
    return re.findall(r"\bNone\b|[{}]|\[\s*'|…", html) + UUID.findall(html)


# --- the portal in the customer's words --------------------------------------------------------------------


@pytest.fixture
def customer(desk):
    return create_app(desk, testing=True).test_client()


def delayed_high_call(desk, note: str = "the import log") -> str:
    reference = log_and_triage(desk, details=HIGH)
    do(desk, reference, "First level response", FIRST_RESPONSE, "alice")
    payload = {"reason": "information_awaited", "note": note}
    commands.deliver_message(desk, commands.DeliverMessage(reference, "call_delayed", payload), "sam")
    return reference


def test_C22_C25_the_portal_says_what_the_desk_is_waiting_for_without_clause_ids(desk, customer):
    reference = delayed_high_call(desk, "the import log from Monday's run")
    customer.get(portal_link(desk, reference)[0])
    page = text(customer.get(f"/portal/calls/{reference}"))
    assert "What we are waiting for" in page
    assert "Information we asked you for: the import log from Monday&#39;s run" in page
    assert "C22" not in page
    assert not CLAUSE_ID.search(page)
    assert "crucial information" not in page  # the internal reason
    assert "From High to Medium" in page
    conversation.add_portal_message(desk, conversation.PortalMessage(reference, ANN.contact_email, "Attached"))  # C24
    assert "What we are waiting for" not in text(customer.get(f"/portal/calls/{reference}"))


def test_C22_C25_the_api_gives_the_customer_the_same_words(desk):
    reference = delayed_high_call(desk)
    updates = portal.public_updates(queries.ticket_view(desk, reference))
    assert [u.detail for u in updates if u.kind == "call_delayed"] == ["Information we asked you for: the import log"]
    assert not any(CLAUSE_ID.search(f"{u.what} {u.detail}") for u in updates)


def test_C27_the_feedback_given_shows_back_on_the_portal(desk, customer):
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", RESOLVED_STRAIGHT_AWAY)
    customer.get(portal_link(desk, reference)[0])
    page = customer.get(f"/portal/calls/{reference}")
    assert "Your feedback" not in text(page)
    response = customer.post(
        f"/portal/calls/{reference}/feedback",
        data={
            "feedback-csrf_token": token(page, form="feedback"),
            "feedback-rating": "4",
            "feedback-comment": "Quick, thanks",
        },
    )
    assert response.status_code == 302
    shown = text(customer.get(f"/portal/calls/{reference}"))
    assert "<h2>Your feedback</h2>" in shown
    assert "You rated us 4 out of 5" in shown
    assert "<blockquote>Quick, thanks</blockquote>" in shown


def test_C25_no_portal_page_of_the_charter_shows_a_clause_id_or_an_advisors_note(charter_played, customer):
    desk, references = charter_played
    customer.get(portal_link(desk, references[0])[0])
    for reference in (references[0], *references[3:]):
        page = text(customer.get(f"/portal/calls/{reference}"))
        assert not CLAUSE_ID.search(page), reference
        assert "Known?" not in page  # a hand-over reason
        assert "strip the BOM" not in page  # third line's advice to second line
        assert not _raw_values(page.split("<h2>Updates</h2>")[1].split("</table>")[0])
