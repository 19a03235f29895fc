"""The outbox: mail is written here in the command's transaction and delivered
by the worker after commit (delivery over SMTP arrives with the mail issue).

Every mail has a stable Message-ID and the ticket's reference in its subject
(``[SUP-2026-000123] ...``), so replies thread onto the call (C03).
"""

from __future__ import annotations

import uuid
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from .models import OutboxMail, Ticket

TEMPLATES = Path(__file__).resolve().parent / "templates" / "mail"

_environment = Environment(loader=FileSystemLoader(TEMPLATES), undefined=StrictUndefined,
                           autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
                           trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)


def render(template: str, context: dict) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of a mail template."""
    subject = _environment.get_template(f"{template}.subject.txt").render(context).strip()
    text = _environment.get_template(f"{template}.txt").render(context)
    html = _environment.get_template(f"{template}.html").render(context)
    return subject, text, html


def queue_mail(session: Session, ticket: Ticket, template: str, to: str, context: dict, *, now,
               mail_domain: str) -> OutboxMail:
    context = {"ticket": ticket, **context}
    subject, text, html = render(template, context)
    mail = OutboxMail(ticket_id=ticket.id, template=template, to_address=to,
                      subject=f"[{ticket.reference}] {subject}", body_text=text, body_html=html,
                      message_id=f"<{uuid.uuid4()}@{mail_domain}>", status="queued", attempts=0, created_at=now)
    session.add(mail)
    session.flush()
    return mail
