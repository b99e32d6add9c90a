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
OPEN_TASK = sa.text("status = 'open'")
NOT_ENDED = sa.text("status NOT IN ('closed', 'cancelled')")


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
        batch.create_index("reviews_by_status_meeting", ["status", "meeting_at"])
        batch.create_index("reviews_by_status_age_warning", ["status", "age_warning_at"])
    op.create_index(
        "open_reviews_by_run_seen_at", "reviews", ["run_seen_at"],
        sqlite_where=NOT_ENDED, postgresql_where=NOT_ENDED,
    )  # fmt: skip
    with op.batch_alter_table("review_tasks") as batch:
        batch.add_column(sa.Column("reminded_for", MOMENT, nullable=True))
    for name, column in (
        ("open_tasks_by_due", "due_at"),
        ("open_tasks_by_assignee", "assignee_id"),
    ):
        op.create_index(
            name, "review_tasks", [column], sqlite_where=OPEN_TASK, postgresql_where=OPEN_TASK
        )
    # an ended review's open tasks are reminded of no more
    op.execute(
        "UPDATE review_tasks SET reminded_for = due_at WHERE status = 'open' AND review_id IN "
        "(SELECT id FROM reviews WHERE status IN ('closed', 'cancelled'))"
    )
    # a client whose slot a review holds is not read by the calendar until it leaves it
    op.execute(
        "UPDATE clients SET next_review_on = '9999-12-31' WHERE EXISTS (SELECT 1 FROM reviews "
        "WHERE reviews.client_id = clients.id AND reviews.type != 'ad-hoc' AND reviews.status "
        "IN ('needed', 'scheduling', 'scheduled', 'staging', 'prep', 'delivery'))"
    )
    # open reviews are looked at once by the next sweep, which sets the real moments
    op.execute(
        f"UPDATE reviews SET escalate_at = phase_entered_at, age_warning_at = NULL "
        f"WHERE status IN {OPEN}"
    )


def downgrade() -> None:
    op.drop_index("open_tasks_by_assignee", table_name="review_tasks")
    op.drop_index("open_tasks_by_due", table_name="review_tasks")
    with op.batch_alter_table("review_tasks") as batch:
        batch.drop_column("reminded_for")
    op.drop_index("open_reviews_by_run_seen_at", table_name="reviews")
    with op.batch_alter_table("reviews") as batch:
        batch.drop_index("reviews_by_status_age_warning")
        batch.drop_index("reviews_by_status_meeting")
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
