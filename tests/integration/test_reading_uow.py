"""A unit of work that only reads (a page) takes no write lock on SQLite: it reads beside a
writer's open transaction instead of queueing behind it, and sees only committed data."""

from __future__ import annotations

import time

from sqlalchemy import Engine, func, select

from states.store import db
from states.store.models import Person
from tests.conftest import UowFactory


def test_a_reading_unit_of_work_reads_beside_an_open_writer(
    sqlite_engine: Engine, sqlite_uow: UowFactory
) -> None:
    with db.UnitOfWork(sqlite_engine) as writer:
        before = writer.session.scalar(select(func.count()).select_from(Person))
        writer.session.add(Person(name="Pending Person", email="pending@msp.example"))
        writer.session.flush()  # the write lock is held until commit
        started = time.monotonic()
        with db.UnitOfWork(sqlite_engine).reading() as reader:
            seen = reader.session.scalar(select(func.count()).select_from(Person))
        assert time.monotonic() - started < 5  # a writing one would wait out busy_timeout
        assert seen == before  # the writer's row is not committed yet
        writer.commit()
    with db.UnitOfWork(sqlite_engine).reading() as reader:
        assert reader.session.scalar(select(func.count()).select_from(Person)) == before + 1
