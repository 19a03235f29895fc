"""The tables of the desk, declared with their constraints and indexes.

Workflow state is one serialized document per ticket; everything people
query (tasks, history, due timers) lives in its own indexed table, so read
models never load an instance.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names, so Alembic migrations can name what they alter.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator):
    """Stores UTC and always gives back timezone-aware UTC moments
    (SQLite would otherwise return naive ones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"refusing to store a naive datetime: {value.isoformat()}")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DiagramVersion(Base):
    """An immutable, numbered set of diagrams, keyed by the hash of its files."""

    __tablename__ = "diagram_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    deployed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    deployed_by: Mapped[str] = mapped_column(String(100))
    # The active version is the one activated last (highest activation);
    # re-deploying an older set of files makes it active again, same number.
    activation: Mapped[int] = mapped_column(Integer, unique=True)
    activated_at: Mapped[datetime] = mapped_column(UtcDateTime)

    files: Mapped[list[DiagramFile]] = relationship(
        back_populates="version", order_by="DiagramFile.name", cascade="all, delete-orphan"
    )


class DiagramFile(Base):
    __tablename__ = "diagram_file"
    __table_args__ = (UniqueConstraint("version_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("diagram_version.id"))
    name: Mapped[str] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)

    version: Mapped[DiagramVersion] = relationship(back_populates="files")


class ProcessSpec(Base):
    """A process spec as SpiffWorkflow serializes it, stored once for all the instances that
    name it by ``digest`` (the SHA-256 of its JSON): see engine.process."""

    __tablename__ = "process_spec"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    spec: Mapped[str] = mapped_column(Text)
    subprocess_specs: Mapped[str] = mapped_column(Text)
    stored_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Ticket(Base):
    """One process instance: a logged call, or an escalation or training request
    linked to one (``parent_id``), each with its own reference and history."""

    __tablename__ = "ticket"
    # The reports' range (calls logged between two days), holding what they read of each call besides its
    # clocks: its priority and reference, so the breaches of 100 000 tickets are listed off this index
    # instead of from tens of thousands of rows (migration 0019).
    __table_args__ = (
        Index("ix_ticket_kind_created_priority_reference", "kind", "created_at", "priority", "reference"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="call")  # call | escalation | training
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("diagram_version.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    contact_name: Mapped[str] = mapped_column(String(200))
    contact_email: Mapped[str] = mapped_column(String(320), index=True)
    account: Mapped[str] = mapped_column(String(200), index=True)
    summary: Mapped[str] = mapped_column(String(500))
    licence_type: Mapped[str | None] = mapped_column(String(20))  # saas | on_premise (C21)
    priority: Mapped[str | None] = mapped_column(String(20), index=True)
    outcome: Mapped[str | None] = mapped_column(String(30))  # resolved | enhancement | advice | ...
    # The nearest due moment of the ticket's running SLA clocks: the inbox's urgency.
    next_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Optimistic concurrency: SQLAlchemy adds "AND revision = :old" to every
    # UPDATE, so a command run against a stale instance writes nothing.
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # The serialized instance, tens of kB: last, so that on SQLite the columns a list shows sit on the
    # row's first page and reading them does not walk the instance's overflow pages (migration 0019).
    state: Mapped[str] = mapped_column(Text)

    version: Mapped[DiagramVersion] = relationship()
    parent: Mapped[Ticket | None] = relationship(remote_side=[id])  # the call an escalation or training is about

    __mapper_args__ = {"version_id_col": revision}  # noqa: RUF012  (SQLAlchemy reads it as declared)


class ReferenceCounter(Base):
    """The last reference number handed out per prefix (SUP, ESC, TRN) and year (C03)."""

    __tablename__ = "reference_counter"

    prefix: Mapped[str] = mapped_column(String(8), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(Integer)


class WorkTask(Base):
    """A ready user task, projected from the instance for the task inboxes."""

    __tablename__ = "work_task"
    # The inbox's order in full (due_at, then created_at and id for the many tasks that tie on
    # it), so a page is read off the index however many tasks wait: no sort of the rest.
    __table_args__ = (
        Index("ix_work_task_role_created", "role", "created_at"),
        Index("ix_work_task_inbox", "role", "due_at", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow's task id
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    element_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    # The ticket's nearest SLA due moment, copied here so the inbox sorts by urgency on an index.
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    ticket: Mapped[Ticket] = relationship()


class HistoryEvent(Base):
    """Append-only, per-ticket ordered history; each event hashes the one before."""

    __tablename__ = "history_event"
    __table_args__ = (UniqueConstraint("ticket_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    kind: Mapped[str] = mapped_column(String(50))
    actor: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Job(Base):
    """Work for the worker: a waiting BPMN timer to fire when it falls due.

    Written in the transaction of the command that made the instance wait. A worker
    leases a due job (``lease_owner`` until ``lease_expires_at``) before running it in
    a transaction of its own, so a crashed worker's jobs are taken over once the lease
    runs out. A job that keeps failing becomes an ``incident``: no more tries until an
    admin retries it. (Outbox mail has its own due time, attempts and lease, in outbox_mail.)
    """

    __tablename__ = "job"
    # The worker's two questions, each read off an index: what is due and not leased, earliest
    # first (status, due_at, id), and when does the next lease run out (status, lease_expires_at).
    __table_args__ = (
        Index("ix_job_status_due", "status", "due_at", "id"),
        Index("ix_job_status_lease", "status", "lease_expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    task_id: Mapped[str | None] = mapped_column(String(36))
    # When the worker runs it: the timer's moment, or the next try after a failure.
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")  # | incident
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the last failed try


class SlaClock(Base):
    """One SLA clock of a ticket (first response or resolution), its figures
    cached from its segments so boards and reports are plain queries."""

    __tablename__ = "sla_clock"
    __table_args__ = (UniqueConstraint("ticket_id", "metric"), Index("ix_sla_clock_state_due", "state", "due_at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    metric: Mapped[str] = mapped_column(String(30))
    priority: Mapped[str | None] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(50))  # as people read it: "8 working hours"
    state: Mapped[str] = mapped_column(String(10))  # running | paused | stopped
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A breach once recorded stays (C14): when it happened and the priority in force then.
    breached_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    breached_priority: Mapped[str | None] = mapped_column(String(20))
    # The working time the current target allows (the last start or re-grade), for "at risk".
    budget_seconds: Mapped[int | None] = mapped_column(Integer)


class SlaSegment(Base):
    """A dated change of an SLA clock: start, pause, resume, regrade, stop, breach."""

    __tablename__ = "sla_segment"
    __table_args__ = (UniqueConstraint("clock_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    clock_id: Mapped[int] = mapped_column(ForeignKey("sla_clock.id"))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    priority: Mapped[str | None] = mapped_column(String(20))
    budget_seconds: Mapped[int | None] = mapped_column(Integer)  # working time allowed (start, regrade)
    reason: Mapped[str] = mapped_column(String(500), default="")

    # A new clock's first segment names the clock itself: the flush writes both, in that order, so
    # starting a clock needs no flush of its own to learn the clock's id.
    clock: Mapped[SlaClock] = relationship()


class OutboxMail(Base):
    """A mail to send, written in the same transaction as the change that caused it:
    a rolled-back step sends nothing, a committed one is never forgotten."""

    __tablename__ = "outbox_mail"
    __table_args__ = (Index("ix_outbox_mail_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    template: Mapped[str] = mapped_column(String(50))
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="queued")  # queued | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # When the worker next picks the mail up: a queued mail when it is due, a mail being sent
    # ("sending") when the lease of the worker that claimed it runs out. None once sent or failed.
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A reply in a call's conversation (engine/conversation): copies to other contacts of the account
    # (comma-separated), and the threading headers naming the call's earlier mails, so the customer's
    # mail program shows one thread. Its files are the Attachment rows of the Message that names this mail.
    cc_addresses: Mapped[str] = mapped_column(Text, default="", server_default="")
    in_reply_to: Mapped[str | None] = mapped_column(String(300))
    thread_references: Mapped[str] = mapped_column(Text, default="", server_default="")


class Feedback(Base):
    """What the customer said of a resolved call (C27), kept with it."""

    __tablename__ = "feedback"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), index=True)
    rating: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class User(Base):
    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str] = mapped_column(String(300))
    roles: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Sign-in (issue 16): every web session carries the epoch it began in; signing out, a new password or
    # a role taken away moves it on, so every session (and any copy of its cookie) stops at once.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Two-factor sign-in (TOTP, RFC 6238): the shared secret (base32) once confirmed, and the time step
    # of the last code accepted, so a code is never accepted twice.
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # People admin (issue 20): a disabled person signs in nowhere (web, API tokens) until enabled again;
    # after an admin's reset the password is a temporary one, good only for choosing a new one.
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    disabled_by: Mapped[str | None] = mapped_column(String(100))
    password_change_due: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class UserChange(Base):
    """Who changed a person's account, when and how (added, roles, password, two-factor, disabled, enabled):
    written in the same transaction as the change (engine/people/users.py)."""

    __tablename__ = "user_change"
    __table_args__ = (Index("ix_user_change_user_id_at", "user_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(100))  # a username, or "cli:<login>" for the command line
    change: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(String(500), default="", server_default="")


class MailAttempt(Base):
    """One try at handing an outbox mail to the SMTP server, and what came of it."""

    __tablename__ = "mail_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    mail_id: Mapped[int] = mapped_column(ForeignKey("outbox_mail.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    outcome: Mapped[str] = mapped_column(String(10))  # sent | retry | failed
    detail: Mapped[str] = mapped_column(Text, default="")


class InboundMail(Base):
    """A mail received (SMTP or a file), kept whole; it opened a call, was added to one, is held
    for review (``HeldMail``), or was an auto-reply. Receiving the same content twice is a no-op
    (its hash); a Message-ID alone proves nothing (senders reuse them), so it is not unique."""

    __tablename__ = "inbound_mail"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str | None] = mapped_column(String(300), index=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(500))  # "smtp from 10.0.0.5", or the file it came from
    envelope_from: Mapped[str] = mapped_column(String(320), default="")
    from_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(20))  # new_call | added | auto_reply | held | discarded
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    size: Mapped[int] = mapped_column(Integer)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # Why it was not opened as or added to a call: the auto-reply or bulk header, why it is held.
    reason: Mapped[str] = mapped_column(String(500), default="", server_default="")


class MailAttachment(Base):
    """A file that came with an inbound mail; its bytes are kept up to the size limit."""

    __tablename__ = "mail_attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_mail.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)  # None: larger than the limit (the raw mail has it)


class QuarantinedMail(Base):
    """A received mail the desk could not file (unparseable, no sender, refused by the
    process), kept whole with the reason, for a person to look at: never lost."""

    __tablename__ = "mail_quarantine"

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(500))
    envelope_from: Mapped[str] = mapped_column(String(320), default="")
    reason: Mapped[str] = mapped_column(Text)
    size: Mapped[int] = mapped_column(Integer)
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class PortalAccess(Base):
    """A customer's way into the portal (C25): the link in a confirmation mail carries a
    random token; only its hash is kept, so a stolen database opens no portal."""

    __tablename__ = "portal_access"

    id: Mapped[int] = mapped_column(primary_key=True)
    contact_email: Mapped[str] = mapped_column(String(320), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # A link stops working when revoked (by staff) or SUPPORTDESK_PORTAL_LINK_DAYS after it was made.
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# --- the REST API (web/api) ---------------------------------------------------------------------------------

# The API lists tickets in (updated_at, id) order with a cursor on that key (web/api/tickets.py).
Index("ix_ticket_updated_at_id", Ticket.updated_at, Ticket.id)


class ApiToken(Base):
    """A person's key to the REST API (``Authorization: Bearer``). The token is shown once, when it is
    made; only its SHA-256 is kept, so a copy of the database opens nothing. Revoked tokens stay, dated."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))  # what it is for: "CRM sync", "phone system"
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    revoked_by: Mapped[str | None] = mapped_column(String(100))

    user: Mapped[User] = relationship()


class IdempotencyKey(Base):
    """What a create request sent with an ``Idempotency-Key`` answered, so a retry gets the same answer
    instead of creating twice. Written in the transaction of what it created (web/api/idempotency.py)."""

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    key: Mapped[str] = mapped_column(String(200))
    endpoint: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the canonical JSON body
    response_status: Mapped[int] = mapped_column(Integer)
    response_body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Account(Base):
    """A customer organisation and its Account Manager (C10, C19, C20, C28). Calls keep the account's
    name as they were logged (``ticket.account``); this table says who looks after it."""

    __tablename__ = "account"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    account_manager: Mapped[str | None] = mapped_column(String(100), index=True)  # a username
    licence_type: Mapped[str | None] = mapped_column(String(20))  # saas | on_premise
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_by: Mapped[str] = mapped_column(String(100))


# --- sign-in (issue 16) ------------------------------------------------------------------------------------


class SignInFailure(Base):
    """A failed sign-in (wrong password or code, unknown user), for throttling guesses per account and per
    client address across every web process (engine/people/users.py). Rows older than the longest window go."""

    __tablename__ = "sign_in_failure"
    __table_args__ = (
        Index("ix_sign_in_failure_account_at", "account", "at"),
        Index("ix_sign_in_failure_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(100))  # the username tried, lower-cased
    address: Mapped[str] = mapped_column(String(64))  # the client's IP address
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


# --- mail-in trust (issue 16, C03) -------------------------------------------------------------------------


class HeldMail(Base):
    """A received mail that quotes a call (its reference, or one of the call's Message-IDs) from a
    sender who is not that call's contact nor a known contact of its account: held for an advisor,
    who attaches it to a call, opens a new call from it, or discards it with a reason
    (engine/mail/review.py). The decision stays on this row: who, when, what, why."""

    __tablename__ = "held_mail"
    __table_args__ = (Index("ix_held_mail_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inbound_id: Mapped[int] = mapped_column(ForeignKey("inbound_mail.id"), unique=True)
    quoted_reference: Mapped[str] = mapped_column(String(32))  # as the mail quoted it: may name no call
    quoted_ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    why: Mapped[str] = mapped_column(String(500))
    excerpt: Mapped[str] = mapped_column(Text)  # what the sender wrote, for the review page
    held_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[str] = mapped_column(String(10))  # held | attached | new_call | discarded
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decision_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)  # where it went


# --- the conversation (issue 19, C25, C32) ------------------------------------------------------------------


class Message(Base):
    """One entry of a call's conversation (engine/conversation): a public reply by staff (mailed to the
    contact), an internal note, a call-back an advisor logs, a customer's mail, a customer's portal message.
    The portal, the API and the pages read these rows through one function that knows who may see what."""

    __tablename__ = "message"
    __table_args__ = (Index("ix_message_ticket_id_id", "ticket_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"))
    kind: Mapped[str] = mapped_column(String(20))  # reply | note | call_back | customer_mail | portal_message
    public: Mapped[bool] = mapped_column(Boolean)  # False: internal, never shown to the customer nor mailed
    author: Mapped[str] = mapped_column(String(320))  # a username, or the customer's address
    body: Mapped[str] = mapped_column(Text)  # Markdown as written; a customer's mail: its text less the quoted mail
    full_text: Mapped[str | None] = mapped_column(Text)  # a customer's mail whole, when quoting was taken off
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    inbound_mail_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_mail.id"), index=True)
    outbox_mail_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_mail.id"), index=True)


class Attachment(Base):
    """A file in a call's conversation: its metadata here, its bytes in the attachment store
    (engine/conversation/attachments.py): in ``content`` (``storage`` "database"), or in a folder under its
    SHA-256 (``path``, "folder"). A received file over the limits is "none": the received mail keeps it,
    ``not_kept`` says why. A held mail's files wait with no message and no ticket until it joins a call."""

    __tablename__ = "attachment"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id"), index=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"), index=True)
    inbound_mail_id: Mapped[int | None] = mapped_column(ForeignKey("inbound_mail.id"), index=True)
    filename: Mapped[str] = mapped_column(String(255))  # sanitised: no path, no control characters
    content_type: Mapped[str] = mapped_column(String(100))  # as the sender said: never trusted for serving
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    storage: Mapped[str] = mapped_column(String(10))  # database | folder | none
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    path: Mapped[str | None] = mapped_column(String(200))  # relative to SUPPORTDESK_ATTACHMENT_DIR
    not_kept: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


# --- who saw a ticket when (issue 19) -----------------------------------------------------------------------


class TicketSeen(Base):
    """When a person last opened a ticket's page (engine/conversation/seen.py): what is new to them there,
    and whether the customer wrote since (the inbox's and the calls list's "customer replied"). One row per
    person and ticket, moved on at every visit; it is how the desk reads to that person, not the ticket's
    history."""

    __tablename__ = "ticket_seen"

    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


# --- finding the work: search and views (issue 20) ----------------------------------------------------------


class TicketSearch(Base):
    """A ticket's words for the full-text search (engine/store/search_index.py), written in the transaction
    of every command that changes them. On SQLite the text, under an FTS5 table that triggers keep in step;
    on PostgreSQL a tsvector under a GIN index. Those are the database's own, made by migration 0014."""

    __tablename__ = "ticket_search"

    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id"), primary_key=True, autoincrement=False)
    words: Mapped[str] = mapped_column(Text().with_variant(TSVECTOR(), "postgresql"))


class SavedView(Base):
    """Filters of the calls list a person saved under a name (engine/people/saved_views.py): their own, or
    shared with everyone at the desk. ``query`` is the list's query string, as the list reads it."""

    __tablename__ = "saved_view"
    __table_args__ = (UniqueConstraint("user_id", "name"), Index("ix_saved_view_shared_name", "shared", "name"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    name: Mapped[str] = mapped_column(String(100))
    shared: Mapped[bool] = mapped_column(Boolean)
    query: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


# The calls list's sort orders, each read off an index with the id for ties (keyset pages): newest and
# oldest logged, the most urgent deadline (last updated is ix_ticket_updated_at_id); "claimed by" reads
# the open tasks a person claimed.
Index("ix_ticket_created_at_id", Ticket.created_at, Ticket.id)
Index("ix_ticket_next_due_at_id", Ticket.next_due_at, Ticket.id)
# ... and within a status (open, Delayed: the lists people work from), whatever share of the store it holds.
Index("ix_ticket_status_created_at_id", Ticket.status, Ticket.created_at, Ticket.id)
Index("ix_ticket_status_updated_at_id", Ticket.status, Ticket.updated_at, Ticket.id)
Index("ix_ticket_status_next_due_at_id", Ticket.status, Ticket.next_due_at, Ticket.id)
# ... and of one priority within a status (open High calls by deadline: a queue people work from).
Index("ix_ticket_status_priority_next_due_at_id", Ticket.status, Ticket.priority, Ticket.next_due_at, Ticket.id)
Index("ix_work_task_claimed_by", WorkTask.claimed_by)
# "Breached today" reads the breaches recorded since midnight; "at risk now" the clocks' distinct budgets.
Index("ix_sla_clock_breached_at", SlaClock.breached_at)
Index("ix_sla_clock_budget_seconds", SlaClock.budget_seconds)


# --- steps that failed in the engine (issue 21) -------------------------------------------------------------


class StepIncident(Base):
    """A step of a ticket's diagram that failed in the engine while a command ran (no condition of a gateway
    held, an expression or a script raised): the command was rolled back and refused, and this row, written
    in a transaction of its own, says so to those who fix diagrams (engine/tickets/incidents.py). It is not
    in the ticket's history: nothing happened to the ticket. The same command failing again on the same step
    counts another failure; it succeeding (on a corrected version the ticket was moved to) resolves it."""

    __tablename__ = "step_incident"
    __table_args__ = (
        Index("ix_step_incident_ticket_id_resolved_at", "ticket_id", "resolved_at"),
        Index("ix_step_incident_last_failed_at", "last_failed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None when the command was starting the ticket (logging a call): it was rolled back with the command.
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("ticket.id"))
    diagram_version: Mapped[int | None] = mapped_column(Integer)  # its number: the version the step failed on
    process_id: Mapped[str] = mapped_column(String(100), default="", server_default="")
    element_id: Mapped[str] = mapped_column(String(200), default="", server_default="")
    element_name: Mapped[str] = mapped_column(String(500), default="", server_default="")
    error: Mapped[str] = mapped_column(Text)  # one line
    command: Mapped[str] = mapped_column(String(500))  # what was being done, in words
    # What doing it again is (complete:<element>, message:<name>): the same succeeding resolves the incident.
    command_key: Mapped[str | None] = mapped_column(String(300))
    actor: Mapped[str] = mapped_column(String(320))  # for whom the command ran
    first_failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resolved_by: Mapped[str | None] = mapped_column(String(320))
    resolution: Mapped[str | None] = mapped_column(String(500))  # how, in words


# --- the auditor's desk (issue 20, C32) ---------------------------------------------------------------------


class AuditRun(Base):
    """An audit run asked for on the auditor's desk: verify every hash chain, replay every ticket, or what if
    under an uploaded calendar or SLA policy (engine/oversight/audit_runs.py). A worker does it in the
    background and writes its progress and findings here, so any web process shows them, and the run goes on
    when the page that asked is closed. A worker leases the run (as timer jobs are leased); a run whose worker
    died is started again by another once the lease runs out."""

    __tablename__ = "audit_run"
    __table_args__ = (Index("ix_audit_run_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # verify | replay | what_if
    status: Mapped[str] = mapped_column(String(10))  # queued | running | done | failed | cancelled
    requested_by: Mapped[str] = mapped_column(String(100))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # What if: the uploaded file (calendar or policy), as validated when it was uploaded.
    what_if_kind: Mapped[str | None] = mapped_column(String(10))  # calendar | policy
    what_if_name: Mapped[str | None] = mapped_column(String(255))
    what_if_text: Mapped[str | None] = mapped_column(Text)
    total: Mapped[int | None] = mapped_column(Integer)  # tickets to go through, once counted
    done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    findings: Mapped[str | None] = mapped_column(Text)  # JSON, once done
    error: Mapped[str | None] = mapped_column(Text)  # why it failed


# --- mail from the team's own mailboxes over IMAP (issue 24) --------------------------------------------------


class ImapMessage(Base):
    """A message of an IMAP mailbox the desk has taken in (engine/mail/imap.py): written in the same transaction
    as what the message made (its call, its place on one, held, not opened), so a worker that dies before moving
    it out of the folder it reads finds this row on restart and only moves it. A quarantined or refused message
    is written just after the quarantine (which keeps a content only once)."""

    __tablename__ = "imap_message"
    __table_args__ = (
        UniqueConstraint("mailbox", "uidvalidity", "uid"),
        Index("ix_imap_message_mailbox_sha256", "mailbox", "sha256"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(100))  # its name in the settings (SUPPORTDESK_IMAP_MAILBOXES)
    uidvalidity: Mapped[int] = mapped_column(BigInteger)  # IMAP's UIDVALIDITY and UID are 32-bit unsigned
    uid: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))  # of the raw message
    filed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # "" filed (a call, held, not opened, received before); quarantined | too_large: moved to the unreadable folder.
    outcome: Mapped[str] = mapped_column(String(20), default="", server_default="")
    moved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class ImapMailboxState(Base):
    """How fetching one configured mailbox goes: its last fetch, and while it fails (unreachable, login refused)
    the server's answer, since when, and when the worker tries again (backoff). Shown to admins."""

    __tablename__ = "imap_mailbox_state"

    mailbox: Mapped[str] = mapped_column(String(100), primary_key=True)
    last_fetch_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the last try, good or bad
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)  # None once a fetch succeeds again
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # in a row
    next_try_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


# --- the SLA forecast (issue 22, C31) ---------------------------------------------------------------------


class SlaForecast(Base):
    """A forecast of a period's SLA attainment (engine/oversight/forecast.py), kept with what it knew: the
    inputs it read from the store (``inputs``, JSON) and what it said (``result``, JSON), so an auditor can
    see what was known when a warning went out."""

    __tablename__ = "sla_forecast"
    __table_args__ = (Index("ix_sla_forecast_period", "period", "first_day", "made_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    made_at: Mapped[datetime] = mapped_column(UtcDateTime)  # the moment the store was read as of
    made_by: Mapped[str] = mapped_column(String(100))  # worker | a username (CLI, API)
    period: Mapped[str] = mapped_column(String(10))  # week | month
    first_day: Mapped[date] = mapped_column(Date)  # London dates of the period
    last_day: Mapped[date] = mapped_column(Date)
    runs: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger)
    method: Mapped[str] = mapped_column(String(200))
    short_history: Mapped[bool] = mapped_column(Boolean, default=False)
    inputs: Mapped[str] = mapped_column(Text)
    result: Mapped[str] = mapped_column(Text)


class SlaForecastWarning(Base):
    """The customer services manager was warned that a goal may be missed this period: once per period and
    goal (the unique constraint holds that, even for two workers at once)."""

    __tablename__ = "sla_forecast_warning"
    __table_args__ = (UniqueConstraint("period", "first_day", "metric", "line"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    forecast_id: Mapped[int] = mapped_column(ForeignKey("sla_forecast.id"), index=True)
    period: Mapped[str] = mapped_column(String(10))
    first_day: Mapped[date] = mapped_column(Date)
    metric: Mapped[str] = mapped_column(String(30))
    line: Mapped[str] = mapped_column(String(20))  # the priority, or All
    chance_of_miss: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    recipients: Mapped[str] = mapped_column(Text)  # the addresses mailed, comma-separated
