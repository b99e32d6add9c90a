"""My work for a person with thousands of gates: reviews by status, template, meeting date and
client (who decides or works a review, and its gates by meeting date, without reading its row),
and a person's open tasks by review, due date and position (counted and sorted the same way).

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

OPEN_TASK = sa.text("status = 'open'")
BY_ASSIGNEE = ["assignee_id", "review_id", "due_at", "position"]


def upgrade() -> None:
    # with `id` included, PostgreSQL answers from the index alone (SQLite's hold the row id)
    op.create_index(
        "reviews_by_status_template", "reviews", ["status", "template", "meeting_at", "client_id"],
        postgresql_include=["id"],
    )  # fmt: skip
    op.drop_index("open_tasks_by_assignee", table_name="review_tasks")
    op.create_index(
        "open_tasks_by_assignee", "review_tasks", BY_ASSIGNEE,
        sqlite_where=OPEN_TASK, postgresql_where=OPEN_TASK, postgresql_include=["id"],
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("open_tasks_by_assignee", table_name="review_tasks")
    op.create_index(
        "open_tasks_by_assignee", "review_tasks", ["assignee_id"],
        sqlite_where=OPEN_TASK, postgresql_where=OPEN_TASK,
    )  # fmt: skip
    op.drop_index("reviews_by_status_template", table_name="reviews")
