"""access: supervisor role, login sessions (revocation), login throttle, confusable-safe usernames

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 17:00:00
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _provisional_key(username: str, user_id: int) -> str:
    """A unique key for existing users (the application recomputes the confusable skeleton at next change)."""
    return f"{unicodedata.normalize('NFKC', username).casefold()}#{user_id}"


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('username_key', sa.String(length=128), nullable=True))
        batch.add_column(sa.Column('must_change_password', sa.Boolean(), server_default='0', nullable=False))
        batch.drop_constraint(op.f('ck_users_role'), type_='check')
        batch.create_check_constraint(op.f('ck_users_role'), "role IN ('operator', 'supervisor', 'qa', 'admin')")
    conn = op.get_bind()
    for user_id, username in conn.execute(sa.text('SELECT id, username FROM users')).all():
        conn.execute(
            sa.text('UPDATE users SET username_key = :key WHERE id = :id'),
            {'key': _provisional_key(username, user_id), 'id': user_id},
        )
    with op.batch_alter_table('users') as batch:
        batch.alter_column('username_key', existing_type=sa.String(length=128), nullable=False)
        batch.create_unique_constraint(op.f('uq_users_username_key'), ['username_key'])
    op.create_table(
        'auth_sessions',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_reason', sa.String(length=32), nullable=True),
        sa.Column('client', sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "revoked_reason IS NULL OR revoked_reason IN "
            "('logout', 'password_changed', 'deactivated', 'role_changed', 'admin')",
            name=op.f('ck_auth_sessions_revoked_reason'),
        ),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], name=op.f('fk_auth_sessions_user_id_users'), ondelete='CASCADE'
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions')),
    )
    with op.batch_alter_table('auth_sessions') as batch:
        batch.create_index('ix_auth_sessions_user_id', ['user_id'], unique=False)
    op.create_table(
        'login_throttle',
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('next_try_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle')),
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table('login_throttle')
    with op.batch_alter_table('auth_sessions') as batch:
        batch.drop_index('ix_auth_sessions_user_id')
    op.drop_table('auth_sessions')
    op.execute("DELETE FROM users WHERE role = 'supervisor'")
    with op.batch_alter_table('users') as batch:
        batch.drop_constraint(op.f('uq_users_username_key'), type_='unique')
        batch.drop_constraint(op.f('ck_users_role'), type_='check')
        batch.create_check_constraint(op.f('ck_users_role'), "role IN ('operator', 'qa', 'admin')")
        batch.drop_column('must_change_password')
        batch.drop_column('username_key')
