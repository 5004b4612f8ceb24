"""card routing: the organisation a confirmed card goes to, and how it was chosen

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-08 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('cards') as batch:
        batch.add_column(sa.Column('organisation_id', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('routing_rule', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('routing_reason', sa.Text(), nullable=True))
        batch.create_foreign_key(
            batch.f('fk_cards_organisation_id_organisations'), 'organisations', ['organisation_id'], ['id']
        )
        batch.create_index(batch.f('ix_cards_organisation_id'), ['organisation_id'], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('cards') as batch:
        batch.drop_index(batch.f('ix_cards_organisation_id'))
        batch.drop_constraint(batch.f('fk_cards_organisation_id_organisations'), type_='foreignkey')
        batch.drop_column('routing_reason')
        batch.drop_column('routing_rule')
        batch.drop_column('organisation_id')
