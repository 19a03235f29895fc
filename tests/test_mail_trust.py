"""C03, trust at the edges: a reply is threaded onto a call only when its sender is the call's
contact or a known contact of the call's account; anything else that quotes a call is held for an
advisor (attach, open a new call, discard: each recorded), and the sender learns nothing about the
call it quoted. A reused Message-ID does not make a different mail a duplicate; every mail received
is somewhere a person looks; bad mail of the expected kinds is logged as one line, no traceback."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from click.testing import CliRunner

from supportdesk.cli.mail import ingest_mail, mail_status
from supportdesk.engine.errors import InvalidInput, NotAllowed, NotFound
from supportdesk.engine.mail import inbound, review
from supportdesk.engine.mail import queries as mail_queries
from supportdesk.engine.people import portal
from supportdesk.engine.store.models import HeldMail, InboundMail, OutboxMail, SlaClock, Ticket
from supportdesk.engine.tickets import commands, queries

from conftest import WORKFLOWS
from helpers import ANN, FIRST_RESPONSE, delay_for_information, do, events, history_kinds, log_and_triage, log_call
from web_client import desk_app, signed_in, text, token, use_quick_password_hashes

SUPPORT = "support@supportdesk.local"
EVE = "Eve <eve@elsewhere.example>"


def mail(
    subject: str = "Campaign won't send",
    body: str = "It stops at 40%.\n",
    sender: str = "Ann <ann@example.com>",
    message_id: str | None = None,
    **headers: str,
) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, SUPPORT, subject
    message["Message-ID"] = message_id or make_msgid(domain="example.com")
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def receive(desk, raw: bytes, envelope_from: str = "") -> inbound.Receipt:
    return inbound.receive(desk, raw, source="test", envelope_from=envelope_from)


def delayed_call(desk) -> str:
    """Ann's call (logged by phone for Acme Ltd), Delayed waiting for information: its clocks paused."""
    reference = log_and_triage(desk)
    do(desk, reference, "First level response", FIRST_RESPONSE)
    delay_for_information(desk, reference)
    assert queries.ticket_view(desk, reference).status == "delayed"
    return reference


def clock_states(desk, reference: str) -> dict[str, str]:
    with desk.db.reading() as session:
        ticket = session.query(Ticket).filter_by(reference=reference).one()
        return {c.metric: c.state for c in session.query(SlaClock).filter_by(ticket_id=ticket.id)}


def outbox(desk) -> list[OutboxMail]:
    with desk.db.reading() as session:
        return list(session.query(OutboxMail).order_by(OutboxMail.id))


def public_kinds(desk, contact: str, reference: str) -> list[str]:
    return [u.kind for u in portal.call_for_customer(desk, contact, reference).updates]


def held_rows(desk) -> list[HeldMail]:
    with desk.db.reading() as session:
        return list(session.query(HeldMail).order_by(HeldMail.id))


# --- a stranger's reply is held, never threaded (C03) -------------------------------------------------------


def test_C03_a_strangers_reply_quoting_a_call_is_held_and_touches_nothing(desk):
    reference = delayed_call(desk)
    before, clocks, sent = history_kinds(desk, reference), clock_states(desk, reference), len(outbox(desk))
    receipt = receive(desk, mail(f"Re: [{reference}] We have logged your call", "Let me in.", sender=EVE))
    assert (receipt.outcome, receipt.reference, receipt.reference_for_sender) == ("held", None, None)
    view = queries.ticket_view(desk, reference)
    assert view.status == "delayed"  # not re-opened
    assert history_kinds(desk, reference) == before
    assert (
        clock_states(desk, reference)
        == clocks
        == {
            "first_response": "stopped",
            "resolution": "paused",
        }
    )
    assert "mail_received" not in public_kinds(desk, "ann@example.com", reference)  # not on Ann's portal
    assert len(outbox(desk)) == sent  # no confirmation, no auto-reply
    [held] = mail_queries.held_mail(desk)
    assert (held.from_address, held.quoted_call, held.quoted_account, held.excerpt) == (
        "eve@elsewhere.example",
        reference,
        "Acme Ltd",
        "Let me in.",
    )
    assert "not the contact of" in held.why
    assert mail_queries.inbound_of(desk, reference) == []


