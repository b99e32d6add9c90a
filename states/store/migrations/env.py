"""Alembic environment: the engine comes from xbr (states.store.db), metadata from the models."""

from alembic import context

from states.store.models import Base

engine = context.config.attributes["engine"]

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
