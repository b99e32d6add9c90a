"""A unit of work that only reads (a page) takes no write lock on SQLite: it reads beside a
writer's open transaction instead of queueing behind it, and sees only committed data."""

from __future__ import annotations

import time

from sqlalchemy import Engine, func, select, text

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


def test_a_reading_unit_of_work_holds_no_transaction_open_on_postgresql(
    postgres_url: str,
) -> None:
    # READ COMMITTED gives each statement its own snapshot in a transaction or not: a page's
    # reads go without BEGIN and ROLLBACK, and hold nothing open between its queries
    engine = db.make_engine(postgres_url)
    db.upgrade(engine)
    try:
        # the watcher without a transaction: pg_stat_activity is read afresh by each query
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as watcher:

            def state(backend: int) -> str:
                return str(watcher.execute(
                    text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": backend}
                ).scalar())  # fmt: skip

            with db.UnitOfWork(engine).reading() as reader:
                backend = reader.session.scalar(text("SELECT pg_backend_pid()"))
                assert state(backend) == "idle"
            with db.UnitOfWork(engine) as writer:
                backend = writer.session.scalar(text("SELECT pg_backend_pid()"))
                assert state(backend) == "idle in transaction"
    finally:
        engine.dispose()
