"""conversation (issue 19): message (one entry of a call's conversation: reply, note, call-back, customer
mail, portal message) and attachment (a file of one, its bytes in the database or in a folder by SHA-256);
outbox_mail.cc_addresses, in_reply_to, thread_references (a reply's copies and threading headers)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 14:00:00.000000

Mail received before this revision keeps its files in mail_attachment only (still written and read);
no message rows are made for it.
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('public', sa.Boolean(), nullable=False),
    sa.Column('author', sa.String(length=320), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('full_text', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('inbound_mail_id', sa.Integer(), nullable=True),
    sa.Column('outbox_mail_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['inbound_mail_id'], ['inbound_mail.id'], name=op.f('fk_message_inbound_mail_id_inbound_mail')),
    sa.ForeignKeyConstraint(['outbox_mail_id'], ['outbox_mail.id'], name=op.f('fk_message_outbox_mail_id_outbox_mail')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_message_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message'))
    )
    op.create_index('ix_message_ticket_id_id', 'message', ['ticket_id', 'id'], unique=False)
    op.create_index(op.f('ix_message_inbound_mail_id'), 'message', ['inbound_mail_id'], unique=False)
    op.create_index(op.f('ix_message_outbox_mail_id'), 'message', ['outbox_mail_id'], unique=False)

    op.create_table('attachment',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('inbound_mail_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=100), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('storage', sa.String(length=10), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('path', sa.String(length=200), nullable=True),
    sa.Column('not_kept', sa.String(length=500), server_default='', nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['inbound_mail_id'], ['inbound_mail.id'], name=op.f('fk_attachment_inbound_mail_id_inbound_mail')),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_attachment_message_id_message')),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_attachment_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attachment'))
    )
    op.create_index(op.f('ix_attachment_inbound_mail_id'), 'attachment', ['inbound_mail_id'], unique=False)
    op.create_index(op.f('ix_attachment_message_id'), 'attachment', ['message_id'], unique=False)
    op.create_index(op.f('ix_attachment_sha256'), 'attachment', ['sha256'], unique=False)
    op.create_index(op.f('ix_attachment_ticket_id'), 'attachment', ['ticket_id'], unique=False)

    # Columns are added in place (no batch copy: outbox_mail is referenced by other tables' foreign keys).
    op.add_column('outbox_mail', sa.Column('cc_addresses', sa.Text(), server_default='', nullable=False))
    op.add_column('outbox_mail', sa.Column('in_reply_to', sa.String(length=300), nullable=True))
    op.add_column('outbox_mail', sa.Column('thread_references', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('outbox_mail', schema=None) as batch_op:
        batch_op.drop_column('thread_references')
        batch_op.drop_column('in_reply_to')
        batch_op.drop_column('cc_addresses')
    op.drop_index(op.f('ix_attachment_ticket_id'), table_name='attachment')
    op.drop_index(op.f('ix_attachment_sha256'), table_name='attachment')
    op.drop_index(op.f('ix_attachment_message_id'), table_name='attachment')
    op.drop_index(op.f('ix_attachment_inbound_mail_id'), table_name='attachment')
    op.drop_table('attachment')
    op.drop_index(op.f('ix_message_outbox_mail_id'), table_name='message')
    op.drop_index(op.f('ix_message_inbound_mail_id'), table_name='message')
    op.drop_index('ix_message_ticket_id_id', table_name='message')
    op.drop_table('message')
