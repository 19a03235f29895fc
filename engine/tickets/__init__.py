"""Tickets, and the one road every change of state takes: a command (``commands``) opens one
transaction and runs the ticket's instance through the unit of work (``instances``); the handlers
write through it (the ``history``, the SLA clocks kept as segments in ``sla_clocks``, mail in the
``outbox``, the ``jobs`` the worker fires), and the commit keeps all of it or none. Also the read
models (``queries``), what a call is made of (``calls``), Call References, and moving open tickets
to another diagram version (``migration``).

May use: the desk, the process, the store, working time and SLA.
"""
