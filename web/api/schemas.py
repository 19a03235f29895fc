"""The API's request and response bodies (marshmallow): they check the shape of what comes in and
write what goes out, and the OpenAPI description is generated from them.

They check shape only (types, required keys, unknown keys refused) and the desk's bounds
(``engine.bounds``: text without NUL or lone surrogates and of a sane length, whole numbers a
column holds, offsets, moments between 1970 and 2199). What a value may be is the engine's
call, so the API refuses exactly what the web desk and the CLI refuse, with the same
messages: a call's details (``CallDetails.validated``), a task's form (``forms.clean``), a report's
dates (``reports.requested_range``). Vocabularies are shown in the description as ``enum``.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC

import marshmallow as ma
from marshmallow import fields, validate

from supportdesk.engine.bounds import (
    FIRST_DATE,
    LAST_DATE,
    MAX_ID,
    MAX_OFFSET,
    MAX_REPORT_YEARS,
    MAX_TEXT,
    date_problem,
    moment_problem,
    text_problem,
)
from supportdesk.engine.conversation.attachments import MAX_FILES, OCTET_STREAM
from supportdesk.engine.conversation.commands import KINDS as ENTRY_KINDS
from supportdesk.engine.oversight.reports import PERIODS
from supportdesk.engine.people.portal import PUBLIC_EVENTS
from supportdesk.engine.process.roles import ROLES, TASK_ROLES
from supportdesk.engine.tickets import queries
from supportdesk.engine.tickets.calls import CHANNELS, LICENCE_TYPES, REQUEST_KINDS, SYMPTOMS
from supportdesk.engine.tickets.queries import KINDS, NONE, SORTS, STATUSES
from supportdesk.engine.working_time.sla_policy import METRICS, PRIORITIES

from ..ticket_page import PROGRESS_MESSAGES
from .problems import TYPE_PREFIX, TYPES

MAX_PAGE = queries.MAX_PAGE
NAME_LIMIT = queries.NAME_CHARS
SEARCH_CHARS = queries.SEARCH_CHARS
NOTE_LIMIT = 1000
REFERENCE_LIMIT = 32  # the ticket.reference column
CURSOR_LIMIT = 200  # ours are about 60 characters
DATE_TEXT_LIMIT = 32


class Moment(fields.AwareDateTime):
    """A moment as the API writes it: ISO 8601 in UTC (the store's; London time is for people)."""

    def _serialize(self, value, attr, obj, **kwargs):
        return super()._serialize(value.astimezone(UTC) if value is not None else None, attr, obj, **kwargs)


# --- what comes in: bounded (engine.bounds) -------------------------------------------------------------------


def _storable(value: str) -> None:
    problem = text_problem(value)
    if problem:
        raise ma.ValidationError(problem)


def _in_range(value) -> None:
    problem = moment_problem(value)
    if problem:
        raise ma.ValidationError(problem)


def _on_a_desk_date(value) -> None:
    problem = date_problem(value)
    if problem:
        raise ma.ValidationError(problem)


def _validators(extra, *own) -> list:
    return [*own, *(extra if isinstance(extra, list | tuple) else [extra] if extra else [])]


class Text(fields.String):
    """Text the desk can store: no NUL, no lone surrogate, at most ``max_length`` characters."""

    def __init__(self, *, max_length: int = MAX_TEXT, validate=None, **kwargs):
        super().__init__(validate=_validators(validate, validate_length(max_length), _storable), **kwargs)


def validate_length(max_length: int):
    return validate.Length(max=max_length, error="At most {max} characters")


class Whole(fields.Integer):
    """A whole number from ``minimum`` to ``maximum`` (by default what an id column holds)."""

    def __init__(self, *, minimum: int = 0, maximum: int = MAX_ID, validate=None, **kwargs):
        super().__init__(validate=_validators(validate, ma.validate.Range(minimum, maximum)), **kwargs)


class MomentIn(fields.AwareDateTime):
    """A moment with its time zone, between 1970 and 2199."""

    def __init__(self, *, validate=None, **kwargs):
        super().__init__(validate=_validators(validate, _in_range), **kwargs)


def _enum(values, **metadata) -> dict:
    return {"enum": list(values), **metadata}


class Problem(ma.Schema):
    """RFC 9457 problem details: every error answer of this API has this shape."""

    type = fields.String(
        required=True,
        metadata=_enum(
            [TYPE_PREFIX + kind for kind in TYPES],
            description=(
                "What went wrong, stable for clients to switch on. http-error: another HTTP error, see status."
            ),
        ),
    )
    title = fields.String(required=True, metadata={"description": "A short summary of the type"})
    status = fields.Integer(required=True)
    detail = fields.String(required=True, metadata={"description": "What happened, for a person"})
    errors = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={
            "description": '400 only: each field in error and its message, e.g. {"contact_email": "..."}; '
            "_body is about the request as a whole, _form about a task form's unknown fields"
        },
    )
    incident = fields.Integer(
        metadata={"description": "step-failed only: the incident recorded for the administrators"}
    )
    element = fields.String(
        metadata={"description": "step-failed only: the diagram element that failed, its id and name"}
    )


