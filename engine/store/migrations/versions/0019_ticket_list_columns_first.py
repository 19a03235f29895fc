"""The calls list reads less (issue 23): on SQLite the ticket's serialized instance (``state``) moves to
the end of its row, a queue of one priority by deadline gets its own index, and the reports' index holds
what they read of each call

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-29 17:00:00.000000

SQLite keeps a row's columns in the order the table declares them, and a row longer than a page keeps
its start on the page and the rest on a chain of overflow pages. ``state`` (tens of kB) sat in the middle
of ``ticket``, so reading a ticket's ``created_at``, ``updated_at``, ``closed_at`` or ``next_due_at``
walked that chain: about five pages where one does. The table is copied into one with ``state`` last
(SQLite's own way to reorder columns; ``supportdesk.engine.store.schema.upgrade`` runs migrations with
foreign keys unenforced and checks them before the commit). On a store of 100 000 tickets the copy takes
about a minute. PostgreSQL keeps a value that large apart from its row already (TOAST): nothing to move.

The reports' index on (kind, created_at) also holds each call's priority and reference, which the SLA
report lists its breaches with: on 100 000 tickets the breaches' query read 54 000 rows for them, 210 ms,
and reads the index instead, 132 ms.

The downgrade puts the indexes back as they were and leaves the columns where they are: their order is
no part of the schema.
"""

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# ticket's columns as 0001 and 0003 made them, with state moved to the end.
ORDER = (
    "id",
    "reference",
    "kind",
    "parent_id",
    "version_id",
    "process_id",
    "status",
    "channel",
    "contact_name",
    "contact_email",
    "account",
    "summary",
    "licence_type",
    "priority",
    "outcome",
    "revision",
    "created_at",
    "updated_at",
    "closed_at",
    "next_due_at",
    "state",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("ticket", recreate="always", partial_reordering=[ORDER]):
            pass
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ticket_status_priority_next_due_at_id", ["status", "priority", "next_due_at", "id"], unique=False
        )
        batch_op.drop_index("ix_ticket_kind_created")
        batch_op.create_index(
            "ix_ticket_kind_created_priority_reference", ["kind", "created_at", "priority", "reference"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ticket", schema=None) as batch_op:
        batch_op.drop_index("ix_ticket_kind_created_priority_reference")
        batch_op.create_index("ix_ticket_kind_created", ["kind", "created_at"], unique=False)
        batch_op.drop_index("ix_ticket_status_priority_next_due_at_id")
