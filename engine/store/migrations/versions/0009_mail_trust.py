"""mail trust (C03): held_mail (mail quoting a call from a sender not known for it, held for an
advisor); inbound_mail.reason; inbound_mail.message_id no longer unique (a reused Message-ID with
other content is a mail of its own), indexed for threading

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 08:00:00.000000

SQLite cannot drop a unique constraint in place: inbound_mail is copied without it. The copy
drops the old table, which its attachments' foreign key would refuse, so the attachments are set
aside during the copy and put back after. Downgrading keeps the first mail of a Message-ID with
it and clears it from the later ones (the unique constraint allows no two).
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('inbound_mail', sa.Column('reason', sa.String(length=500), server_default='', nullable=False))
    if op.get_bind().dialect.name == 'sqlite':
        with _attachments_set_aside(), \
                op.batch_alter_table('inbound_mail', schema=None, recreate='always') as batch_op:
            batch_op.drop_constraint('uq_inbound_mail_message_id', type_='unique')
    else:
        op.drop_constraint('uq_inbound_mail_message_id', 'inbound_mail', type_='unique')
    op.create_index(op.f('ix_inbound_mail_message_id'), 'inbound_mail', ['message_id'], unique=False)

    op.create_table('held_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inbound_id', sa.Integer(), nullable=False),
    sa.Column('quoted_reference', sa.String(length=32), nullable=False),
    sa.Column('quoted_ticket_id', sa.Integer(), nullable=True),
    sa.Column('why', sa.String(length=500), nullable=False),
    sa.Column('excerpt', sa.Text(), nullable=False),
    sa.Column('held_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=100), nullable=True),
    sa.Column('decision_reason', sa.Text(), server_default='', nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_mail.id'], name=op.f('fk_held_mail_inbound_id_inbound_mail')),
    sa.ForeignKeyConstraint(['quoted_ticket_id'], ['ticket.id'], name=op.f('fk_held_mail_quoted_ticket_id_ticket')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_held_mail_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_held_mail')),
    sa.UniqueConstraint('inbound_id', name=op.f('uq_held_mail_inbound_id'))
    )
    op.create_index('ix_held_mail_status_id', 'held_mail', ['status', 'id'], unique=False)
    op.create_index(op.f('ix_held_mail_quoted_ticket_id'), 'held_mail', ['quoted_ticket_id'], unique=False)
    op.create_index(op.f('ix_held_mail_ticket_id'), 'held_mail', ['ticket_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_held_mail_ticket_id'), table_name='held_mail')
    op.drop_index(op.f('ix_held_mail_quoted_ticket_id'), table_name='held_mail')
    op.drop_index('ix_held_mail_status_id', table_name='held_mail')
    op.drop_table('held_mail')
    op.drop_index(op.f('ix_inbound_mail_message_id'), table_name='inbound_mail')
    op.execute("UPDATE inbound_mail SET message_id = NULL WHERE message_id IS NOT NULL AND id NOT IN "
               "(SELECT MIN(id) FROM inbound_mail WHERE message_id IS NOT NULL GROUP BY message_id)")
    if op.get_bind().dialect.name == 'sqlite':
        with _attachments_set_aside(), \
                op.batch_alter_table('inbound_mail', schema=None, recreate='always') as batch_op:
            batch_op.create_unique_constraint(batch_op.f('uq_inbound_mail_message_id'), ['message_id'])
            batch_op.drop_column('reason')
    else:
        op.create_unique_constraint(op.f('uq_inbound_mail_message_id'), 'inbound_mail', ['message_id'])
        op.drop_column('inbound_mail', 'reason')


class _attachments_set_aside:
    """SQLite: mail_attachment's rows kept in a scratch table while inbound_mail is copied."""

    def __enter__(self):
        op.execute("CREATE TABLE _mail_attachment_aside AS SELECT * FROM mail_attachment")
        op.execute("DELETE FROM mail_attachment")

    def __exit__(self, kind, value, traceback):
        if kind is None:
            op.execute("INSERT INTO mail_attachment SELECT * FROM _mail_attachment_aside")
            op.execute("DROP TABLE _mail_attachment_aside")
        return False
