"""sla_clock.breached_priority: a recorded breach is a fact that stays (C14), counted against the
priority in force when it happened; old clocks get it (and breached_at) from their breach segments

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 04:00:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

sla_clock = sa.table('sla_clock', sa.column('id', sa.Integer), sa.column('breached_at', sa.DateTime(timezone=True)),
                     sa.column('breached_priority', sa.String))
sla_segment = sa.table('sla_segment', sa.column('clock_id', sa.Integer), sa.column('seq', sa.Integer),
                       sa.column('kind', sa.String), sa.column('at', sa.DateTime(timezone=True)),
                       sa.column('priority', sa.String))


def upgrade() -> None:
    op.add_column('sla_clock', sa.Column('breached_priority', sa.String(length=20), nullable=True))
    _breaches_from_segments(op.get_bind())


def downgrade() -> None:
    op.drop_column('sla_clock', 'breached_priority')  # SQLite 3.35+ drops a column in place


def _breaches_from_segments(connection) -> None:
    """A clock whose segments hold a breach is breached, whatever a later re-grade did to its
    cached figures: its breach moment and the priority in force then (the last start or re-grade
    before it). Before this revision a re-grade could clear ``breached_at``."""
    rows = connection.execute(sa.select(sla_segment.c.clock_id, sla_segment.c.kind, sla_segment.c.at,
                                        sla_segment.c.priority)
                              .order_by(sla_segment.c.clock_id, sla_segment.c.seq))
    priority: dict[int, str | None] = {}
    breaches: dict[int, tuple] = {}
    for clock_id, kind, at, segment_priority in rows:
        if kind in ('start', 'regrade'):
            priority[clock_id] = segment_priority
        elif kind == 'breach' and clock_id not in breaches:
            breaches[clock_id] = (at, priority.get(clock_id))
    for clock_id, (at, in_force) in breaches.items():
        connection.execute(sla_clock.update().where(sla_clock.c.id == clock_id)
                           .values(breached_at=at, breached_priority=in_force))
