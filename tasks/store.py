"""The application database as the tasks and flows see it: the settings of the `xbr` command."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Engine

from states.db import UnitOfWork, make_engine
from states.settings import Settings


@cache
def _engine() -> Engine:
    return make_engine(Settings().url)


def uow() -> UnitOfWork:
    """A unit of work on the database named by XBR_DATABASE_URL or XBR_HOME."""
    return UnitOfWork(_engine())
