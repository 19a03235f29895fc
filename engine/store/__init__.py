"""The store: the tables (SQLAlchemy models), the database and its transactions, the schema and its
Alembic migrations.

May use: working time (the clock) and settings.
"""
