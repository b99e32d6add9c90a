"""Every audit row says how its actor was known: the entry point and its proof of identity.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "audit_log", sa.Column("via", sa.String(length=200), server_default="", nullable=False)
    )
    op.add_column(
        "decisions", sa.Column("via", sa.String(length=200), server_default="", nullable=False)
    )


def downgrade() -> None:
    op.drop_column("decisions", "via")
    op.drop_column("audit_log", "via")
