"""The outbox delivered over real SMTP (aiosmtpd on loopback, in this process), on the
simulated clock: exactly one confirmation per logged call, none for a rolled-back
command, retries with backoff until the server accepts, never a mail twice."""

from __future__ import annotations

import socket
import threading
from dataclasses import replace
from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from supportdesk.engine.background.worker import Worker
from supportdesk.engine.errors import HandlerError, InvalidInput, NotAllowed
from supportdesk.engine.mail import delivery
from supportdesk.engine.mail import queries as mail_queries
from supportdesk.engine.store.models import MailAttempt, OutboxMail
from supportdesk.engine.tickets import commands, queries
from supportdesk.handlers import HANDLERS

from conftest import open_test_desk
from helpers import ANN, events, log_call

S = timedelta(seconds=1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Sink:
    """An SMTP server that keeps what it accepts; it answers 451 to the first ``refuse``
    messages and 550 to the addresses in ``unknown``."""

    def __init__(self, port: int, *, refuse: int = 0, unknown=(), **server_options):
        self.port, self.refuse, self.unknown = port, refuse, set(unknown)
        self.received: list = []
        self.refused = 0
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=port, **server_options)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.unknown:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            if self.refused < self.refuse:
                self.refused += 1
                return "451 4.3.0 busy, try again later"
            self.received.append(
                (
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    message_from_bytes(envelope.original_content, policy=policy.default),
                )
            )
        return f"250 2.0.0 Ok: queued as Q{len(self.received)}"

    def message_ids(self) -> list[str]:
        return [message["Message-ID"] for _, _, message in self.received]

    def __enter__(self) -> Sink:
        self._controller.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._controller.stop()


def sending_to(desk, port: int, **settings):
    desk.settings = replace(desk.settings, smtp_host="127.0.0.1", smtp_port=port, smtp_timeout=5, **settings)
    return desk


@pytest.fixture
def sink():
    with Sink(free_port()) as running:
        yield running


@pytest.fixture
def mail_desk(desk, sink):
    return sending_to(desk, sink.port)


def outbox(desk) -> list[OutboxMail]:
    with desk.db.reading() as session:
        return list(session.query(OutboxMail).order_by(OutboxMail.id))


def attempts(desk, mail_id: int) -> list[tuple[int, str]]:
    return [(row.attempt, row.outcome) for row in mail_queries.attempts_of(desk, mail_id)]


def test_C04_a_logged_call_sends_exactly_one_confirmation_with_reference_and_portal_link(mail_desk, sink, frozen_clock):
    reference = log_call(mail_desk)
    worker = Worker(mail_desk)
    worker.run_once()
    worker.run_once()  # a second pass finds nothing more to send
    [(envelope_from, recipients, message)] = sink.received
    [queued] = outbox(mail_desk)
    assert message["Subject"] == f"[{reference}] We have logged your call"
    assert message["Message-ID"] == queued.message_id
    assert message["To"] == "ann@example.com"
    assert recipients == ["ann@example.com"]
    assert envelope_from == "support@supportdesk.local"
    assert message["Auto-Submitted"] == "auto-replied"  # customers' out-of-office replies stay quiet
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert reference in text
    assert mail_desk.settings.portal_url in text
    assert f'<a href="{mail_desk.settings.portal_url}/' in html
    assert f"<strong>{reference}</strong>" in html
    assert (queued.status, queued.attempts, queued.sent_at, queued.next_attempt_at) == (
        "sent",
        1,
        frozen_clock.now(),
        None,
    )
    assert [(a.outcome, a.detail) for a in mail_queries.attempts_of(mail_desk, queued.id)] == [
        ("sent", "250 2.0.0 Ok: queued as Q1")
    ]


