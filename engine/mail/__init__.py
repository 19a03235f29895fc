"""Mail in and out of the desk.

Out: handlers queue mail in the outbox (``engine/tickets/outbox.py``) in their
command's transaction; ``delivery`` hands it to the SMTP server from the
worker, with retries, and keeps what happened.

In: ``server`` (an SMTP receiver), ``ingest`` (.eml files, folders,
Maildirs) and ``imap`` (the team's own mailboxes, read by the worker) pass each
raw message to ``inbound.receive``, which opens a call,
adds the mail to its call (when its sender may write into it, C03), holds it
for review, keeps an auto-reply unopened, or quarantines it; what it received
is always kept (``parsing`` reads the message). ``review`` is what advisors
do with held mail: attach it to a call, open a new call, discard it.

``queries`` are the read models for the ticket page and the admin pages.

May use: people, tickets, the desk, the store, working time.
"""
