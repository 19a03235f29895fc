"""mail: outbox delivery (next attempt, attempts), inbound mail, attachments, quarantine

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 03:49:02.073010

Mail queued before this revision is due at once: its next attempt is when it was queued.
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mail_quarantine',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('envelope_from', sa.String(length=320), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_quarantine'))
    )
    with op.batch_alter_table('mail_quarantine', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_quarantine_sha256'), ['sha256'], unique=False)

    op.create_table('inbound_mail',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.String(length=300), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.String(length=500), nullable=False),
    sa.Column('envelope_from', sa.String(length=320), nullable=False),
    sa.Column('from_address', sa.String(length=320), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('raw', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_inbound_mail_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_mail')),
    sa.UniqueConstraint('message_id', name=op.f('uq_inbound_mail_message_id')),
    sa.UniqueConstraint('sha256', name=op.f('uq_inbound_mail_sha256'))
    )
    with op.batch_alter_table('inbound_mail', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_mail_ticket_id'), ['ticket_id'], unique=False)

    op.create_table('mail_attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('inbound_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.ForeignKeyConstraint(['inbound_id'], ['inbound_mail.id'], name=op.f('fk_mail_attachment_inbound_id_inbound_mail')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_attachment'))
    )
    with op.batch_alter_table('mail_attachment', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_attachment_inbound_id'), ['inbound_id'], unique=False)

    op.create_table('mail_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mail_id', sa.Integer(), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['mail_id'], ['outbox_mail.id'], name=op.f('fk_mail_attempt_mail_id_outbox_mail')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mail_attempt'))
    )
    with op.batch_alter_table('mail_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_attempt_mail_id'), ['mail_id'], unique=False)

    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_mail_next_attempt_at'), ['next_attempt_at'], unique=False)
    op.execute("UPDATE outbox_mail SET next_attempt_at = created_at WHERE status = 'queued'")



def downgrade() -> None:
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_mail_next_attempt_at'))
        batch_op.drop_column('last_attempt_at')
        batch_op.drop_column('next_attempt_at')

    with op.batch_alter_table('mail_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_attempt_mail_id'))

    op.drop_table('mail_attempt')
    with op.batch_alter_table('mail_attachment', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_attachment_inbound_id'))

    op.drop_table('mail_attachment')
    with op.batch_alter_table('inbound_mail', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_mail_ticket_id'))

    op.drop_table('inbound_mail')
    with op.batch_alter_table('mail_quarantine', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_quarantine_sha256'))

    op.drop_table('mail_quarantine')
