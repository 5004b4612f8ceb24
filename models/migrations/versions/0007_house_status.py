"""house status: whether the model heard the caller's house number, was unsure of it, or heard none

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('cards') as batch:
        batch.add_column(sa.Column('proposed_house_status', sa.String(length=16), nullable=True))
        batch.create_check_constraint(
            op.f('ck_cards_proposed_house_status'),
            "proposed_house_status IN ('heard', 'uncertain', 'absent')",
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('cards') as batch:
        batch.drop_constraint(op.f('ck_cards_proposed_house_status'), type_='check')
        batch.drop_column('proposed_house_status')
