"""The outbox: mail is written here in the command's transaction and delivered
by the worker after commit (``engine/mail/delivery.py``), so a rolled-back
step sends nothing and a committed one is never forgotten.

Every mail has a stable Message-ID and the ticket's reference in its subject
(``[SUP-2026-000123] ...``), so replies thread onto the call (C03).
"""

from __future__ import annotations

import uuid
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from supportdesk.engine.settings import Settings
from supportdesk.engine.store.models import OutboxMail, Ticket

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "mail"
SUBJECT_LIMIT = 300  # the outbox_mail.subject column

# RFC 3834: tells the customer's out-of-office responder not to answer (no mail loops).
# The confirmation answers the customer's own mail; the others are sent by the desk on its own.
AUTO_SUBMITTED = {"confirmation": "auto-replied"}


def _paragraphs(text: str) -> Markup:
    """A person's text in HTML: escaped, its line breaks kept."""
    return Markup("<br>\n").join(escape(line) for line in str(text).splitlines())


_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    undefined=StrictUndefined,
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)
_environment.filters["paragraphs"] = _paragraphs


def render(template: str, context: dict) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of a mail template."""
    subject = _environment.get_template(f"{template}.subject.txt").render(context).strip()
    text = _environment.get_template(f"{template}.txt").render(context)
    html = _environment.get_template(f"{template}.html").render(context)
    return subject, text, html


def queue_mail(
    session: Session,
    ticket: Ticket,
    template: str,
    to: str,
    context: dict,
    *,
    now,
    mail_domain: str,
    cc: tuple[str, ...] = (),
    in_reply_to: str | None = None,
    references: tuple[str, ...] = (),
) -> OutboxMail:
    """``cc``, ``in_reply_to`` and ``references``: a reply in the call's conversation, copied to other
    contacts and threaded onto the call's earlier mails (engine/conversation). The mail is added to the
    session, not flushed: a caller that needs its id flushes."""
    context = {"ticket": ticket, **context}
    subject, text, html = render(template, context)
    mail = OutboxMail(
        ticket_id=ticket.id,
        template=template,
        to_address=to,
        subject=" ".join(f"[{ticket.reference}] {subject}".split())[:SUBJECT_LIMIT],
        body_text=text,
        body_html=html,
        message_id=f"<{uuid.uuid4()}@{mail_domain}>",
        status="queued",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
        cc_addresses=", ".join(cc),
        in_reply_to=in_reply_to,
        thread_references=" ".join(references),
    )
    session.add(mail)  # written by the command's one flush: nothing here needs its id
    return mail


def to_message(mail: OutboxMail, settings: Settings) -> EmailMessage:
    """The mail as it goes over the wire. The same on every try: the stored Message-ID and
    the moment it was queued as its Date, so a receiver can tell a re-sent copy."""
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = mail.to_address
    if mail.cc_addresses:
        message["Cc"] = mail.cc_addresses
    if settings.support_address and address_of(settings.support_address) != address_of(settings.mail_from):
        message["Reply-To"] = settings.support_address  # replies reach the inbound desk
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at)
    message["Message-ID"] = mail.message_id
    if mail.in_reply_to:
        message["In-Reply-To"] = mail.in_reply_to
    if mail.thread_references:
        message["References"] = mail.thread_references
    message["Auto-Submitted"] = AUTO_SUBMITTED.get(mail.template, "auto-generated")
    message["X-Auto-Response-Suppress"] = "All"  # the same request, as Microsoft Exchange reads it
    message.set_content(mail.body_text)
    message.add_alternative(mail.body_html, subtype="html")
    return message


def recipients(mail: OutboxMail) -> list[str]:
    """Everyone the mail goes to (SMTP's RCPT TO): its To, then its copies."""
    return [mail.to_address, *filter(None, (address.strip() for address in mail.cc_addresses.split(",")))]


def address_of(mailbox: str) -> str:
    """The bare address of ``"Name <user@host>"``, lower-cased ("" when there is none)."""
    parsed = getaddresses([mailbox])
    return parsed[0][1].strip().lower() if parsed else ""


def envelope_sender(settings: Settings) -> str:
    """Where bounces go (SMTP's MAIL FROM): the From address."""
    return address_of(settings.mail_from)
