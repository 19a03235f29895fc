"""Mail in and out of the desk.

Out: handlers queue mail in the outbox (``engine/outbox.py``) in their
command's transaction; ``delivery`` hands it to the SMTP server from the
worker, with retries, and keeps what happened.

In: ``server`` (an SMTP receiver) and ``ingest`` (.eml files, folders,
Maildirs) pass each raw message to ``inbound.receive``, which opens a call,
adds the mail to its call, ignores an auto-reply, or quarantines it; what it
received is always kept (``parsing`` reads the message).

``queries`` are the read models for the ticket page and the admin pages.
"""
