"""inbox urgency and portal access

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 04:08:07.954865
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('portal_access',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contact_email', sa.String(length=320), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_portal_access')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_portal_access_token_hash'))
    )
    with op.batch_alter_table('portal_access', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_portal_access_contact_email'), ['contact_email'], unique=False)

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_ticket_kind_created', ['kind', 'created_at'], unique=False)

    with op.batch_alter_table('work_task', schema=None) as batch_op:
        batch_op.add_column(sa.Column('due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_work_task_role_due', ['role', 'due_at'], unique=False)




def downgrade() -> None:

    with op.batch_alter_table('work_task', schema=None) as batch_op:
        batch_op.drop_index('ix_work_task_role_due')
        batch_op.drop_column('due_at')

    with op.batch_alter_table('ticket', schema=None) as batch_op:
        batch_op.drop_index('ix_ticket_kind_created')
        batch_op.drop_column('next_due_at')

    with op.batch_alter_table('portal_access', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_portal_access_contact_email'))

    op.drop_table('portal_access')

