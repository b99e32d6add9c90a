"""The roadmap: initiatives and their cost lines, each client's fiscal year, and audit rows
of an initiative's steps.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OPEN = sa.text("status IN ('proposed', 'deferred', 'approved', 'in_progress')")
MONEY = sa.Numeric(14, 2)


def upgrade() -> None:
    op.add_column(
        "clients", sa.Column("fiscal_year_start", sa.Integer(), server_default="1", nullable=False)
    )
    op.create_table(
        "initiatives",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("client_id", sa.Integer(), sa.ForeignKey("clients.id"), nullable=False),
        sa.Column("review_id", sa.Integer(), sa.ForeignKey("reviews.id"), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("owner_role", sa.String(length=40), nullable=False),
        sa.Column("quarter_start", sa.Date(), nullable=True),
        sa.Column("source_key", sa.String(length=200), nullable=True),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("assets", sa.JSON(), nullable=False),
        sa.Column("actual_cost", MONEY, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
    )
    op.create_index("ix_initiatives_client_id", "initiatives", ["client_id"])
    op.create_index("ix_initiatives_review_id", "initiatives", ["review_id"])
    op.create_index(
        "one_open_initiative_per_source",
        "initiatives",
        ["client_id", "source_key"],
        unique=True,
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )
    op.create_table(
        "cost_lines",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("initiative_id", sa.Integer(), sa.ForeignKey("initiatives.id"), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("amount", MONEY, nullable=False),
        sa.Column("starts", sa.Date(), nullable=False),
        sa.Column("ends", sa.Date(), nullable=True),
        sa.Column("hardware", sa.Boolean(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
    )
    op.create_index("ix_cost_lines_initiative_id", "cost_lines", ["initiative_id"])
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("initiative_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_tickets_initiative_id", "initiatives", ["initiative_id"], ["id"]
        )
        batch.create_index("ix_tickets_initiative_id", ["initiative_id"])
    # added in place: rebuilding the append-only trail would drop its triggers
    op.add_column("audit_log", sa.Column("initiative_id", sa.Integer(), nullable=True))
    op.create_index("ix_audit_log_initiative_id", "audit_log", ["initiative_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_initiative_id", "audit_log")
    op.drop_column("audit_log", "initiative_id")
    with op.batch_alter_table("tickets") as batch:
        batch.drop_index("ix_tickets_initiative_id")
        batch.drop_constraint("fk_tickets_initiative_id", type_="foreignkey")
        batch.drop_column("initiative_id")
    op.drop_index("ix_cost_lines_initiative_id", "cost_lines")
    op.drop_table("cost_lines")
    op.drop_index("one_open_initiative_per_source", "initiatives")
    op.drop_index("ix_initiatives_review_id", "initiatives")
    op.drop_index("ix_initiatives_client_id", "initiatives")
    op.drop_table("initiatives")
    op.drop_column("clients", "fiscal_year_start")