# --- calls and tickets -------------------------------------------------------------------------------------


class CallIn(ma.Schema):
    """A call as the first-line advisor takes it (C01, C02, C05-C10)."""

    contact_name = Text(required=True)
    contact_email = Text(required=True)
    account = Text(required=True, metadata={"description": "The account's name (see /accounts)"})
    summary = Text(required=True)
    channel = Text(load_default="phone", metadata=_enum(CHANNELS))
    licence_type = Text(load_default="saas", metadata=_enum(LICENCE_TYPES))
    request_kind = Text(load_default="problem", metadata=_enum(REQUEST_KINDS))
    symptom = Text(load_default="other", metadata=_enum(SYMPTOMS, description="What blocks the customer (C06)"))
    campaign_at = MomentIn(
        load_default=None,
        allow_none=True,
        metadata={"description": "The customer's next campaign, with its time zone (C06: a High priority when close)"},
    )
    preparing_campaign = fields.Boolean(load_default=False)


class EscalationIn(ma.Schema):
    """C28: a dissatisfied customer's concern. With ``call_reference`` the escalation is linked to that call
    and takes its contact; without, name the contact."""

    concern = Text(required=True)
    call_reference = Text(load_default=None, allow_none=True, max_length=REFERENCE_LIMIT)
    contact_name = Text(load_default="")
    contact_email = Text(load_default="")
    account = Text(load_default="")


class CreatedTicket(ma.Schema):
    reference = fields.String(required=True, metadata={"description": "The Call Reference (SUP-, ESC-, TRN-)"})
    kind = fields.String(required=True, metadata=_enum(KINDS))
    status = fields.String(required=True, metadata=_enum(STATUSES))
    priority = fields.String(allow_none=True, required=True)
    parent_reference = fields.String(allow_none=True, required=True)
    created_at = Moment(required=True)


class Clock(ma.Schema):
    """An SLA clock as it stands at the moment asked, in working time (C12-C14, C21-C24)."""

    metric = fields.String(required=True, metadata=_enum(METRICS))
    priority = fields.String(allow_none=True, required=True)
    target = fields.String(required=True, metadata={"example": "8 working hours"})
    state = fields.String(required=True, metadata=_enum(("running", "paused", "stopped")))
    started_at = Moment(required=True)
    due_at = Moment(
        allow_none=True,
        required=True,
        metadata={"description": "When the target is missed; null while paused with time left"},
    )
    elapsed_seconds = fields.Integer(required=True, metadata={"description": "Working time used"})
    remaining_seconds = fields.Integer(
        required=True, metadata={"description": "Working time left; negative when overdue"}
    )
    breached = fields.Boolean(
        required=True,
        metadata={
            "description": "A breach was recorded (it stays through any later re-grade, pause or re-open, C14), "
            "or the clock runs past its due moment"
        },
    )
    breached_at = Moment(
        allow_none=True, required=True, metadata={"description": "When the breach happened: the due moment then"}
    )
    breached_priority = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The priority in force when it was breached (reports count the breach against it)"},
    )
    at_risk = fields.Boolean(
        required=True,
        metadata={
            "description": "Running, not breached, and the SLA policy's last share of its target's working time "
            "has begun (default: a quarter or less left)"
        },
    )


