"""people admin (issue 20): app_user.disabled_at, disabled_by (a disabled person cannot sign in, and their
sessions and API tokens stop), password_change_due (signed in with a temporary password an admin reset:
a new one must be chosen before anything else); user_change (who changed which person's account, when, how)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 09:00:00.000000

People of a store upgraded to this revision are all enabled, with no password change due; their earlier
changes were not recorded, so user_change starts empty.
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Columns are added in place (no batch copy: app_user is referenced by other tables' foreign keys).
    op.add_column('app_user', sa.Column('disabled_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('app_user', sa.Column('disabled_by', sa.String(length=100), nullable=True))
    op.add_column('app_user', sa.Column('password_change_due', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table('user_change',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=100), nullable=False),
    sa.Column('change', sa.String(length=30), nullable=False),
    sa.Column('detail', sa.String(length=500), server_default='', nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_user_change_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_user_change'))
    )
    op.create_index('ix_user_change_user_id_at', 'user_change', ['user_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_user_change_user_id_at', table_name='user_change')
    op.drop_table('user_change')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('password_change_due')
        batch_op.drop_column('disabled_by')
        batch_op.drop_column('disabled_at')
