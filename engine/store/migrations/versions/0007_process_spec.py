"""process_spec: a process spec stored once, named by digest from each instance's state
(instead of inside every state: about 70 % of each)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 08:00:00.000000
"""
import hashlib
import json

import sqlalchemy as sa
from alembic import op

from supportdesk.engine.working_time.clock import clock

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

SPEC_DIGEST = '{"spec_digest":"'
BATCH = 500

ticket = sa.table('ticket', sa.column('id', sa.Integer), sa.column('state', sa.Text))
process_spec = sa.table('process_spec', sa.column('digest', sa.String), sa.column('spec', sa.Text),
                        sa.column('subprocess_specs', sa.Text), sa.column('stored_at', sa.DateTime(timezone=True)))


def upgrade() -> None:
    op.create_table('process_spec',
    sa.Column('digest', sa.String(length=64), nullable=False),
    sa.Column('spec', sa.Text(), nullable=False),
    sa.Column('subprocess_specs', sa.Text(), nullable=False),
    sa.Column('stored_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_process_spec'))
    )
    _move_specs_out_of_states(op.get_bind())


def downgrade() -> None:
    connection = op.get_bind()
    specs = {row.digest: row for row in connection.execute(sa.select(process_spec))}
    for ticket_id, state in list(connection.execute(sa.select(ticket.c.id, ticket.c.state))):
        if state.startswith(SPEC_DIGEST) and '"spec":' not in state[:len(SPEC_DIGEST) + 72]:
            spec = specs[state[len(SPEC_DIGEST):len(SPEC_DIGEST) + 64]]
            inside = (f'{state[:len(SPEC_DIGEST) + 66]}"spec":{spec.spec},"subprocess_specs":{spec.subprocess_specs},'
                      f'{state[len(SPEC_DIGEST) + 66:]}')
            connection.execute(ticket.update().where(ticket.c.id == ticket_id).values(state=inside))
    op.drop_table('process_spec')


def _move_specs_out_of_states(connection) -> None:
    """Each state that holds its spec: the spec into process_spec (once), the state without it.
    A state is {"spec_digest": D, "spec": S, "subprocess_specs": P, ...} (the desk's layout) or
    SpiffWorkflow's own {"spec": S, "subprocess_specs": P, ...}; either becomes {"spec_digest": D', ...}."""
    stored: set[str] = set()
    last_id = 0
    while True:
        rows = list(connection.execute(sa.select(ticket.c.id, ticket.c.state).where(ticket.c.id > last_id)
                                       .order_by(ticket.c.id).limit(BATCH)))
        if not rows:
            return
        for ticket_id, state in rows:
            moved = _without_spec(state)
            if moved is None:
                continue
            digest, spec_json, subprocess_json, rest = moved
            if digest not in stored and connection.execute(
                    sa.select(process_spec.c.digest).where(process_spec.c.digest == digest)).first() is None:
                connection.execute(process_spec.insert().values(digest=digest, spec=spec_json,
                                                                subprocess_specs=subprocess_json,
                                                                stored_at=clock.now()))
            stored.add(digest)
            connection.execute(ticket.update().where(ticket.c.id == ticket_id).values(state=rest))
        last_id = rows[-1][0]


def _without_spec(state: str):
    """(digest, spec JSON, subprocess specs JSON, the state naming the spec by digest), or None."""
    dct = json.loads(state)
    if "spec" not in dct:
        return None
    # As engine.process writes them: json.dumps of each, the digest over both.
    spec_json, subprocess_json = json.dumps(dct.pop("spec")), json.dumps(dct.pop("subprocess_specs", {}))
    dct.pop("spec_digest", None)
    digest = hashlib.sha256(f"{spec_json}\n{subprocess_json}".encode()).hexdigest()
    return digest, spec_json, subprocess_json, f'{SPEC_DIGEST}{digest}",{json.dumps(dct)[1:]}'
