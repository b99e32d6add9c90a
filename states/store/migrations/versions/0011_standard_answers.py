"""Reviews assess standards: the versions they assessed, and people's answers to their items.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reviews", sa.Column("standards", sa.JSON(), server_default="[]", nullable=False))
    op.add_column(
        "assessments", sa.Column("checks", sa.JSON(), server_default="[]", nullable=False)
    )
    op.create_table(
        "standard_versions",
        sa.Column("digest", sa.String(length=64), primary_key=True),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_table(
        "answers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("review_id", sa.Integer(), sa.ForeignKey("reviews.id"), nullable=False),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("standard", sa.String(length=64), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("answer", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("answered_by", sa.String(length=320), nullable=False),
        sa.Column("via", sa.String(length=200), nullable=False),
        sa.Column("carried_from", sa.Integer(), sa.ForeignKey("reviews.id"), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("review_id", "standard", "item"),
    )
    op.create_index("ix_answers_client_id", "answers", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_answers_client_id", "answers")
    op.drop_table("answers")
    op.drop_table("standard_versions")
    op.drop_column("assessments", "checks")
    op.drop_column("reviews", "standards")
