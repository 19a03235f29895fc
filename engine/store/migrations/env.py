"""Alembic environment: runs the migrations of supportdesk's schema."""

from alembic import context
from sqlalchemy import create_engine

from supportdesk.engine.store import search_index
from supportdesk.engine.store.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_name=search_index.in_models,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no database URL: set sqlalchemy.url (supportdesk db upgrade sets it from the settings)")
    engine = create_engine(url)
    with engine.connect() as connection:
        _run_on(connection)
    engine.dispose()


def _run_on(connection) -> None:
    # Batch mode lets SQLite alter tables (it copies them), PostgreSQL alters in place.
    # The search index's own structures (an FTS5 table, a GIN index) are not the models': autogenerate leaves them.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        include_name=search_index.in_models,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
