"""sla_clock.breached_priority: a recorded breach is a fact that stays (C14), counted against the
priority in force when it happened; old clocks get it (and breached_at) from their breach segments.
sla_clock.budget_seconds: the working time the current target allows, for "at risk" (C14)

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 04:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

sla_clock = sa.table('sla_clock', sa.column('id', sa.Integer), sa.column('breached_at', sa.DateTime(timezone=True)),
                     sa.column('breached_priority', sa.String),
                     sa.column('budget_seconds', sa.Integer))
sla_segment = sa.table('sla_segment', sa.column('clock_id', sa.Integer), sa.column('seq', sa.Integer),
                       sa.column('kind', sa.String), sa.column('at', sa.DateTime(timezone=True)),
                       sa.column('priority', sa.String), sa.column('budget_seconds', sa.Integer))


def upgrade() -> None:
    op.add_column('sla_clock', sa.Column('breached_priority', sa.String(length=20), nullable=True))
    op.add_column('sla_clock', sa.Column('budget_seconds', sa.Integer(), nullable=True))
    _breaches_from_segments(op.get_bind())


def downgrade() -> None:
    op.drop_column('sla_clock', 'budget_seconds')
    op.drop_column('sla_clock', 'breached_priority')  # SQLite 3.35+ drops a column in place


def _breaches_from_segments(connection) -> None:
    """A clock whose segments hold a breach is breached, whatever a later re-grade did to its due
    moment: its breach moment and the priority in force then (the last start or re-grade before it).
    Before this revision pages and reports judged a breach by the current due moment, which a
    re-grade moves, so a High call breached and then re-graded Medium read as met."""
    rows = connection.execute(sa.select(sla_segment.c.clock_id, sla_segment.c.kind, sla_segment.c.at,
                                        sla_segment.c.priority, sla_segment.c.budget_seconds)
                              .order_by(sla_segment.c.clock_id, sla_segment.c.seq))
    priority: dict[int, str | None] = {}
    budget: dict[int, int] = {}
    breaches: dict[int, tuple] = {}
    for clock_id, kind, at, segment_priority, budget_seconds in rows:
        if kind in ('start', 'regrade'):
            priority[clock_id], budget[clock_id] = segment_priority, budget_seconds
        elif kind == 'breach' and clock_id not in breaches:
            breaches[clock_id] = (at, priority.get(clock_id))
    for clock_id, seconds in budget.items():
        connection.execute(sla_clock.update().where(sla_clock.c.id == clock_id).values(budget_seconds=seconds))
    for clock_id, (at, in_force) in breaches.items():
        connection.execute(sla_clock.update().where(sla_clock.c.id == clock_id)
                           .values(breached_at=at, breached_priority=in_force))