def test_C03_a_stranger_cannot_become_a_known_contact_by_mailing_in(desk):
    """Ann's call opened by mail: its account is her domain. Bob, at the same domain, mails in and gets
    a call of the same account; that does not let him write into Ann's call."""
    anns = receive(desk, mail("Templates lost")).reference
    assert queries.ticket_view(desk, anns).account == "example.com"
    bobs = receive(desk, mail("Hello", sender="Bob <bob@example.com>")).reference
    assert queries.ticket_view(desk, bobs).account == "example.com"
    receipt = receive(desk, mail(f"Re: [{anns}] Templates lost", "Any news?", sender="bob@example.com"))
    assert (receipt.outcome, receipt.reference) == ("held", None)
    assert "mail_received" in history_kinds(desk, bobs)
    assert len(events(desk, anns, "mail_received")) == 1
    assert receive(desk, mail(f"Re: [{bobs}] Hello", sender="bob@example.com")).outcome == "added"  # his own


def test_C03_the_contact_and_known_contacts_of_the_account_are_threaded(desk):
    reference = delayed_call(desk)
    carol = commands.CallDetails(
        contact_name="Carol", contact_email="carol@acme.example", account="Acme Ltd", summary="Another problem"
    )
    log_call(desk, details=carol)  # staff logged a call of Acme Ltd for Carol: she is a known contact
    by_carol = receive(desk, mail(f"Re: [{reference}] the CSV", "Attached.", sender="Carol <CAROL@acme.example>"))
    assert (by_carol.outcome, by_carol.reference, by_carol.reopened) == ("added", reference, True)
    assert queries.ticket_view(desk, reference).status == "open"
    by_ann = receive(desk, mail(f"Re: [{reference}] more", sender="ann@example.com"))
    assert (by_ann.outcome, by_ann.reference) == ("added", reference)
    assert held_rows(desk) == []


@pytest.mark.parametrize("quoted", ["existing", "no-such-call", "message-id"])
def test_C03_whatever_a_stranger_quotes_the_answer_is_the_same(desk, quoted):
    """A reference that names no call is held like one that does, and answering one of the call's
    mails by its Message-ID is quoting it: the sender cannot tell which calls exist."""
    reference = log_call(desk)
    confirmation = outbox(desk)[0].message_id
    raw = {
        "existing": mail(f"Re: [{reference}]", sender=EVE),
        "no-such-call": mail("Re: [SUP-2026-999999]", sender=EVE),
        "message-id": mail("Re: your mail", sender=EVE, In_Reply_To=confirmation),
    }[quoted]
    receipt = receive(desk, raw, "eve@elsewhere.example")
    assert (receipt.outcome, receipt.reference_for_sender) == ("held", None)
    assert len(outbox(desk)) == 1
    assert len(queries.customer_calls(desk, "eve@elsewhere.example")) == 0
    [held] = held_rows(desk)
    assert held.quoted_reference == ("SUP-2026-999999" if quoted == "no-such-call" else reference)


def test_C03_an_auto_reply_quoting_a_call_from_a_stranger_is_not_noted_on_it(desk):
    reference = log_call(desk)
    receipt = receive(desk, mail(f"Re: [{reference}] Out of office", sender=EVE, Auto_Submitted="auto-replied"))
    assert (receipt.outcome, receipt.reference, receipt.reference_for_sender) == ("auto_reply", None, None)
    assert events(desk, reference, "auto_reply_received") == []
    from_ann = receive(desk, mail(f"Re: [{reference}] Out of office", Auto_Submitted="auto-replied"))
    assert (from_ann.outcome, from_ann.reference, from_ann.reference_for_sender) == ("auto_reply", reference, None)
    assert len(events(desk, reference, "auto_reply_received")) == 1


