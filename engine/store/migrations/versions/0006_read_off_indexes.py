"""Indexes that hold the whole sort order: the inbox (role, due_at, created_at, id) and the
worker's due jobs (status, due_at, id) and lease ends (status, lease_expires_at)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 07:00:00.000000
"""
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('work_task', schema=None) as batch_op:
        batch_op.drop_index('ix_work_task_role_due')
        batch_op.create_index('ix_work_task_inbox', ['role', 'due_at', 'created_at', 'id'], unique=False)
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_status_due')
        batch_op.drop_index('ix_job_lease')
        batch_op.create_index('ix_job_status_due', ['status', 'due_at', 'id'], unique=False)
        batch_op.create_index('ix_job_status_lease', ['status', 'lease_expires_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('job', schema=None) as batch_op:
        batch_op.drop_index('ix_job_status_lease')
        batch_op.drop_index('ix_job_status_due')
        batch_op.create_index('ix_job_lease', ['lease_expires_at'], unique=False)
        batch_op.create_index('ix_job_status_due', ['status', 'due_at'], unique=False)
    with op.batch_alter_table('work_task', schema=None) as batch_op:
        batch_op.drop_index('ix_work_task_inbox')
        batch_op.create_index('ix_work_task_role_due', ['role', 'due_at'], unique=False)
