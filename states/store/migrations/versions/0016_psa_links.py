"""The PSA: a client's company there, the objects mirrored there (each with the stamp that
finds it again after a lost answer), and how far the pull of the PSA's changes got.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("psa_company", sa.String(64), nullable=True))
        batch.add_column(sa.Column("psa_company_name", sa.String(200), nullable=True))
    op.create_table(
        "psa_links",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("psa", sa.String(20), nullable=False),
        sa.Column("object", sa.String(20), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column("stamp", sa.String(100), nullable=False),
        sa.Column("remote_id", sa.String(64), nullable=True),
        sa.Column("parent_remote_id", sa.String(64), nullable=True),
        sa.Column("create_sent_at", sa.DateTime(), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("psa", "object", "local_id", name="psa_link_per_object"),
        sa.UniqueConstraint("stamp"),
    )
    op.create_index("ix_psa_links_review_id", "psa_links", ["review_id"])
    op.create_index("ix_psa_links_remote_id", "psa_links", ["remote_id"])
    op.create_table(
        "psa_pulls",
        sa.Column("psa", sa.String(20), primary_key=True),
        sa.Column("pulled_until", sa.DateTime(), nullable=False),
        sa.Column("pulled_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("psa_pulls")
    op.drop_index("ix_psa_links_remote_id", table_name="psa_links")
    op.drop_index("ix_psa_links_review_id", table_name="psa_links")
    op.drop_table("psa_links")
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("psa_company_name")
        batch.drop_column("psa_company")
