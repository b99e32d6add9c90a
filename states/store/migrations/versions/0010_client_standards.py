"""A client is assessed against standards besides its template's (e.g. hipaa-security).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("clients", sa.Column("standards", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("clients", "standards")