class Task(ma.Schema):
    task_id = fields.String(required=True)
    reference = fields.String(required=True)
    title = fields.String(required=True)
    role = fields.String(required=True, metadata=_enum(TASK_ROLES, description="The lane: who does it"))
    created_at = Moment(required=True)
    claimed_by = fields.String(allow_none=True, required=True)
    summary = fields.String(required=True)
    account = fields.String(required=True)
    priority = fields.String(allow_none=True, required=True)
    due_at = Moment(allow_none=True, required=True, metadata={"description": "The ticket's nearest SLA deadline"})


class PublicEvent(ma.Schema):
    """A step of the call as its customer sees it (the portal's updates, C25)."""

    at = Moment(required=True)
    kind = fields.String(required=True, metadata=_enum(PUBLIC_EVENTS))
    title = fields.String(required=True)
    detail = fields.String(required=True)


class Ticket(ma.Schema):
    reference = fields.String(required=True)
    kind = fields.String(required=True, metadata=_enum(KINDS))
    parent_reference = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "The call an escalation or training request belongs to"},
    )
    status = fields.String(required=True, metadata=_enum(STATUSES))
    priority = fields.String(allow_none=True, required=True, metadata=_enum((*PRIORITIES, None)))
    outcome = fields.String(allow_none=True, required=True)
    channel = fields.String(required=True)
    contact_name = fields.String(required=True)
    contact_email = fields.String(required=True)
    account = fields.String(required=True)
    summary = fields.String(required=True)
    created_at = Moment(required=True)
    closed_at = Moment(allow_none=True, required=True)
    diagram_version = fields.Integer(required=True)
    revision = fields.Integer(
        required=True,
        metadata={"description": "Changes with every step: send it back when completing a task to refuse a stale form"},
    )
    clocks = fields.List(fields.Nested(Clock), required=True)
    open_tasks = fields.List(fields.Nested(Task), required=True)
    history = fields.List(
        fields.Nested(PublicEvent),
        required=True,
        metadata={"description": "The public history: what the customer is shown, never internal notes"},
    )


class TicketQuery(ma.Schema):
    """The calls list's search and filters (the web desk's Calls page): every one given must hold."""

    q = Text(
        max_length=SEARCH_CHARS,
        metadata={
            "description": "Words, each the start of a word of the ticket's Call Reference, contact, account, "
            "summary or conversation (all of them in one ticket); a Call Reference finds that ticket exactly"
        },
    )
    status = Text(validate=validate.OneOf(STATUSES))
    priority = Text(validate=validate.OneOf((*PRIORITIES, NONE)), metadata={"description": "none: not triaged yet"})
    kind = Text(validate=validate.OneOf(KINDS))
    role = Text(
        validate=validate.OneOf((*TASK_ROLES, NONE)),
        metadata={
            "description": "Tickets with an open task of this role (the tier: first, second, third line...); "
            "none: with no open task"
        },
    )
    account = Text(metadata={"description": "The account's name, exactly"})
    account_manager = Text(
        max_length=NAME_LIMIT,
        metadata={"description": "Tickets of the accounts this person manages: a username, or me"},
    )
    claimed_by = Text(
        max_length=NAME_LIMIT,
        metadata={"description": "Tickets with an open task this person claimed: a username, or me"},
    )
    breached = fields.Boolean(
        metadata={
            "description": "true: tickets with an SLA clock that missed its target (or runs past it); false: none"
        }
    )
    breached_on = fields.Date(
        validate=_on_a_desk_date,
        metadata={"description": "Tickets with an SLA clock that missed its target on this London day"},
    )
    breached_priority = Text(
        validate=validate.OneOf((*PRIORITIES, NONE)),
        metadata={
            "description": "Tickets breached under this priority: the one in force when the resolution clock "
            "breached (C14), else (only the first response breached) the call's; none: not triaged"
        },
    )
    at_risk = fields.Boolean(
        metadata={"description": "true: tickets with an SLA clock at risk now (C14: running, little time left)"}
    )
    waiting_on_customer = fields.Boolean(metadata={"description": "true: Delayed calls, waiting on the customer (C22)"})
    customer_replied = fields.Boolean(
        metadata={"description": "true: the customer wrote since you last opened the call's page"}
    )
    logged_from = MomentIn(metadata={"description": "Logged at or after this moment"})
    logged_before = MomentIn(metadata={"description": "Logged before this moment"})
    updated_since = MomentIn(metadata={"description": "Changed at or after this moment"})
    updated_before = MomentIn(metadata={"description": "Changed before this moment"})
    sort = Text(
        load_default="changes",
        validate=validate.OneOf(tuple(SORTS)),
        metadata={"description": "; ".join(f"{name}: {label}" for name, label in SORTS.items())},
    )
    limit = Whole(load_default=50, minimum=1, maximum=MAX_PAGE)
    cursor = Text(
        max_length=CURSOR_LIMIT, metadata={"description": "next_cursor of the previous page, in the same sort"}
    )


