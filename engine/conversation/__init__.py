"""The conversation of a call (issue 19, C25, C32): replies, internal notes, call-backs, the customer's
mail and portal messages, with their files.

    commands      the entries, each one unit of work, on the ticket's history (and given again by the audit)
    queries       the thread and its files, for the pages, the portal and the API: who may see what
    attachments   the files: safe names and types, limits, the store (database or folder), download headers
    text          Markdown rendered and sanitised, the text a mail carries, quoted mail taken off replies
    seen          when each person last opened a call's page: what is new to them, "customer replied"

The room sits on ``tickets`` (the unit of work, the outbox); mail in and delivery, the portal and the
entry points call it.
"""
