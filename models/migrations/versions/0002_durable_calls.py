"""durable calls: live-decoding gaps, post-call work attempts, idempotent segment keys, "postcall" segments

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 14:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table('calls') as batch:
        batch.add_column(sa.Column('asr_gaps', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('postcall_attempts', sa.Integer(), server_default='0', nullable=False))
        batch.add_column(sa.Column('postcall_error', sa.Text(), nullable=True))
    with op.batch_alter_table('transcript_segments') as batch:
        batch.add_column(sa.Column('segment_key', sa.String(length=80), nullable=True))
        batch.drop_constraint(op.f('ck_transcript_segments_source'), type_='check')
        batch.create_check_constraint(
            op.f('ck_transcript_segments_source'), "source IN ('live', 'postcall', 'redecode', 'qa')"
        )
        batch.create_unique_constraint('uq_transcript_segments_call_key', ['call_id', 'segment_key'])


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table('transcript_segments') as batch:
        batch.drop_constraint('uq_transcript_segments_call_key', type_='unique')
        batch.drop_constraint(op.f('ck_transcript_segments_source'), type_='check')
        batch.create_check_constraint(op.f('ck_transcript_segments_source'), "source IN ('live', 'redecode', 'qa')")
        batch.drop_column('segment_key')
    with op.batch_alter_table('calls') as batch:
        batch.drop_column('postcall_error')
        batch.drop_column('postcall_attempts')
        batch.drop_column('asr_gaps')