class TicketRow(ma.Schema):
    reference = fields.String(required=True)
    kind = fields.String(required=True, metadata=_enum(KINDS))
    status = fields.String(required=True, metadata=_enum(STATUSES))
    priority = fields.String(allow_none=True, required=True)
    account = fields.String(required=True)
    contact_name = fields.String(required=True)
    summary = fields.String(required=True)
    created_at = Moment(required=True)
    updated_at = Moment(required=True)
    closed_at = Moment(allow_none=True, required=True)
    next_due_at = Moment(
        allow_none=True, required=True, metadata={"description": "The nearest due moment of its running SLA clocks"}
    )
    breached = fields.Boolean(required=True)


class TicketPage(ma.Schema):
    """A page of tickets in the order asked for; by default the order they were last changed (oldest
    change first), so a client that keeps ``next_cursor``, or the last updated_at, sees every later change."""

    items = fields.List(fields.Nested(TicketRow), required=True)
    next_cursor = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Pass as cursor for the next page; null on the last page"},
    )


class MessageIn(ma.Schema):
    """Work can progress on a Delayed call (C24): what happened."""

    message = Text(
        required=True,
        validate=validate.OneOf(PROGRESS_MESSAGES),
        metadata={"description": "; ".join(f"{name}: {label}" for name, label in PROGRESS_MESSAGES.items())},
    )
    note = Text(load_default="", max_length=NOTE_LIMIT)


class IdempotencyHeader(ma.Schema):
    class Meta:
        unknown = ma.EXCLUDE

    key = Text(
        data_key="Idempotency-Key",
        max_length=200,
        validate=validate.Length(min=1),
        metadata={
            "description": "Any unique string (a UUID): a retry with the same key and body gets the first answer "
            "and creates nothing; the same key with another body is refused (422)"
        },
    )


# --- the conversation (issue 19) ----------------------------------------------------------------------------

# What staff write through the API; the customer's entries come by mail and from the portal.
WRITTEN_KINDS = {
    "reply": "a public reply, mailed to the call's contact (copies to `cc`) with its files",
    "note": "an internal note: never mailed, never shown to the customer",
    "call_back": "a phone call you made to the customer, as you tell it (public; no files)",
}
MAX_CC = 20
FILENAME_LIMIT = 1000  # the engine keeps at most 255 characters of it, its extension kept
CONTENT_TYPE_LIMIT = 255


class Base64Bytes(fields.String):
    """Bytes as base64 text (RFC 4648: the standard alphabet, padded, no line breaks): JSON has no bytes."""

    def __init__(self, **kwargs):
        metadata = {"format": "byte", **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> bytes:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):  # ValueError: characters outside ASCII
            raise ma.ValidationError("Not base64: A-Z, a-z, 0-9, + and /, padded with =, no line breaks") from None


