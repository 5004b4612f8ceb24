"""the second line: executors, the card's organisation-side states, deadlines, API keys, photos, webhook outbox

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-09 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES_BEFORE = "status IN ('draft', 'confirmed', 'routed', 'resolved', 'closed')"
STATUSES = (
    "status IN ('draft', 'confirmed', 'routed', 'accepted', 'in_progress', 'returned', 'resolved', 'closed')"
)
ROLES_BEFORE = "role IN ('operator', 'supervisor', 'qa', 'admin')"
ROLES = "role IN ('operator', 'supervisor', 'qa', 'admin', 'executor')"


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('organisations') as batch:
        batch.add_column(sa.Column('deadline_hours', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('webhook_url', sa.String(length=500), nullable=True))
        batch.add_column(sa.Column('webhook_secret', sa.String(length=128), nullable=True))
    op.execute("UPDATE organisations SET deadline_hours = '{}'")
    with op.batch_alter_table('organisations') as batch:
        batch.alter_column('deadline_hours', existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('organisation_id', sa.Integer(), nullable=True))
        batch.create_foreign_key(
            batch.f('fk_users_organisation_id_organisations'), 'organisations', ['organisation_id'], ['id']
        )
        batch.create_index(batch.f('ix_users_organisation_id'), ['organisation_id'], unique=False)
        batch.drop_constraint(op.f('ck_users_role'), type_='check')
        batch.create_check_constraint(op.f('ck_users_role'), ROLES)
    with op.batch_alter_table('cards') as batch:
        batch.add_column(sa.Column('priority', sa.String(length=8), server_default='normal', nullable=False))
        batch.add_column(sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column('status_notes', sa.Text(), nullable=True))
        batch.add_column(sa.Column('return_count', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('reopen_count', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('deadline_stage', sa.String(length=16), server_default='on_time', nullable=False))
        batch.add_column(sa.Column('deadline_stage_at', sa.DateTime(timezone=True), nullable=True))
        batch.drop_constraint(op.f('ck_cards_status'), type_='check')
        batch.create_check_constraint(op.f('ck_cards_status'), STATUSES)
        batch.create_check_constraint(
            op.f('ck_cards_deadline_stage'),
            "deadline_stage IN ('on_time', 'due_soon', 'overdue', 'reminded', 'escalated')",
        )
        batch.create_check_constraint(op.f('ck_cards_priority'), "priority IN ('normal', 'urgent')")
        batch.create_index('ix_cards_open_due', ['status', 'due_at'], unique=False)
    op.execute("UPDATE cards SET priority = 'urgent' WHERE emergency IS NOT NULL AND emergency != 'none'")
    op.create_table(
        'api_keys',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('key_hash', sa.String(length=64), nullable=False),
        sa.Column('prefix', sa.String(length=12), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ['organisation_id'], ['organisations.id'], name=op.f('fk_api_keys_organisation_id_organisations')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_keys')),
        sa.UniqueConstraint('key_hash', name=op.f('uq_api_keys_key_hash')),
    )
    with op.batch_alter_table('api_keys') as batch:
        batch.create_index(batch.f('ix_api_keys_organisation_id'), ['organisation_id'], unique=False)
    op.create_table(
        'card_photos',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=True),
        sa.Column('uploaded_by', sa.String(length=100), nullable=False),
        sa.Column('content_type', sa.String(length=32), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_card_photos_card_id_cards')),
        sa.ForeignKeyConstraint(
            ['organisation_id'], ['organisations.id'], name=op.f('fk_card_photos_organisation_id_organisations')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_card_photos')),
    )
    with op.batch_alter_table('card_photos') as batch:
        batch.create_index(batch.f('ix_card_photos_card_id'), ['card_id'], unique=False)
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('delivery_id', sa.String(length=36), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('card_id', sa.Integer(), nullable=True),
        sa.Column('event', sa.String(length=32), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('retried_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'delivered', 'failed')", name=op.f('ck_webhook_deliveries_state')),
        sa.ForeignKeyConstraint(['card_id'], ['cards.id'], name=op.f('fk_webhook_deliveries_card_id_cards')),
        sa.ForeignKeyConstraint(
            ['organisation_id'],
            ['organisations.id'],
            name=op.f('fk_webhook_deliveries_organisation_id_organisations'),
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
        sa.UniqueConstraint('delivery_id', name=op.f('uq_webhook_deliveries_delivery_id')),
    )
    with op.batch_alter_table('webhook_deliveries') as batch:
        batch.create_index(batch.f('ix_webhook_deliveries_card_id'), ['card_id'], unique=False)
        batch.create_index(batch.f('ix_webhook_deliveries_organisation_id'), ['organisation_id'], unique=False)
        batch.create_index('ix_webhook_deliveries_due', ['state', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    """Revert this revision (cards in the new states go back to routed; executors cannot be kept)."""
    op.drop_table('webhook_deliveries')
    op.drop_table('card_photos')
    op.drop_table('api_keys')
    op.execute("UPDATE cards SET status = 'routed' WHERE status IN ('accepted', 'in_progress', 'returned')")
    with op.batch_alter_table('cards') as batch:
        batch.drop_index('ix_cards_open_due')
        batch.drop_constraint(op.f('ck_cards_priority'), type_='check')
        batch.drop_constraint(op.f('ck_cards_deadline_stage'), type_='check')
        batch.drop_constraint(op.f('ck_cards_status'), type_='check')
        batch.create_check_constraint(op.f('ck_cards_status'), STATUSES_BEFORE)
        for column in (
            'deadline_stage_at', 'deadline_stage', 'reopen_count', 'return_count', 'status_notes', 'accepted_at',
            'priority',
        ):
            batch.drop_column(column)
    op.execute("DELETE FROM users WHERE role = 'executor'")
    with op.batch_alter_table('users') as batch:
        batch.drop_constraint(op.f('ck_users_role'), type_='check')
        batch.create_check_constraint(op.f('ck_users_role'), ROLES_BEFORE)
        batch.drop_index(batch.f('ix_users_organisation_id'))
        batch.drop_constraint(batch.f('fk_users_organisation_id_organisations'), type_='foreignkey')
        batch.drop_column('organisation_id')
    with op.batch_alter_table('organisations') as batch:
        batch.drop_column('webhook_secret')
        batch.drop_column('webhook_url')
        batch.drop_column('deadline_hours')
