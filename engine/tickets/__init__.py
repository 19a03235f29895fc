"""Tickets, and the one road every change of state takes: a command (``commands``) is one unit of
work (``unit_of_work``: ``with UnitOfWork(desk, actor) as uow:``), which opens the transaction; the
command runs the ticket's instance (``instances``), the handlers write through the unit of work (the
``history``, the SLA clocks kept as segments in ``sla_clocks``, mail in the ``outbox``, the ``jobs``
the worker fires), and leaving the block commits all of it or none, then wakes the workers. Also
the read models (``queries``), what a call is made of (``calls``), Call References, and moving open
tickets to another diagram version (``migration``).

May use: the desk, the process, the store, working time and SLA.
"""
