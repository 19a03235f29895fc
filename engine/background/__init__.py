"""The worker: fires due timers and delivers the outbox, after the commands have committed.

May use: tickets, mail, the desk.
"""
