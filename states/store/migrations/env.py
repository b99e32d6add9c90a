"""Alembic environment: the engine xbr hands over (states.store.db), else one on the settings'
database, so that `alembic revision --autogenerate` works from a shell; metadata from the models."""

from alembic import context

from states.settings import Settings
from states.store.db import make_engine
from states.store.models import Base

handed = context.config.attributes.get("engine")
engine = handed or make_engine(Settings().url)

with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
if handed is None:
    engine.dispose()