class ConversationFileIn(ma.Schema):
    """A file sent with an entry, its bytes in base64."""

    filename = Text(
        required=True,
        max_length=FILENAME_LIMIT,
        metadata={
            "description": "Its name: kept without any path or control characters, at most 255 characters",
            "example": "import.log",
        },
    )
    content_type = Text(
        load_default=OCTET_STREAM,
        max_length=CONTENT_TYPE_LIMIT,
        metadata={
            "description": "What the file is, as a label: a download is served as its own type only when a "
            "browser cannot run it (HTML, SVG, XML and the like go as application/octet-stream)",
            "example": "text/plain",
        },
    )
    content = Base64Bytes(
        required=True,
        metadata={"description": "The file's bytes in base64 (RFC 4648)", "example": "cm93IDQwOiBzdHJheSBCT00K"},
    )


class ConversationEntryIn(ma.Schema):
    """An entry written by staff: a reply, an internal note or a call-back. What it must hold is the
    engine's call, with the web desk's messages (``errors`` names body, attachments or cc)."""

    kind = Text(
        required=True,
        validate=validate.OneOf(WRITTEN_KINDS),
        metadata={"description": "; ".join(f"{name}: {what}" for name, what in WRITTEN_KINDS.items())},
    )
    body = Text(
        load_default="",
        metadata={
            "description": "Markdown (CommonMark, no raw HTML): what the customer reads in the mail and on the "
            "portal, rendered and sanitised. Required unless a reply or note sends files",
            "example": "The import failed at row 40: the file starts with a **byte order mark**.",
        },
    )
    cc = fields.List(
        Text(max_length=320),
        load_default=list,
        validate=validate.Length(max=MAX_CC),
        metadata={
            "description": "A reply only: copies to other known contacts of the call's account (C03); anyone "
            "else is refused (400)",
            "example": ["bob@example.com"],
        },
    )
    attachments = fields.List(
        fields.Nested(ConversationFileIn),
        load_default=list,
        validate=validate.Length(max=MAX_FILES),
        metadata={"description": f"A reply or note only: at most {MAX_FILES} files, within the desk's size limits"},
    )

    @ma.validates_schema
    def _fits_its_kind(self, data: dict, **_kwargs) -> None:
        kind, problems = data.get("kind"), {}
        if data.get("cc") and kind != "reply":
            problems["cc"] = ["Only a reply is mailed, so only a reply has copies"]
        if data.get("attachments") and kind == "call_back":
            problems["attachments"] = ["A call-back has no files: add them to a note or a reply"]
        if problems:
            raise ma.ValidationError(problems)


class ConversationFile(ma.Schema):
    id = fields.Integer(required=True)
    filename = fields.String(required=True, metadata={"example": "import.log"})
    content_type = fields.String(
        required=True, metadata={"description": "As the sender declared it: a label, never trusted for serving"}
    )
    size = fields.Integer(required=True, metadata={"description": "In bytes"})
    sha256 = fields.String(required=True, metadata={"description": "Of the content, in hex"})
    kept = fields.Boolean(
        required=True,
        metadata={"description": "false: a received mail's file over the size limits, not kept (the mail has it)"},
    )
    not_kept = fields.String(required=True, metadata={"description": "Why it was not kept; empty when kept"})
    url = fields.String(required=True, metadata={"description": "Where to download it (GET, your token)"})


class ConversationEntry(ma.Schema):
    """One entry of a call's conversation, oldest first."""

    id = fields.Integer(required=True)
    kind = fields.String(required=True, metadata=_enum(ENTRY_KINDS))
    title = fields.String(required=True, metadata=_enum(ENTRY_KINDS.values(), description="The kind, in words"))
    public = fields.Boolean(
        required=True, metadata={"description": "false: an internal note, never shown to the customer"}
    )
    author = fields.String(required=True, metadata={"description": "A username, or the customer's address"})
    author_name = fields.String(required=True, metadata={"description": "A person's name, or the customer's address"})
    body = fields.String(
        required=True,
        metadata={"description": "Markdown as written; a customer's mail: its text without the mail it quotes"},
    )
    html = fields.String(required=True, metadata={"description": "The body as sanitised HTML, safe to show"})
    full_text = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "A customer's mail whole, when quoting was taken off its body; else null"},
    )
    created_at = Moment(required=True)
    attachments = fields.List(fields.Nested(ConversationFile), required=True)


