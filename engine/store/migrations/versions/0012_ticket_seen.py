"""ticket_seen (issue 19): when each person last opened each ticket's page, for what is new to them on it
and the "customer replied" mark of the inbox and the calls list

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 09:00:00.000000

A store upgraded to this revision has no visits yet: every customer's reply after the mail that opened a
call reads as new until each person opens the call once.
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ticket_seen',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_ticket_seen_ticket_id_ticket')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_ticket_seen_user_id_app_user')),
    sa.PrimaryKeyConstraint('user_id', 'ticket_id', name=op.f('pk_ticket_seen'))
    )


def downgrade() -> None:
    op.drop_table('ticket_seen')
