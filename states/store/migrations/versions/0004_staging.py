"""Staging: evidence per review and source, findings, follow-up tickets, assessments, client
thresholds and the client's feedback.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OPEN_TICKET = sa.text("status = 'open'")


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("thresholds", sa.JSON(), nullable=True))
    with op.batch_alter_table("reviews") as batch:
        batch.add_column(sa.Column("feedback", sa.JSON(), nullable=True))
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("review_id", sa.Integer(), sa.ForeignKey("reviews.id"), nullable=False),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("file_name", sa.String(length=300), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.Column("imported_at", sa.DateTime(), nullable=False),
        sa.Column("imported_by", sa.String(length=320), nullable=False),
        sa.UniqueConstraint("review_id", "source"),
    )
    op.create_index("ix_evidence_client_id", "evidence", ["client_id"])
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("owner_role", sa.String(length=40), nullable=False),
        sa.Column("due_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("review_id", sa.Integer(), sa.ForeignKey("reviews.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_tickets_client_id", "tickets", ["client_id"])
    op.create_index("ix_tickets_review_id", "tickets", ["review_id"])
    op.create_index(
        "one_open_ticket_per_anomaly",
        "tickets",
        ["client_id", "key"],
        unique=True,
        sqlite_where=OPEN_TICKET,
        postgresql_where=OPEN_TICKET,
    )
    op.create_table(
        "findings",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("review_id", sa.Integer(), sa.ForeignKey("reviews.id"), nullable=False),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("check", sa.String(length=64), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("disposition", sa.String(length=20), nullable=False),
        sa.Column("owner_role", sa.String(length=40), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("recurring", sa.Boolean(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("review_id", "key"),
    )
    op.create_index("ix_findings_client_id", "findings", ["client_id"])
    op.create_table(
        "assessments",
        sa.Column("review_id", sa.Integer(), sa.ForeignKey("reviews.id"), primary_key=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("evidence_digest", sa.String(length=64), nullable=False),
        sa.Column("assessed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_assessments_client_id", "assessments", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_assessments_client_id", table_name="assessments")
    op.drop_table("assessments")
    op.drop_index("ix_findings_client_id", table_name="findings")
    op.drop_table("findings")
    op.drop_index("one_open_ticket_per_anomaly", table_name="tickets")
    op.drop_index("ix_tickets_review_id", table_name="tickets")
    op.drop_index("ix_tickets_client_id", table_name="tickets")
    op.drop_table("tickets")
    op.drop_index("ix_evidence_client_id", table_name="evidence")
    op.drop_table("evidence")
    with op.batch_alter_table("reviews") as batch:
        batch.drop_column("feedback")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("thresholds")