def test_C04_a_rolled_back_command_sends_nothing(mail_desk, sink, monkeypatch):
    real = HANDLERS["send_confirmation"]

    def queue_then_fail(uow, task):
        real(uow, task)  # the confirmation is in the outbox of this transaction...
        raise RuntimeError("CRM unreachable")  # ...which is rolled back

    monkeypatch.setitem(HANDLERS, "send_confirmation", queue_then_fail)
    with pytest.raises(HandlerError):
        log_call(mail_desk)
    with pytest.raises(InvalidInput):
        commands.log_call(mail_desk, replace(ANN, contact_email="not an address"), "alice")
    Worker(mail_desk).run_once()
    assert outbox(mail_desk) == []
    assert sink.received == []


def test_the_server_refuses_for_a_while_then_every_mail_arrives_exactly_once(desk, frozen_clock):
    port = free_port()  # nothing listens there yet: connections are refused
    sending_to(desk, port)
    references = [log_call(desk) for _ in range(3)]
    worker = Worker(desk)
    worker.run_once()
    assert {(m.status, m.attempts) for m in outbox(desk)} == {("queued", 1)}
    assert all("ConnectionRefusedError" in m.last_error for m in outbox(desk))
    assert {m.next_attempt_at for m in outbox(desk)} == {frozen_clock.now() + 30 * S}

    with Sink(port, refuse=2) as sink:  # up, but busy for the first two messages
        worker.run_once()  # not due yet: 30 s have not passed
        assert sink.received == []
        assert sink.refused == 0
        frozen_clock.advance(30 * S)
        worker.run_once()
        assert sink.refused == 2
        assert len(sink.received) == 1
        frozen_clock.advance(60 * S)  # the second failure waits twice as long
        worker.run_once()
        for _ in range(3):  # (within the calls' first working hour: no first response alert is due yet)
            frozen_clock.advance(timedelta(minutes=5))
            worker.run_once()

    mails = outbox(desk)
    assert sorted(sink.message_ids()) == sorted(m.message_id for m in mails)  # every one, each once
    assert {m.status for m in mails} == {"sent"}
    assert sorted(m.subject.split("]")[0][1:] for m in mails) == sorted(references)
    assert sorted(attempts(desk, m.id) for m in mails) == [
        [(1, "retry"), (2, "retry"), (3, "sent")],
        [(1, "retry"), (2, "retry"), (3, "sent")],
        [(1, "retry"), (2, "sent")],
    ]
    assert "451" in mail_queries.attempts_of(desk, mails[0].id)[1].detail


def test_after_its_last_try_a_mail_is_failed_kept_and_shown_then_can_be_sent_again(desk, frozen_clock):
    port = free_port()
    sending_to(desk, port, smtp_max_attempts=3)
    reference = log_call(desk)
    worker = Worker(desk)
    with Sink(port, refuse=3) as sink:
        for wait in (0, 30, 60, 120):
            frozen_clock.advance(wait * S)
            worker.run_once()
        [row] = mail_queries.outbox_of(desk, reference)
        assert (row.status, row.attempts, row.next_attempt_at) == ("failed", 3, None)
        assert "451 4.3.0 busy" in row.last_error
        assert [m.id for m in mail_queries.failed_mail(desk)] == [row.id]
        [noted] = events(desk, reference, "mail_failed")
        assert noted.payload["template"] == "confirmation"
        assert "451" in noted.payload["error"]
        with pytest.raises(NotAllowed, match="only a failed mail is sent again"):
            delivery.retry_failed(desk, _sent_mail_id(desk, worker), "admin")

        delivery.retry_failed(desk, row.id, "admin")
        worker.run_once()
    assert mail_queries.outbox_of(desk, reference)[0].status == "sent"
    assert sink.message_ids().count(row.message_id) == 1
    assert [a.outcome for a in mail_queries.attempts_of(desk, row.id)] == ["retry", "retry", "failed", "sent"]
    assert "mail_requeued" in [e.kind for e in queries.ticket_view(desk, reference).history]


def _sent_mail_id(desk, worker) -> int:
    """A second call, whose confirmation goes through (the server accepts by now)."""
    reference = log_call(desk)
    worker.run_once()
    [row] = mail_queries.outbox_of(desk, reference)
    assert row.status == "sent"
    return row.id


