"""imap_message and imap_mailbox_state (issue 24): mail taken in from the team's own mailboxes over IMAP,
each message recorded by (mailbox, UIDVALIDITY, UID) and its SHA-256 with what it made, and each mailbox's
fetching state (last fetch, the server's answer while it fails, the next try)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 14:00:00.000000

A store upgraded to this revision has taken in nothing over IMAP yet.
"""
import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('imap_mailbox_state',
    sa.Column('mailbox', sa.String(length=100), nullable=False),
    sa.Column('last_fetch_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failures', sa.Integer(), server_default='0', nullable=False),
    sa.Column('next_try_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('mailbox', name=op.f('pk_imap_mailbox_state'))
    )
    op.create_table('imap_message',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('mailbox', sa.String(length=100), nullable=False),
    sa.Column('uidvalidity', sa.BigInteger(), nullable=False),
    sa.Column('uid', sa.BigInteger(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('filed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('outcome', sa.String(length=20), server_default='', nullable=False),
    sa.Column('moved_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_imap_message')),
    sa.UniqueConstraint('mailbox', 'uidvalidity', 'uid', name=op.f('uq_imap_message_mailbox_uidvalidity_uid'))
    )
    op.create_index('ix_imap_message_mailbox_sha256', 'imap_message', ['mailbox', 'sha256'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_imap_message_mailbox_sha256', table_name='imap_message')
    op.drop_table('imap_message')
    op.drop_table('imap_mailbox_state')
