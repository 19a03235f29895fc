"""sign-in: app_user.session_epoch, totp_secret, totp_last_step; portal_access.revoked_at; sign_in_failure
(throttling failed sign-ins per account and per client address, shared by every web process)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 12:00:00.000000
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Columns are added in place (no batch copy: app_user is referenced by other tables' foreign keys).
    op.add_column('app_user', sa.Column('session_epoch', sa.Integer(), server_default='0', nullable=False))
    op.add_column('app_user', sa.Column('totp_secret', sa.String(length=64), nullable=True))
    op.add_column('app_user', sa.Column('totp_last_step', sa.Integer(), nullable=True))
    op.add_column('portal_access', sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table('sign_in_failure',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=100), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sign_in_failure'))
    )
    op.create_index('ix_sign_in_failure_account_at', 'sign_in_failure', ['account', 'at'], unique=False)
    op.create_index('ix_sign_in_failure_address_at', 'sign_in_failure', ['address', 'at'], unique=False)
    op.create_index(op.f('ix_sign_in_failure_at'), 'sign_in_failure', ['at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_sign_in_failure_at'), table_name='sign_in_failure')
    op.drop_index('ix_sign_in_failure_address_at', table_name='sign_in_failure')
    op.drop_index('ix_sign_in_failure_account_at', table_name='sign_in_failure')
    op.drop_table('sign_in_failure')
    with op.batch_alter_table('portal_access', schema=None) as batch_op:
        batch_op.drop_column('revoked_at')
    with op.batch_alter_table('app_user', schema=None) as batch_op:
        batch_op.drop_column('totp_last_step')
        batch_op.drop_column('totp_secret')
        batch_op.drop_column('session_epoch')