def test_a_recipient_the_server_refuses_for_good_fails_at_once(desk, frozen_clock):
    with Sink(free_port(), unknown={"ann@example.com"}) as sink:
        sending_to(desk, sink.port)
        reference = log_call(desk)
        Worker(desk).run_once()
    [row] = mail_queries.outbox_of(desk, reference)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "550 5.1.1" in row.last_error


def test_without_an_smtp_host_mail_stays_queued_and_visible(desk, frozen_clock):
    reference = log_call(desk)
    Worker(desk).run_once()
    [row] = mail_queries.queued_mail(desk)
    assert (row.reference, row.status, row.attempts) == (reference, "queued", 0)
    assert mail_queries.outbox_counts(desk) == {"queued": 1, "sending": 0, "sent": 0, "failed": 0}
    assert not mail_queries.mail_delivery_enabled(desk)


def test_a_mail_whose_worker_died_while_sending_is_sent_again_only_after_its_lease(mail_desk, sink, frozen_clock):
    log_call(mail_desk)
    [mail] = outbox(mail_desk)
    assert delivery._claim(mail_desk, mail.id) is not None  # a worker took it, then died
    worker = Worker(mail_desk)
    worker.run_once()
    assert sink.received == []  # its lease still holds: nobody else sends it
    frozen_clock.advance(delivery.LEASE)
    worker.run_once()
    [resent] = outbox(mail_desk)
    assert sink.message_ids() == [mail.message_id]
    assert (resent.status, resent.attempts) == ("sent", 2)


@pytest.fixture
def store_desk(any_store_url, frozen_clock):
    desk = open_test_desk(any_store_url)
    commands.deploy(desk, actor="test")
    yield desk
    desk.close()


def test_two_workers_at_once_never_send_the_same_mail(store_desk, sink):
    sending_to(store_desk, sink.port)
    for _ in range(8):
        log_call(store_desk)
    passes = [threading.Thread(target=delivery.deliver_due_mail, args=(store_desk,)) for _ in range(3)]
    for thread in passes:
        thread.start()
    for thread in passes:
        thread.join(timeout=60)
    expected = sorted(m.message_id for m in outbox(store_desk))
    assert sorted(sink.message_ids()) == expected
    assert len(set(expected)) == 8
    with store_desk.db.reading() as session:
        assert session.query(MailAttempt).count() == 8


def test_the_desk_signs_in_to_its_smtp_server(desk, frozen_clock):
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    with Sink(free_port(), authenticator=authenticator, auth_require_tls=False) as sink:
        sending_to(desk, sink.port, smtp_username="desk", smtp_password="s3cret")
        log_call(desk)
        Worker(desk).run_once()
    assert logins == [(b"desk", b"s3cret")]
    assert len(sink.received) == 1
    assert "s3cret" not in repr(desk.settings)


def test_replies_are_directed_to_the_support_address(mail_desk, sink):
    mail_desk.settings = replace(
        mail_desk.settings, mail_from="Support <noreply@example.com>", support_address="help@example.com"
    )
    log_call(mail_desk)
    Worker(mail_desk).run_once()
    [(envelope_from, _, message)] = sink.received
    assert message["Reply-To"] == "help@example.com"
    assert envelope_from == "noreply@example.com"


def test_mail_to_a_reserved_test_domain_is_never_sent(mail_desk, sink):
    """Simulated customers (supportdesk simulate, serve --demo) live in .example: a demo store
    on a real SMTP server must mail nobody."""
    from dataclasses import replace as replace_details

    from helpers import ANN

    commands.log_call(mail_desk, replace_details(ANN, contact_email="sim@acme.example"), "alice")
    Worker(mail_desk).deliver_mail()
    assert sink.received == []
    with mail_desk.db.reading() as session:
        [mail] = session.query(OutboxMail).all()
    assert mail.status == "failed"
    assert "reserved test domain" in mail.last_error
