"""Flow runs: which Prefect run drives each review, how often it was re-attached, and the
installation's own id, which keeps its runs apart from another xbr's on a shared server.

Revision ID: 0002
Revises: 0001
"""

import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    installation = op.create_table(
        "installation",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    now = datetime.now(UTC).replace(tzinfo=None)
    op.bulk_insert(installation, [{"id": str(uuid.uuid4()), "created_at": now}])
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("flow_run_id", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("run_generation", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("progress_artifact_id", sa.String(length=64), nullable=True))
        batch.create_index("reviews_by_flow_run", ["flow_run_id"])
        batch.create_index("reviews_by_wake_at", ["wake_at"])


def downgrade() -> None:
    op.drop_table("installation")
    with op.batch_alter_table("reviews") as batch:
        batch.drop_index("reviews_by_wake_at")
        batch.drop_index("reviews_by_flow_run")
        batch.drop_column("progress_artifact_id")
        batch.drop_column("run_generation")
        batch.drop_column("flow_run_id")