# --- a reused Message-ID is not a duplicate (issue 16, hole 2) ----------------------------------------------


def test_C03_a_different_mail_with_a_reused_message_id_is_filed_as_its_own(desk, tmp_path):
    shared = "<reused@example.com>"
    first = receive(desk, mail("Import fails", "Row 12 is refused.", message_id=shared))
    second_raw = mail("Password reset", "I cannot sign in.", sender="Dan <dan@other.example>", message_id=shared)
    second = receive(desk, second_raw)
    assert (first.outcome, second.outcome) == ("new_call", "new_call")
    assert first.reference != second.reference
    assert queries.ticket_view(desk, second.reference).contact_email == "dan@other.example"
    [kept] = mail_queries.inbound_of(desk, second.reference)
    assert mail_queries.raw_inbound(desk, kept.id) == second_raw
    with desk.db.reading() as session:
        assert session.query(InboundMail).filter_by(message_id=shared).count() == 2
    again = receive(desk, second_raw)  # the same mail again is still received once
    relayed = receive(desk, b"Received: from mx2.example.com\r\n\tby mx.example.com\r\n" + second_raw)
    assert [(r.outcome, r.reference) for r in (again, relayed)] == [("duplicate", second.reference)] * 2
    assert again.reference_for_sender is None  # a copy (a CC resent) is not told the call the mail opened
    (tmp_path / "third.eml").write_bytes(
        mail("Third", "Another body", sender="eve@elsewhere.example", message_id=shared)
    )
    env = {"SUPPORTDESK_DATABASE_URL": desk.settings.database_url, "SUPPORTDESK_WORKFLOWS_DIR": str(WORKFLOWS)}
    result = CliRunner().invoke(ingest_mail, [str(tmp_path / "third.eml")], env=env)
    assert result.exit_code == 0
    assert ": opened SUP-" in result.output
    assert "received before" not in result.output
    assert len(queries.customer_calls(desk, "eve@elsewhere.example")) == 1


# --- every mail is visible somewhere a person looks (hole 6) ------------------------------------------------


def test_C03_bulk_and_auto_reply_mail_is_listed_with_its_reason_and_counted(desk):
    bulk = receive(desk, mail("Our campaign is stuck", "Please help.", Precedence="bulk"))
    auto = receive(desk, mail("Away", sender="dan@other.example", Auto_Submitted="auto-generated"))
    assert bulk.outcome == auto.outcome == "auto_reply"
    reasons = {row.from_address: row.reason for row in mail_queries.not_opened_mail(desk)}
    assert reasons == {"ann@example.com": "Precedence: bulk", "dan@other.example": "Auto-Submitted: auto-generated"}
    receive(desk, mail("A real call"))
    reference = log_call(desk)
    receive(desk, mail(f"Re: [{reference}]", sender=EVE))
    receive(desk, b"Subject: nobody\r\n\r\nno sender\r\n")
    assert mail_queries.received_counts(desk) == {
        "on_calls": 1,
        "needs_review": 1,
        "not_opened": 2,
        "discarded": 0,
        "quarantined": 1,
    }
    env = {"SUPPORTDESK_DATABASE_URL": desk.settings.database_url, "SUPPORTDESK_WORKFLOWS_DIR": str(WORKFLOWS)}
    status = CliRunner().invoke(mail_status, [], env=env)
    assert status.exit_code == 0, status.output
    assert (
        "received: 1 on calls, 1 held: needs review, 2 not opened: auto-reply or bulk, 0 discarded after "
        "review, 1 quarantined"
    ) in status.output
    assert "Precedence: bulk" in status.output
    assert "not the contact of" in status.output


