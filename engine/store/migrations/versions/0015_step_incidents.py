"""step_incident (issue 21): a step of a ticket's diagram that failed in the engine while a command ran (the
command was refused and rolled back), for those who fix diagrams; resolved when the same command succeeds

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 09:00:00.000000

A store upgraded to this revision has no step incidents: steps that failed before were not kept (the
command answered with an error and wrote nothing).
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('step_incident',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('diagram_version', sa.Integer(), nullable=True),
    sa.Column('process_id', sa.String(length=100), server_default='', nullable=False),
    sa.Column('element_id', sa.String(length=200), server_default='', nullable=False),
    sa.Column('element_name', sa.String(length=500), server_default='', nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('command', sa.String(length=500), nullable=False),
    sa.Column('command_key', sa.String(length=300), nullable=True),
    sa.Column('actor', sa.String(length=320), nullable=False),
    sa.Column('first_failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_failed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failures', sa.Integer(), server_default='1', nullable=False),
    sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('resolved_by', sa.String(length=320), nullable=True),
    sa.Column('resolution', sa.String(length=500), nullable=True),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_step_incident_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_step_incident'))
    )
    op.create_index('ix_step_incident_ticket_id_resolved_at', 'step_incident', ['ticket_id', 'resolved_at'], unique=False)
    op.create_index('ix_step_incident_last_failed_at', 'step_incident', ['last_failed_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_step_incident_last_failed_at', table_name='step_incident')
    op.drop_index('ix_step_incident_ticket_id_resolved_at', table_name='step_incident')
    op.drop_table('step_incident')
