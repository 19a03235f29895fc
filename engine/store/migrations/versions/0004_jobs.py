"""jobs: status (pending | incident), last failure, indexes for leasing

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 12:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:

    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=10), server_default='pending', nullable=False))
        batch_op.add_column(sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index('ix_job_due')
        batch_op.create_index('ix_job_status_due', ['status', 'due_at'], unique=False)
        batch_op.create_index('ix_job_lease', ['lease_expires_at'], unique=False)


def downgrade() -> None:

    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_lease')
        batch_op.drop_index('ix_job_status_due')
        batch_op.create_index('ix_job_due', ['due_at'], unique=False)
        batch_op.drop_column('failed_at')
        batch_op.drop_column('status')
