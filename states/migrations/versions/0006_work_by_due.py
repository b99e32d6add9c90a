"""Work that grows with what is due: the WIP pull queue, the moments a review's phase warns and
escalates, when the sweeper last saw its run live, and task indexes for reminders and load.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OPEN = (
    "('needed', 'scheduling', 'scheduled', 'staging', 'prep', 'delivery', 'follow_up', 'qa_review')"
)
MOMENT = sa.DateTime()


def upgrade() -> None:
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("queued_for", sa.String(20), nullable=True))
        batch.add_column(sa.Column("queued_at", MOMENT, nullable=True))
        batch.add_column(sa.Column("queued_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("age_warning_at", MOMENT, nullable=True))
        batch.add_column(sa.Column("escalate_at", MOMENT, nullable=True))
        batch.add_column(sa.Column("run_seen_at", MOMENT, nullable=True))
        batch.create_index("reviews_by_queue", ["queued_for", "meeting_at"])
        batch.create_index("reviews_by_escalate_at", ["escalate_at"])
        batch.create_index("reviews_by_run_seen_at", ["run_seen_at"])
    with op.batch_alter_table("review_tasks") as batch:
        batch.add_column(sa.Column("overdue_noticed_for", MOMENT, nullable=True))
        batch.create_index("review_tasks_by_due", ["status", "due_at"])
        batch.create_index("review_tasks_by_assignee", ["assignee_id", "status"])
    # open reviews are looked at once by the next sweep, which sets the real moments
    op.execute(
        f"UPDATE reviews SET escalate_at = phase_entered_at, age_warning_at = NULL "
        f"WHERE status IN {OPEN}"
    )


def downgrade() -> None:
    with op.batch_alter_table("review_tasks") as batch:
        batch.drop_index("review_tasks_by_assignee")
        batch.drop_index("review_tasks_by_due")
        batch.drop_column("overdue_noticed_for")
    with op.batch_alter_table("reviews") as batch:
        batch.drop_index("reviews_by_run_seen_at")
        batch.drop_index("reviews_by_escalate_at")
        batch.drop_index("reviews_by_queue")
        for column in (
            "run_seen_at",
            "escalate_at",
            "age_warning_at",
            "queued_by",
            "queued_at",
            "queued_for",
        ):
            batch.drop_column(column)
