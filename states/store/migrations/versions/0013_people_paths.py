"""The ways people meet xbr: a client's public holidays (country and subdivision), each
person's notification rhythm (immediate or a daily digest in their time zone), a review
started without a run, and the run's artifacts updated in place.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("clients", sa.Column("country", sa.String(length=2), nullable=True))
    op.add_column("clients", sa.Column("subdivision", sa.String(length=10), nullable=True))
    op.add_column(
        "people",
        sa.Column("notify", sa.String(length=10), server_default="immediate", nullable=False),
    )
    op.add_column("people", sa.Column("timezone", sa.String(length=64), nullable=True))
    op.add_column("people", sa.Column("digest_sent_at", sa.DateTime(), nullable=True))
    op.add_column(
        "reviews",
        sa.Column("run_held", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("reviews", sa.Column("artifact_ids", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("reviews", "artifact_ids")
    op.drop_column("reviews", "run_held")
    op.drop_column("people", "digest_sent_at")
    op.drop_column("people", "timezone")
    op.drop_column("people", "notify")
    op.drop_column("clients", "subdivision")
    op.drop_column("clients", "country")