@pytest.mark.parametrize(
    ("raw", "envelope_from", "reason"),
    [
        (b"Subject: who am I?\r\n\r\nno sender at all\r\n", "", "no sender"),
        (b"From: Ivy <ivy@localhost>\r\nSubject: Hello\r\n\r\nhi\r\n", "", "contact_email"),
        (bytes(range(256)) * 4, "", "no mail headers"),
        (mail("Away", Auto_Submitted="auto-replied"), "ann@example.com", "Auto-Submitted: auto-replied"),
    ],
    ids=["no-from", "undeliverable-address", "unreadable", "auto-reply"],
)
def test_C03_expected_bad_mail_is_logged_as_one_line_without_a_traceback(desk, caplog, raw, envelope_from, reason):
    caplog.set_level(logging.DEBUG, logger="supportdesk")
    receive(desk, raw, envelope_from)
    lines = [r for r in caplog.records if r.name.startswith("supportdesk.engine.mail")]
    assert len(lines) == 1, [r.getMessage() for r in lines]
    assert reason in lines[0].getMessage()
    assert lines[0].exc_info is None
    assert "\n" not in lines[0].getMessage()


def test_C03_too_large_mail_is_logged_as_one_line(desk, caplog):
    from dataclasses import replace

    desk.settings = replace(desk.settings, max_message_bytes=100)
    caplog.set_level(logging.DEBUG, logger="supportdesk")
    assert receive(desk, mail(body="x" * 500)).outcome == "too_large"
    [line] = [r for r in caplog.records if r.name.startswith("supportdesk.engine.mail")]
    assert "more than the 100 allowed" in line.getMessage()
    assert line.exc_info is None


# --- what an advisor does with held mail --------------------------------------------------------------------


def held_from_eve(desk, reference: str) -> int:
    assert receive(desk, mail(f"Re: [{reference}] the CSV you asked for", "Here it is.", sender=EVE)).outcome == "held"
    return held_rows(desk)[-1].id


def test_C03_an_advisor_attaches_held_mail_and_it_is_threaded_as_a_trusted_reply(desk):
    reference = delayed_call(desk)
    held_id = held_from_eve(desk, reference)
    receipt = review.attach(desk, held_id, reference.lower(), "alice", "Eve is Ann's colleague")
    assert (receipt.outcome, receipt.reference, receipt.reopened) == ("added", reference, True)
    assert queries.ticket_view(desk, reference).status == "open"
    assert clock_states(desk, reference)["resolution"] == "running"
    [received] = events(desk, reference, "mail_received")
    assert (received.actor, received.payload["attached_by"], received.payload["review_reason"]) == (
        "alice",
        "alice",
        "Eve is Ann's colleague",
    )
    assert received.payload["excerpt"] == "Here it is."
    after = history_kinds(desk, reference)[history_kinds(desk, reference).index("mail_received") :]
    assert [k for k in after if k in ("message_received", "call_reopened")] == ["message_received", "call_reopened"]
    assert "mail_received" in public_kinds(desk, "ann@example.com", reference)
    [row] = mail_queries.held_mail(desk, decided=True)
    assert (row.status, row.decided_by, row.decision_reason, row.went_to) == (
        "attached",
        "alice",
        "Eve is Ann's colleague",
        reference,
    )
    assert row.decided_at is not None
    # An advisor vouched for Eve in Acme Ltd: her next reply to a call of the account is threaded.
    again = receive(desk, mail(f"Re: [{reference}] one more", sender=EVE))
    assert (again.outcome, again.reference) == ("added", reference)
    with pytest.raises(NotAllowed, match="already attached to a call by alice"):
        review.discard(desk, held_id, "sam", "too late")


def test_C03_an_advisor_opens_a_new_call_from_held_mail_and_its_confirmation_names_only_the_new_call(desk):
    reference = log_call(desk)
    held_id = held_from_eve(desk, reference)
    opened = review.open_call(desk, held_id, "alice", "not Ann's: a new customer")
    view = queries.ticket_view(desk, opened)
    assert opened != reference
    assert (view.contact_email, view.summary) == (
        "eve@elsewhere.example",
        "the CSV you asked for",
    )
    [confirmation] = [m for m in outbox(desk) if m.to_address == "eve@elsewhere.example"]
    assert opened in confirmation.subject
    assert reference not in confirmation.subject + confirmation.body_text + confirmation.body_html
    [received] = events(desk, opened, "mail_received")
    assert (received.actor, received.payload["opened_by"]) == ("alice", "alice")
    assert events(desk, opened, "call_logged")[0].actor == "mail"  # logged by the mail: Eve is known for no account
    assert receive(desk, mail(f"Re: [{reference}]", sender=EVE)).outcome == "held"
    assert mail_queries.held_mail(desk, decided=True)[0].went_to == opened


