"""sla_forecast and sla_forecast_warning (issue 22): each forecast of a period's SLA attainment with the
inputs it read and what it said, and each warning the customer services manager was sent (once per
period and goal)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 10:00:00.000000

A store upgraded to this revision has no forecasts yet: the worker makes the first on its next pass.
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sla_forecast",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("made_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("made_by", sa.String(length=100), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("method", sa.String(length=200), nullable=False),
        sa.Column("short_history", sa.Boolean(), nullable=False),
        sa.Column("inputs", sa.Text(), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_forecast")),
    )
    op.create_index("ix_sla_forecast_period", "sla_forecast", ["period", "first_day", "made_at"], unique=False)
    op.create_table(
        "sla_forecast_warning",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("forecast_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=30), nullable=False),
        sa.Column("line", sa.String(length=20), nullable=False),
        sa.Column("chance_of_miss", sa.Float(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["forecast_id"], ["sla_forecast.id"], name=op.f("fk_sla_forecast_warning_forecast_id_sla_forecast")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_forecast_warning")),
        sa.UniqueConstraint(
            "period", "first_day", "metric", "line", name=op.f("uq_sla_forecast_warning_period_first_day_metric_line")
        ),
    )
    op.create_index(op.f("ix_sla_forecast_warning_forecast_id"), "sla_forecast_warning", ["forecast_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_sla_forecast_warning_forecast_id"), table_name="sla_forecast_warning")
    op.drop_table("sla_forecast_warning")
    op.drop_index("ix_sla_forecast_period", table_name="sla_forecast")
    op.drop_table("sla_forecast")
