"""audit_run (issue 20, C32): the auditor's desk's runs (verify every hash chain, replay every ticket, what if
under an uploaded calendar or SLA policy), done by a worker in the background, with their progress and findings

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 12:00:00.000000

A store upgraded to this revision has no audit runs: the command line's audits (supportdesk audit) keep
nothing, as before.
"""
import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('requested_by', sa.String(length=100), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('what_if_kind', sa.String(length=10), nullable=True),
    sa.Column('what_if_name', sa.String(length=255), nullable=True),
    sa.Column('what_if_text', sa.Text(), nullable=True),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('done', sa.Integer(), server_default='0', nullable=False),
    sa.Column('lease_owner', sa.String(length=100), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('findings', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_run'))
    )
    op.create_index('ix_audit_run_status_id', 'audit_run', ['status', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_run_status_id', table_name='audit_run')
    op.drop_table('audit_run')