def test_C03_an_advisor_discards_held_mail_with_a_reason_noted_on_the_quoted_call(desk):
    reference = log_call(desk)
    held_id = held_from_eve(desk, reference)
    with pytest.raises(InvalidInput):
        review.discard(desk, held_id, "alice", "   ")
    assert held_rows(desk)[0].status == "held"
    review.discard(desk, held_id, "alice", "phishing")
    [noted] = events(desk, reference, "held_mail_discarded")
    assert (noted.actor, noted.payload["reason"], noted.payload["from"]) == (
        "alice",
        "phishing",
        "eve@elsewhere.example",
    )
    assert "held_mail_discarded" not in public_kinds(desk, "ann@example.com", reference)
    [row] = held_rows(desk)
    assert (row.status, row.decided_by, row.decision_reason) == ("discarded", "alice", "phishing")
    assert mail_queries.received_counts(desk)["discarded"] == 1
    assert mail_queries.held_mail(desk) == []


def test_C03_attaching_to_a_reference_that_names_no_call_changes_nothing(desk):
    reference = log_call(desk)
    held_id = held_from_eve(desk, reference)
    with pytest.raises(NotFound):
        review.attach(desk, held_id, "SUP-2026-999999", "alice")
    [row] = held_rows(desk)
    assert (row.status, row.decided_by) == ("held", None)
    with desk.db.reading() as session:
        assert session.get(InboundMail, row.inbound_id).outcome == "held"


# --- the same, on the web desk ------------------------------------------------------------------------------


@pytest.fixture
def web(desk, monkeypatch):
    use_quick_password_hashes(monkeypatch)
    return desk_app(desk)


def test_C03_held_mail_on_the_web_attach_open_and_discard(desk, web):
    reference = delayed_call(desk)
    first, second, third = (held_from_eve(desk, reference) for _ in range(3))
    alice = signed_in(web.test_client(), "alice")
    page = alice.get("/mail/held")
    assert page.status_code == 200
    assert text(page).count('class="held-mail"') == 3
    assert "eve@elsewhere.example" in text(page)
    assert "Here it is." in text(page)

    no_token = alice.post(f"/mail/held/{first}/attach", data={"reference": reference})
    assert no_token.status_code == 400
    assert held_rows(desk)[0].status == "held"
    attached = alice.post(
        f"/mail/held/{first}/attach",
        data={"csrf_token": token(page), "reference": reference, "reason": "her colleague"},
    )
    assert attached.status_code == 302
    assert queries.ticket_view(desk, reference).status == "open"

    no_reason = alice.post(f"/mail/held/{second}/discard", data={"csrf_token": token(page), "reason": ""})
    assert no_reason.status_code == 400
    assert held_rows(desk)[1].status == "held"
    assert (
        alice.post(f"/mail/held/{second}/discard", data={"csrf_token": token(page), "reason": "spam"}).status_code
        == 302
    )
    opened = alice.post(f"/mail/held/{third}/new-call", data={"csrf_token": token(page)})
    assert opened.status_code == 302
    twice = alice.post(f"/mail/held/{third}/discard", data={"csrf_token": token(page), "reason": "again"})
    assert twice.status_code == 409
    assert "already opened as a new call by alice" in text(twice)
    assert [(r.status, r.decided_by) for r in held_rows(desk)] == [
        ("attached", "alice"),
        ("discarded", "alice"),
        ("new_call", "alice"),
    ]
    after = text(alice.get("/mail/held"))
    assert "No mail is waiting for review." in after
    assert "spam" in after
    assert "her colleague" in after


