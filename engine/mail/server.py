"""The SMTP receiver (``supportdesk mail-server``): mail for the support address,
filed as it arrives. The sender is told "250" only once the mail is committed, and
"451, try again later" when the store failed, so its mail server keeps and resends
it: no mail is lost between the two."""

from __future__ import annotations

import asyncio
import functools
import logging

from aiosmtpd.controller import Controller

from supportdesk.engine.desk import Desk
from supportdesk.engine.mail.inbound import receive
from supportdesk.engine.tickets.outbox import address_of

log = logging.getLogger(__name__)


class SupportMailbox:
    """aiosmtpd handler: accepts mail for the support address, files each message."""

    def __init__(self, desk: Desk):
        self.desk = desk
        self.address = address_of(desk.settings.support_address)

    async def handle_RCPT(self, server, session, envelope, address: str, rcpt_options) -> str:
        if self.address and address.strip().lower() != self.address:
            return f"550 5.1.1 no such mailbox here; write to <{self.address}>"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:
        peer = session.peer[0] if isinstance(session.peer, tuple) else session.peer
        filing = functools.partial(
            receive,
            self.desk,
            envelope.original_content,
            source=f"smtp from {peer}",
            envelope_from=envelope.mail_from or "",
        )
        try:
            # The store is blocking: file the mail off the event loop, so other sessions go on.
            receipt = await asyncio.get_running_loop().run_in_executor(None, filing)
        except Exception:
            log.exception("mail from %s (%s) could not be kept", peer, envelope.mail_from)
            return "451 4.3.0 the desk could not keep the message; please try again later"
        log.info("mail from %s: %s", envelope.mail_from, receipt.describe())
        if receipt.outcome == "too_large":
            return "552 5.3.4 message too big"
        # Only the call the mail opened or joined is named: mail held for review (C03) and auto-replies
        # get the plain answer of any mail that named no reference, whatever call they quote.
        reference = receipt.reference_for_sender
        return f"250 2.0.0 received {reference}" if reference else "250 2.0.0 received"


def start_mail_server(desk: Desk, host: str, port: int) -> Controller:
    """Listen on ``host:port`` in a background thread; ``stop()`` the result to end it."""
    settings = desk.settings
    controller = Controller(
        SupportMailbox(desk),
        hostname=host,
        port=port,
        server_hostname=settings.mail_domain,
        ident="supportdesk",
        data_size_limit=settings.max_message_bytes,
        enable_SMTPUTF8=True,
    )
    controller.start()
    return controller
