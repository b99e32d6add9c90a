"""Notifications: whom each outbox notice is for, its retry schedule and per-channel results,
the meeting invitation's sequence, and the decision links already used.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("recipient", sa.String(length=360), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("results", sa.JSON(), nullable=True))
        batch.create_index("ix_outbox_next_attempt_at", ["next_attempt_at"])
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(
            sa.Column("invite_sequence", sa.Integer(), nullable=False, server_default="-1")
        )
    op.create_table(
        "link_uses",
        sa.Column("digest", sa.String(length=64), primary_key=True),
        sa.Column("review_id", sa.Integer(), sa.ForeignKey("reviews.id"), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_link_uses_review_id", "link_uses", ["review_id"])


def downgrade() -> None:
    op.drop_index("ix_link_uses_review_id", table_name="link_uses")
    op.drop_table("link_uses")
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("invite_sequence")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_next_attempt_at")
        batch.drop_column("results")
        batch.drop_column("next_attempt_at")
        batch.drop_column("recipient")
