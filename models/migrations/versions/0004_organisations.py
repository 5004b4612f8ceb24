"""organisations: the bodies that do the work, and the routing rules that send cards to them

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        'organisations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=64), nullable=False),
        sa.Column('name_kk', sa.String(length=300), nullable=False),
        sa.Column('name_ru', sa.String(length=300), nullable=False),
        sa.Column('services', sa.JSON(), nullable=False),
        sa.Column('phone', sa.String(length=64), nullable=True),
        sa.Column('email', sa.String(length=200), nullable=True),
        sa.Column('address', sa.String(length=300), nullable=True),
        sa.Column('working_hours', sa.JSON(), nullable=False),
        sa.Column('receives', sa.JSON(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_organisations')),
        sa.UniqueConstraint('code', name=op.f('uq_organisations_code')),
    )
    op.create_table(
        'routing_rules',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=64), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('organisation_id', sa.Integer(), nullable=False),
        sa.Column('services', sa.JSON(), nullable=False),
        sa.Column('topics', sa.JSON(), nullable=False),
        sa.Column('districts', sa.JSON(), nullable=False),
        sa.Column('street', sa.String(length=200), nullable=True),
        sa.Column('houses', sa.JSON(), nullable=False),
        sa.Column('named_object', sa.String(length=200), nullable=True),
        sa.Column('fallback', sa.Boolean(), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['organisation_id'], ['organisations.id'], name=op.f('fk_routing_rules_organisation_id_organisations')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_routing_rules')),
        sa.UniqueConstraint('code', name=op.f('uq_routing_rules_code')),
    )
    with op.batch_alter_table('routing_rules') as batch:
        batch.create_index('ix_routing_rules_position', ['position'], unique=False)
        batch.create_index(batch.f('ix_routing_rules_organisation_id'), ['organisation_id'], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('routing_rules') as batch:
        batch.drop_index(batch.f('ix_routing_rules_organisation_id'))
        batch.drop_index('ix_routing_rules_position')
    op.drop_table('routing_rules')
    op.drop_table('organisations')