class Conversation(ma.Schema):
    items = fields.List(fields.Nested(ConversationEntry), required=True)


class ConversationQuery(ma.Schema):
    public_only = fields.Boolean(
        load_default=False,
        metadata={"description": "true: only what the customer sees on the portal (no internal notes)"},
    )


# --- tasks -------------------------------------------------------------------------------------------------


class TaskQuery(ma.Schema):
    role = Text(
        validate=validate.OneOf(TASK_ROLES),
        metadata={"description": "One of your roles (default: all of them; an admin sees every role's tasks)"},
    )
    limit = Whole(load_default=50, minimum=1, maximum=MAX_PAGE)
    offset = Whole(load_default=0, maximum=MAX_OFFSET)


class TaskList(ma.Schema):
    """The inbox: the most urgent SLA deadline first."""

    items = fields.List(fields.Nested(Task), required=True)


class Option(ma.Schema):
    value = fields.String(required=True)
    label = fields.String(required=True)


class FormField(ma.Schema):
    id = fields.String(required=True)
    label = fields.String(required=True)
    type = fields.String(required=True, metadata=_enum(("string", "text", "long", "boolean", "date", "enum")))
    required = fields.Boolean(required=True)
    options = fields.List(fields.Nested(Option), required=True)
    default = fields.String(allow_none=True, required=True)
    constraints = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "The diagram's constraints: minlength, maxlength, min, max"},
    )


class TaskForm(ma.Schema):
    """What completing the task asks for, as the ticket's diagram version declares it."""

    task = fields.Nested(Task, required=True)
    revision = fields.Integer(required=True)
    fields_ = fields.List(fields.Nested(FormField), data_key="fields", attribute="fields", required=True)
    context = fields.Dict(
        required=True,
        metadata={"description": "What the form shows beside its fields, e.g. the suggested priority and why"},
    )


class Completion(ma.Schema):
    """The task's form data, checked exactly as the web form's (the engine's forms.clean)."""

    data = fields.Dict(
        keys=Text(max_length=200),
        values=fields.Raw(allow_none=True),
        load_default=dict,
        metadata={"description": 'Field id to value (string, number, boolean or null), e.g. {"priority": "High"}'},
    )
    revision = Whole(
        load_default=None,
        allow_none=True,
        strict=True,
        metadata={"description": "The ticket revision the values were chosen at: a ticket changed since is a 409"},
    )


# --- accounts ------------------------------------------------------------------------------------------------


class Account(ma.Schema):
    name = fields.String(required=True)
    account_manager = fields.String(allow_none=True, required=True, metadata={"description": "A username"})
    licence_type = fields.String(allow_none=True, required=True, metadata=_enum((*LICENCE_TYPES, None)))
    created_at = Moment(required=True)
    updated_at = Moment(required=True)
    updated_by = fields.String(required=True)


class AccountIn(ma.Schema):
    name = Text(required=True)
    account_manager = Text(
        load_default=None,
        allow_none=True,
        metadata={"description": "The username of a person with the account_manager role"},
    )
    licence_type = Text(load_default=None, allow_none=True, metadata=_enum((*LICENCE_TYPES, None)))


class AccountChange(ma.Schema):
    """Only the keys sent change; null clears. The name is the account's key and does not change."""

    account_manager = Text(allow_none=True)
    licence_type = Text(allow_none=True, metadata=_enum((*LICENCE_TYPES, None)))


class AccountQuery(ma.Schema):
    account_manager = Text()
    limit = Whole(load_default=100, minimum=1, maximum=500)
    offset = Whole(load_default=0, maximum=MAX_OFFSET)


class AccountList(ma.Schema):
    items = fields.List(fields.Nested(Account), required=True)