@pytest.mark.parametrize("username", ["amy", "audrey", "dev"])
def test_C03_only_advisors_see_or_act_on_held_mail(desk, web, username):
    held_id = held_from_eve(desk, log_call(desk))
    client = signed_in(web.test_client(), username)
    assert client.get("/mail/held").status_code == 403
    page = client.get("/calls")
    answer = client.post(f"/mail/held/{held_id}/discard", data={"csrf_token": token(page), "reason": "x"})
    assert answer.status_code == 403
    assert held_rows(desk)[0].status == "held"
    anonymous = web.test_client().get("/mail/held")
    assert anonymous.status_code == 302
    assert "/login" in anonymous.headers["Location"]


def test_C03_the_admin_mail_page_counts_received_mail_by_where_it_is(desk, web):
    receive(desk, mail("Newsletter", Precedence="bulk"))
    receive(desk, mail(f"Re: [{log_call(desk)}]", sender=EVE))
    page = text(signed_in(web.test_client(), "admin").get("/admin/mail"))
    assert '<tr data-place="needs_review"><th scope="row">Held: needs review</th><td>1</td></tr>' in page
    assert '<tr data-place="not_opened"><th scope="row">Not opened: auto-reply or bulk</th><td>1</td></tr>' in page


# --- the migration ------------------------------------------------------------------------------------------


def test_C03_migration_0009_keeps_received_mail_and_its_attachments_both_ways(sqlite_url, frozen_clock):
    """Down to 0008 (Message-IDs unique again: the later copy loses it) and up again: every mail and
    attachment stays, and a reused Message-ID is accepted once more."""
    from alembic import command

    from supportdesk.engine.desk import Desk
    from supportdesk.engine.store import schema
    from supportdesk.handlers import REGISTRY

    from conftest import open_test_desk

    desk = open_test_desk(sqlite_url)
    commands.deploy(desk, actor="test")
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "ann@example.com", SUPPORT, "With a file"
    message["Message-ID"] = "<same@example.com>"
    message.set_content("see attached")
    message.add_attachment(b"a,b\n1,2\n", maintype="text", subtype="csv", filename="data.csv")
    receive(desk, message.as_bytes())
    receive(desk, mail("Other", sender="dan@other.example", message_id="<same@example.com>"))
    with desk.db.engine.begin() as connection:
        config = schema._alembic_config(desk.db)
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    desk.close()
    again = Desk(desk.settings, REGISTRY)
    again.upgrade_schema()
    with again.db.reading() as session:
        assert [m.message_id for m in session.query(InboundMail).order_by(InboundMail.id)] == [
            "<same@example.com>",
            None,
        ]
    [first, _] = sorted(
        queries.customer_calls(again, "ann@example.com") + queries.customer_calls(again, "dan@other.example"),
        key=lambda c: c.reference,
    )
    [kept] = mail_queries.inbound_of(again, first.reference)
    assert mail_queries.attachment(again, kept.attachments[0].id) == ("data.csv", "text/csv", b"a,b\n1,2\n")
    assert (
        receive(again, mail("Third", sender="eve@elsewhere.example", message_id="<same@example.com>")).outcome
        == "new_call"
    )
    again.close()


def test_known_contact_rule_ignores_calls_logged_by_mail_even_for_the_same_account(desk):
    """A staff-logged call of Acme Ltd for Ann; a mail from ann opens a call of Acme Ltd too (her account).
    Bob mailing in from elsewhere never gets Acme Ltd, so he stays unknown to it."""
    reference = log_call(desk, details=ANN)
    opened = receive(desk, mail("Again", sender="ann@example.com")).reference
    assert queries.ticket_view(desk, opened).account == "Acme Ltd"
    assert receive(desk, mail(f"Re: [{opened}]", sender="Bob <bob@acme-ltd.example>")).outcome == "held"
    assert receive(desk, mail(f"Re: [{reference}]", sender="ann@example.com")).outcome == "added"
