"""The engine: runs the charter diagrams, stores tickets, keeps time and history.

Its rooms, each using only the rooms below it (import-linter keeps it so: ``lint-imports``):

    admin, bounds   what the admin pages do; the bounds every entry point checks
    oversight       audit (verify, replay, what-if, export), the C31 report, the simulation
    background      the worker: fires due timers, delivers mail, after the commit
    mail            mail in (threading, trust, held mail, quarantine) and its delivery out
    people          staff, sign-in, accounts, API tokens and idempotency keys, the customers' portal
    conversation    the call's conversation (replies, notes, call-backs, the customer's words) and its files
    tickets         the one road: commands -> the unit of work -> history, SLA clocks, outbox, jobs
    desk            the desk: settings, store, calendar, policy, process engine, handlers, together
    process         SpiffWorkflow set up, diagram versions and their checks, forms, roles
    store           tables, transactions, schema and migrations
    working_time    the clock, the calendar, SLA arithmetic, the SLA policy (pure)
    errors, settings

Entry points (``web``, ``cli``) call ``tickets.commands`` and the read models and render what comes
back; service tasks call ``handlers``, which write through the unit of work.
"""