# --- tokens and who am I -------------------------------------------------------------------------------------


class Me(ma.Schema):
    username = fields.String(required=True)
    display_name = fields.String(required=True)
    email = fields.String(required=True)
    roles = fields.List(fields.String(metadata=_enum(ROLES)), required=True)


class TokenIn(ma.Schema):
    name = Text(required=True, metadata={"description": "What it is for: 'CRM sync'"})
    username = Text(
        load_default=None,
        allow_none=True,
        metadata={"description": "Whose token (default: yours; another person's: admin only)"},
    )


class Token(ma.Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    name = fields.String(required=True)
    created_at = Moment(required=True)
    created_by = fields.String(required=True)
    last_used_at = Moment(allow_none=True, required=True, metadata={"description": "To the minute"})
    revoked_at = Moment(allow_none=True, required=True)
    revoked_by = fields.String(allow_none=True, required=True)
    active = fields.Boolean(required=True)


class NewToken(Token):
    token = fields.String(
        required=True, metadata={"description": "The token itself: shown this once, only its hash is kept"}
    )


class TokenQuery(ma.Schema):
    username = Text(metadata={"description": "Another person's tokens (admin only)"})


class TokenList(ma.Schema):
    items = fields.List(fields.Nested(Token), required=True)


# --- the SLA report (C31) ------------------------------------------------------------------------------------


class ReportQuery(ma.Schema):
    """As the CLI's ``report sla`` and the web page: checked by reports.requested_range."""

    period = Text(max_length=DATE_TEXT_LIMIT, metadata=_enum(PERIODS, description="Default: week"))
    start = Text(
        data_key="from",
        max_length=DATE_TEXT_LIMIT,
        metadata={
            "description": f"First London date, YYYY-MM-DD (default: a few periods back); from {FIRST_DATE} to "
            f"{LAST_DATE}, at most {MAX_REPORT_YEARS} years before the last",
            "format": "date",
        },
    )
    end = Text(
        data_key="to",
        max_length=DATE_TEXT_LIMIT,
        metadata={"description": "Last London date, included (default: today)", "format": "date"},
    )


class Figures(ma.Schema):
    with_outcome = fields.Integer(required=True)
    met = fields.Integer(required=True)
    breached = fields.Integer(required=True)
    attainment = fields.Float(
        allow_none=True,
        required=True,
        metadata={"description": "The share met, 0 to 1; null when no clock had an outcome"},
    )


class PeriodFigures(Figures):
    first_day = fields.Date(required=True)


class ReportLine(ma.Schema):
    metric = fields.String(required=True, metadata=_enum(METRICS))
    priority = fields.String(required=True, metadata={"description": "A priority, or All"})
    goal = fields.Float(required=True)
    total = fields.Nested(Figures, required=True)
    periods = fields.List(fields.Nested(PeriodFigures), required=True)


class ReportBreach(ma.Schema):
    reference = fields.String(required=True)
    metric = fields.String(required=True, metadata=_enum(METRICS))
    priority = fields.String(allow_none=True, required=True)
    due = Moment(required=True)
    stopped = Moment(allow_none=True, required=True, metadata={"description": "null: still open"})
    late_working_minutes = fields.Integer(required=True)


class Report(ma.Schema):
    """The C31 report: the same figures as ``supportdesk report sla --format json`` and the web page."""

    period = fields.String(required=True, metadata=_enum(PERIODS))
    start = fields.Date(data_key="from", required=True)
    end = fields.Date(data_key="to", required=True)
    generated_at = Moment(required=True)
    goals = fields.Dict(keys=fields.String(), values=fields.Float(), required=True)
    lines = fields.List(fields.Nested(ReportLine), required=True)
    breaches = fields.List(fields.Nested(ReportBreach), required=True)
    at_risk = fields.Dict(
        keys=fields.String(metadata=_enum(METRICS)),
        values=fields.Integer(),
        required=True,
        metadata={
            "description": "Per metric, the calls in the range whose clock is at risk now "
            "(running, not breached, its last share of working time begun)"
        },
    )
