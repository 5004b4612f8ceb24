"""privacy and quality review: the access log, retention runs and legal holds; QA rule sets, scorecards, judgments and samples

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-08 00:55:52.222283
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "retention_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("removed", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("state IN ('running', 'finished', 'failed')", name=op.f("ck_retention_runs_state")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retention_runs")),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("client", sa.String(length=64), nullable=True),
        sa.CheckConstraint(
            "kind IN ('listen', 'unmasked_transcript', 'masked_audio_export', 'unmasked_export')",
            name=op.f("ck_access_log_kind"),
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_access_log_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index("ix_access_log_call_at", ["call_id", "at"], unique=False)
        batch_op.create_index("ix_access_log_user_at", ["user_id", "at"], unique=False)

    op.create_table(
        "qa_rule_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_qa_rule_sets_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_rule_sets")),
        sa.UniqueConstraint("version", name=op.f("uq_qa_rule_sets_version")),
    )
    op.create_table(
        "qa_samples",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("week", sa.String(length=8), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_qa_samples_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"], name=op.f("fk_qa_samples_operator_id_users")),
        sa.ForeignKeyConstraint(["reviewed_by_id"], ["users.id"], name=op.f("fk_qa_samples_reviewed_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_samples")),
        sa.UniqueConstraint("call_id", name="uq_qa_samples_call"),
    )
    with op.batch_alter_table("qa_samples", schema=None) as batch_op:
        batch_op.create_index("ix_qa_samples_week_operator", ["week", "operator_id"], unique=False)

    op.create_table(
        "qa_scorecards",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=True),
        sa.Column("rule_set_version", sa.Integer(), nullable=False),
        sa.Column("asr_model_version", sa.String(length=128), nullable=True),
        sa.Column("classifier_model_version", sa.String(length=128), nullable=True),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("asr_confidence", sa.Float(), nullable=True),
        sa.Column("emergency", sa.String(length=8), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["call_id"], ["calls.id"], name=op.f("fk_qa_scorecards_call_id_calls"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["operator_id"], ["users.id"], name=op.f("fk_qa_scorecards_operator_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_scorecards")),
    )
    with op.batch_alter_table("qa_scorecards", schema=None) as batch_op:
        batch_op.create_index("ix_qa_scorecards_call", ["call_id", "id"], unique=False)
        batch_op.create_index("ix_qa_scorecards_operator_scored", ["operator_id", "scored_at"], unique=False)

    op.create_table(
        "qa_judgments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scorecard_id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("outcome IN ('passed', 'failed', 'not_applicable')", name=op.f("ck_qa_judgments_outcome")),
        sa.CheckConstraint("verdict IN ('agree', 'disagree')", name=op.f("ck_qa_judgments_verdict")),
        sa.ForeignKeyConstraint(
            ["scorecard_id"],
            ["qa_scorecards.id"],
            name=op.f("fk_qa_judgments_scorecard_id_qa_scorecards"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_qa_judgments_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qa_judgments")),
        sa.UniqueConstraint("scorecard_id", "rule", "user_id", name="uq_qa_judgments_one_per_reviewer"),
    )
    with op.batch_alter_table("qa_judgments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_qa_judgments_scorecard_id"), ["scorecard_id"], unique=False)

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.add_column(sa.Column("operator_asr_status", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("operator_asr_gaps", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("recordings_removed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("transcript_removed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("caller_number_removed_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("legal_hold_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("legal_hold_by_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("legal_hold_reason", sa.Text(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_cards_legal_hold_by_id_users"), "users", ["legal_hold_by_id"], ["id"]
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_cards_legal_hold_by_id_users"), type_="foreignkey")
        batch_op.drop_column("legal_hold_reason")
        batch_op.drop_column("legal_hold_by_id")
        batch_op.drop_column("legal_hold_at")

    with op.batch_alter_table("calls", schema=None) as batch_op:
        batch_op.drop_column("caller_number_removed_at")
        batch_op.drop_column("transcript_removed_at")
        batch_op.drop_column("recordings_removed_at")
        batch_op.drop_column("operator_asr_gaps")
        batch_op.drop_column("operator_asr_status")

    with op.batch_alter_table("qa_judgments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_qa_judgments_scorecard_id"))

    op.drop_table("qa_judgments")
    with op.batch_alter_table("qa_scorecards", schema=None) as batch_op:
        batch_op.drop_index("ix_qa_scorecards_operator_scored")
        batch_op.drop_index("ix_qa_scorecards_call")

    op.drop_table("qa_scorecards")
    with op.batch_alter_table("qa_samples", schema=None) as batch_op:
        batch_op.drop_index("ix_qa_samples_week_operator")

    op.drop_table("qa_samples")
    op.drop_table("qa_rule_sets")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index("ix_access_log_user_at")
        batch_op.drop_index("ix_access_log_call_at")

    op.drop_table("access_log")
    op.drop_table("retention_runs")
