"""Recurrence: a review past its meeting (follow-up, QA) no longer holds its client's slot, so
that follow-up's last step can create the next review of the same type; and the day the account
calendar opens a client's next review.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BEFORE = sa.text("status NOT IN ('closed', 'cancelled') AND type != 'ad-hoc'")
AFTER = sa.text(
    "status NOT IN ('follow_up', 'qa_review', 'closed', 'cancelled') AND type != 'ad-hoc'"
)


def _index(where: sa.TextClause) -> None:
    op.drop_index("one_open_review_per_type", table_name="reviews")
    op.create_index(
        "one_open_review_per_type",
        "reviews",
        ["client_id", "type"],
        unique=True,
        sqlite_where=where,
        postgresql_where=where,
    )


def upgrade() -> None:
    _index(AFTER)
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("next_review_on", sa.Date(), nullable=True))
        batch.create_index("ix_clients_next_review_on", ["next_review_on"])


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_index("ix_clients_next_review_on")
        batch.drop_column("next_review_on")
    _index(BEFORE)
