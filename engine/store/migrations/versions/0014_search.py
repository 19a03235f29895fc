"""search and views (issue 20): ticket_search (each ticket's words for the full-text search) under the
database's own index: on SQLite an FTS5 table over it kept in step by triggers, on PostgreSQL a GIN index
over its tsvector; saved_view (the calls list's filters saved under a name, private or shared); indexes for
the calls list's sort orders (created_at, id), (next_due_at, id), each also within a status, and its filters: work_task.claimed_by,
sla_clock.breached_at ("breached today") and sla_clock.budget_seconds ("at risk now")

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 12:00:00.000000

The documents of the tickets already in the store are written here, as the desk writes them
(engine/store/search_index.py), so a store upgraded to this revision finds its older calls too.
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from supportdesk.engine.store import search_index

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

FTS = search_index.FTS_TABLE
# The FTS5 table indexes ticket_search.words without a copy (external content); detail=none: a search
# needs which tickets hold a word, not where in them; prefix indexes make two- and three-letter prefixes quick.
SQLITE_FTS = f"""CREATE VIRTUAL TABLE {FTS} USING fts5(words, content='ticket_search', content_rowid='ticket_id',
    detail='none', prefix='2 3', tokenize='unicode61 remove_diacritics 2')"""
# SQLite's way of keeping an external-content FTS5 table in step: the old words out, the new ones in.
SQLITE_TRIGGERS = (
    f"""CREATE TRIGGER {FTS}_insert AFTER INSERT ON ticket_search BEGIN
        INSERT INTO {FTS}(rowid, words) VALUES (new.ticket_id, new.words); END""",
    f"""CREATE TRIGGER {FTS}_delete AFTER DELETE ON ticket_search BEGIN
        INSERT INTO {FTS}({FTS}, rowid, words) VALUES ('delete', old.ticket_id, old.words); END""",
    f"""CREATE TRIGGER {FTS}_update AFTER UPDATE ON ticket_search BEGIN
        INSERT INTO {FTS}({FTS}, rowid, words) VALUES ('delete', old.ticket_id, old.words);
        INSERT INTO {FTS}(rowid, words) VALUES (new.ticket_id, new.words); END""",
)
ticket = sa.table('ticket', sa.column('id', sa.Integer))


def upgrade() -> None:
    connection = op.get_bind()
    postgres = connection.dialect.name == 'postgresql'
    op.create_table('ticket_search',
    sa.Column('ticket_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('words', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['ticket.id'], name=op.f('fk_ticket_search_ticket_id_ticket')),
    sa.PrimaryKeyConstraint('ticket_id', name=op.f('pk_ticket_search'))
    )
    if postgres:
        op.create_index(search_index.GIN_INDEX, 'ticket_search', ['words'], unique=False, postgresql_using='gin')
    else:
        op.execute(SQLITE_FTS)
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)

    op.create_table('saved_view',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('shared', sa.Boolean(), nullable=False),
    sa.Column('query', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_saved_view_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_saved_view')),
    sa.UniqueConstraint('user_id', 'name', name=op.f('uq_saved_view_user_id_name'))
    )
    op.create_index('ix_saved_view_shared_name', 'saved_view', ['shared', 'name'], unique=False)

    op.create_index('ix_ticket_created_at_id', 'ticket', ['created_at', 'id'], unique=False)
    op.create_index('ix_ticket_next_due_at_id', 'ticket', ['next_due_at', 'id'], unique=False)
    for column in ('created_at', 'updated_at', 'next_due_at'):
        op.create_index(f'ix_ticket_status_{column}_id', 'ticket', ['status', column, 'id'], unique=False)
    op.create_index('ix_work_task_claimed_by', 'work_task', ['claimed_by'], unique=False)
    op.create_index('ix_sla_clock_breached_at', 'sla_clock', ['breached_at'], unique=False)
    op.create_index('ix_sla_clock_budget_seconds', 'sla_clock', ['budget_seconds'], unique=False)

    search_index.refresh(connection, connection.scalars(sa.select(ticket.c.id)).all())


def downgrade() -> None:
    op.drop_index('ix_sla_clock_budget_seconds', table_name='sla_clock')
    op.drop_index('ix_sla_clock_breached_at', table_name='sla_clock')
    op.drop_index('ix_work_task_claimed_by', table_name='work_task')
    for column in ('created_at', 'updated_at', 'next_due_at'):
        op.drop_index(f'ix_ticket_status_{column}_id', table_name='ticket')
    op.drop_index('ix_ticket_next_due_at_id', table_name='ticket')
    op.drop_index('ix_ticket_created_at_id', table_name='ticket')
    op.drop_index('ix_saved_view_shared_name', table_name='saved_view')
    op.drop_table('saved_view')
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_index(search_index.GIN_INDEX, table_name='ticket_search')
    else:
        for action in ('insert', 'delete', 'update'):
            op.execute(f'DROP TRIGGER {FTS}_{action}')
        op.execute(f'DROP TABLE {FTS}')
    op.drop_table('ticket_search')
