"""Each client's slug (its folder and tag) kept beside its name, indexed: adding a client looks
up whether another one has its slug instead of reading every client's name.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def slug(name: str) -> str:
    """The slug as xbr made it when this revision was written (lowercase words, dashes)."""
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def upgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.add_column(sa.Column("slug", sa.String(200), nullable=True))
    clients = sa.table("clients", sa.column("id"), sa.column("name"), sa.column("slug"))
    connection = op.get_bind()
    rows = connection.execute(sa.select(clients.c.id, clients.c.name)).all()
    if rows:
        named = clients.update().where(clients.c.id == sa.bindparam("key"))
        connection.execute(
            named.values(slug=sa.bindparam("value")),
            [{"key": key, "value": slug(name)} for key, name in rows],
        )
    with op.batch_alter_table("clients") as batch:
        batch.alter_column("slug", existing_type=sa.String(200), nullable=False)
        batch.create_index("ix_clients_slug", ["slug"])


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_index("ix_clients_slug")
        batch.drop_column("slug")
