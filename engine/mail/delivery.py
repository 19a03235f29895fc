"""Delivering the outbox over SMTP, from the worker.

Each due mail is *claimed* in a short transaction (status "sending", one more
attempt, and a lease: its ``next_attempt_at`` moves to when the lease runs
out), sent outside any transaction, then marked sent, or queued again with
backoff, or failed, in a transaction of its own.

Exactly once, and where it can only be at least once:
- two workers never send one mail at the same time: the claim is a locked,
  conditional change (``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
  SQLite), and a claimed mail is not due again until its lease runs out; the
  lease (10 minutes) is far longer than one send can take (the SMTP timeout);
- a mail the server accepted is marked sent straight after; a failed send is
  never marked sent;
- but SMTP cannot be exactly once: if the worker dies (or the store is
  unreachable) between the server's "250 OK" and the mark, the lease runs
  out and the mail is sent again. We choose that (at least once) over the
  alternative, marking before sending, which loses the mail when the worker
  dies mid-send. A copy sent again has the same Message-ID and Date, so mail
  programs show it as the same message.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from supportdesk.engine.conversation import attachments
from supportdesk.engine.desk import Desk
from supportdesk.engine.errors import NotAllowed, NotFound
from supportdesk.engine.settings import Settings
from supportdesk.engine.store.models import Attachment, MailAttempt, Message, OutboxMail
from supportdesk.engine.tickets import history, jobs, outbox
from supportdesk.engine.tickets.instances import lock_ticket
from supportdesk.engine.working_time.clock import clock

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
RETRY_FIRST = timedelta(seconds=30)
RETRY_LONGEST = timedelta(hours=1)
BATCH = 100
PENDING = ("queued", "sending")  # "sending" is due again only when its lease has run out


@dataclass(frozen=True)
class Delivered:
    """What one pass did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.sent + self.retrying + self.failed


@dataclass(frozen=True)
class Claim:
    """A mail this worker holds: ``attempt`` is its attempt number, which tells a late
    worker (whose lease ran out) that the mail is no longer its own."""

    mail_id: int
    attempt: int
    to_address: str
    recipients: list[str]  # To, then Cc: SMTP's RCPT TO
    message: EmailMessage | None
    problem: Exception | None  # the stored mail cannot be made into a message at all


def delivery_enabled(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def deliver_due_mail(desk: Desk, *, limit: int = BATCH) -> Delivered:
    """Send up to ``limit`` mails that are due; without an SMTP host nothing is sent
    and mail stays queued (the desk shows it)."""
    if not delivery_enabled(desk.settings):
        return Delivered()
    counts = {"sent": 0, "retry": 0, "failed": 0}
    with SmtpConnection(desk.settings) as smtp:
        for mail_id in due_mail(desk, limit):
            claim = _claim(desk, mail_id)
            if claim is not None:
                counts[_attempt(desk, smtp, claim)] += 1
    return Delivered(counts["sent"], counts["retry"], counts["failed"])


def due_mail(desk: Desk, limit: int = BATCH) -> list[int]:
    query = (
        select(OutboxMail.id)
        .where(OutboxMail.status.in_(PENDING), OutboxMail.next_attempt_at <= clock.now())
        .order_by(OutboxMail.next_attempt_at, OutboxMail.id)
        .limit(limit)
    )
    with desk.db.reading() as session:
        return list(session.scalars(query))


def next_attempt(desk: Desk) -> datetime | None:
    """When the outbox next needs the worker (None when nothing waits)."""
    query = select(OutboxMail.next_attempt_at).where(OutboxMail.status.in_(PENDING))
    with desk.db.reading() as session:
        return session.scalar(query.order_by(OutboxMail.next_attempt_at).limit(1))


# RFC 2606/6761 names that can never be a real mailbox; simulated customers live there,
# so a demo store on a real SMTP server mails nobody.
RESERVED_DOMAINS = (".example", ".test", ".invalid", ".localhost")


class ReservedAddress(ValueError):
    """An address in a reserved test domain: never delivered (a permanent failure, kept on the mail)."""


def _attempt(desk: Desk, smtp: SmtpConnection, claim: Claim) -> str:
    try:
        if claim.problem is not None:
            raise claim.problem
        if claim.message is None:
            raise RuntimeError(f"mail {claim.mail_id} has no message and no reason why")
        if claim.to_address.lower().rstrip(">").endswith(RESERVED_DOMAINS):
            raise ReservedAddress(f"{claim.to_address} is in a reserved test domain: not sent")
        # A copy to a reserved test domain is left out; the mail itself still goes.
        reply = smtp.send(claim.message, [claim.to_address, *_deliverable(claim.recipients[1:])])
    except Exception as exc:  # noqa: BLE001  (every failure is kept on the mail, never lost)
        return _record_failure(desk, claim, exc)
    _record_sent(desk, claim, reply)
    return "sent"


def _claim(desk: Desk, mail_id: int) -> Claim | None:
    """Take the mail for this worker, or None when it is not due any more (another worker has it)."""
    now = clock.now()
    with desk.db.transaction() as session:
        mail = session.scalar(
            select(OutboxMail)
            .where(OutboxMail.id == mail_id, OutboxMail.status.in_(PENDING), OutboxMail.next_attempt_at <= now)
            .with_for_update()
        )
        if mail is None:
            return None
        if mail.status == "sending":
            log.warning(
                "mail %s: the worker sending it stopped before saying how it went; sending it again "
                "(it may arrive twice, with the same Message-ID %s)",
                mail.id,
                mail.message_id,
            )
        mail.status, mail.attempts, mail.last_attempt_at = "sending", mail.attempts + 1, now
        mail.next_attempt_at = now + LEASE  # due again only if this worker never says how it went
        try:
            message, problem = outbox.to_message(mail, desk.settings), None
            _attach_files(session, desk.settings, mail, message)
        except Exception as exc:  # noqa: BLE001  (e.g. an address no header can carry, a file gone: kept as the mail's error)
            message, problem = None, exc
        return Claim(mail.id, mail.attempts, mail.to_address, outbox.recipients(mail), message, problem)


def _attach_files(session: Session, settings: Settings, mail: OutboxMail, message: EmailMessage) -> None:
    """The files of the conversation entry the mail carries (a reply's), from the attachment store: the
    outbox names them (through the entry), it does not copy them. Sent as the type they are served as."""
    files = session.scalars(
        select(Attachment)
        .join(Message, Message.id == Attachment.message_id)
        .where(Message.outbox_mail_id == mail.id)
        .order_by(Attachment.id)
    )
    for row in files:
        maintype, _, subtype = attachments.served_type(row.content_type).partition("/")
        content = attachments.content_of(settings, row)
        message.add_attachment(content, maintype=maintype, subtype=subtype, filename=row.filename)


def _deliverable(addresses: list[str]) -> list[str]:
    return [a for a in addresses if not a.lower().rstrip(">").endswith(RESERVED_DOMAINS)]


def _held(session: Session, claim: Claim) -> OutboxMail | None:
    """The mail, locked, if this worker's claim still holds it."""
    mail = session.get_one(OutboxMail, claim.mail_id, with_for_update=True, populate_existing=True)
    if mail.status == "sending" and mail.attempts == claim.attempt:
        return mail
    log.warning("mail %s was taken over while attempt %s was under way: it may arrive twice", mail.id, claim.attempt)
    return None


def _record_sent(desk: Desk, claim: Claim, reply: str) -> None:
    now = clock.now()
    with desk.db.transaction() as session:
        session.add(MailAttempt(mail_id=claim.mail_id, attempt=claim.attempt, at=now, outcome="sent", detail=reply))
        mail = _held(session, claim)
        if mail is not None:
            mail.status, mail.sent_at, mail.next_attempt_at, mail.last_error = "sent", now, None, None
            _note_on_ticket(session, mail, now, "mail_sent", {})


def _record_failure(desk: Desk, claim: Claim, exc: Exception) -> str:
    """Queue the mail again with backoff, or fail it after the last try; returns the outcome."""
    now, detail = clock.now(), describe(exc)
    log.warning("mail %s, attempt %s: %s", claim.mail_id, claim.attempt, detail)
    with desk.db.transaction() as session:
        mail = _held(session, claim)
        final = mail is not None and (is_permanent(exc) or mail.attempts >= desk.settings.smtp_max_attempts)
        outcome = "failed" if final else "retry"
        session.add(MailAttempt(mail_id=claim.mail_id, attempt=claim.attempt, at=now, outcome=outcome, detail=detail))
        if mail is None:
            return outcome
        mail.last_error = detail
        if final:
            mail.status, mail.next_attempt_at = "failed", None
            _note_on_ticket(session, mail, now, "mail_failed", {"attempts": mail.attempts, "error": detail})
        else:
            mail.status, mail.next_attempt_at = "queued", now + jobs.backoff(mail.attempts, RETRY_FIRST, RETRY_LONGEST)
        return outcome


def is_permanent(exc: Exception) -> bool:
    """The server refused this recipient or this message for good (5xx), or the mail cannot be
    made at all: trying again cannot help. A refused sender, a failed login or an unreachable
    server are the desk's own set-up or a passing fault, so they are retried."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPDataError):
        return exc.smtp_code >= 500
    return not isinstance(exc, smtplib.SMTPException | OSError)


def describe(exc: Exception) -> str:
    """The failure as a person reads it, the server's own words included."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        text = "; ".join(f"{to} refused: {code} {_said(said)}" for to, (code, said) in exc.recipients.items())
    elif isinstance(exc, smtplib.SMTPResponseException):
        text = f"{exc.smtp_code} {_said(exc.smtp_error)}"
    else:
        text = str(exc)
    return f"{exc.__class__.__name__}: {text}"[:2000]


def _said(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)


def _note_on_ticket(session: Session, mail: OutboxMail, now: datetime, kind: str, payload: dict) -> None:
    """What became of a mail shows in its ticket's history too; the ticket is locked,
    as every writer of its history does."""
    if mail.ticket_id is None:
        return
    ticket = lock_ticket(session, mail.ticket_id)
    history.append(
        session,
        ticket,
        at=now,
        kind=kind,
        actor="desk",
        payload={
            "template": mail.template,
            "to": mail.to_address,
            "subject": mail.subject,
            "message_id": mail.message_id,
            **payload,
        },
    )


def retry_failed(desk: Desk, mail_id: int, actor: str) -> None:
    """Send a failed mail again, with a fresh set of tries (e.g. once the address is corrected
    or the server fixed); the attempts so far stay in its record."""
    now = clock.now()
    with desk.db.transaction() as session:
        mail = session.get(OutboxMail, mail_id, with_for_update=True)
        if mail is None:
            raise NotFound(f"no mail {mail_id} in the outbox")
        if mail.status != "failed":
            raise NotAllowed(f"mail {mail_id} is {mail.status}: only a failed mail is sent again")
        mail.status, mail.attempts, mail.next_attempt_at = "queued", 0, now
        _note_on_ticket(session, mail, now, "mail_requeued", {"by": actor})
    jobs.wake_workers(desk)  # every worker, on any machine, not only this process's


class _Smtp(smtplib.SMTP):
    """smtplib's client, keeping the server's answer to the message (it names its queue id)."""

    last_reply = ""

    def data(self, msg):
        code, reply = super().data(msg)
        self.last_reply = f"{code} {reply.decode(errors='replace')}"
        return code, reply


class SmtpConnection:
    """One connection for a worker's pass, opened for the first mail. When the server cannot
    be reached (or drops the connection), every other mail of the pass fails the same way
    without trying again; they are retried with their backoff."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._smtp: _Smtp | None = None
        self._broken: Exception | None = None

    def __enter__(self) -> SmtpConnection:
        return self

    def __exit__(self, *exc_info) -> None:
        self._close()

    def send(self, message: EmailMessage, recipients: list[str]) -> str:
        """Hand one message to the server; returns what the server said to it (and which of several
        recipients it refused: the others have the mail)."""
        if self._broken is not None:
            raise self._broken
        if self._smtp is None:
            try:
                self._smtp = self._connect()
            except Exception as exc:
                self._broken = exc
                raise
        try:
            refused = self._smtp.send_message(
                message, from_addr=outbox.envelope_sender(self.settings), to_addrs=recipients
            )
        except smtplib.SMTPServerDisconnected as exc:
            self._lost(exc)
        except smtplib.SMTPException:  # the server refused this mail; the connection is still good
            raise
        except OSError as exc:  # (SMTPException is an OSError too, hence the order)
            self._lost(exc)
        if refused:  # some of several recipients: the others have the mail
            refusals = "; ".join(f"{to} {code}" for to, (code, _) in refused.items())
            return f"{self._smtp.last_reply}; refused: {refusals}"
        return self._smtp.last_reply

    def _lost(self, exc: Exception) -> None:
        self._broken = exc
        self._close()
        raise exc

    def _connect(self) -> _Smtp:
        """A connection that is fully set up (TLS, login) or none: a failed STARTTLS must
        never leave a plain connection behind for the next mail."""
        settings = self.settings
        # local_hostname: without it smtplib asks DNS for this machine's name, which can hang.
        smtp = _Smtp(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout, local_hostname=settings.mail_domain
        )
        try:
            smtp.ehlo()
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()
