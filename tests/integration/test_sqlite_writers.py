"""SQLite's writers wait in line for each other, threads and processes alike
(states/store/writer_line.py): every write lands, a transaction that fails or loses its
connection leaves the line at once, and reading units of work never wait in it."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import PendingRollbackError

from states.store import db
from states.store.models import Person

ROOT = Path(__file__).resolve().parents[2]
# far below the line's own minute: a place that was not given back would show
PROMPT = 10.0


def _count(engine: Engine) -> int:
    with db.UnitOfWork(engine).reading() as reader:
        return int(reader.session.scalar(select(func.count()).select_from(Person)) or 0)


def _next_writer_gets_in(engine: Engine) -> None:
    started = time.monotonic()
    with db.UnitOfWork(engine) as work:
        work.session.add(Person(name="Next Writer", email="next@msp.example"))
        work.commit()
    assert time.monotonic() - started < PROMPT


def test_writers_of_many_threads_all_land(sqlite_engine: Engine) -> None:
    before = _count(sqlite_engine)

    def add(n: int) -> None:
        for i in range(10):
            with db.UnitOfWork(sqlite_engine) as work:
                work.session.add(Person(name=f"Writer {n} {i}", email=f"w{n}-{i}@msp.example"))
                work.commit()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(add, range(8)))
    assert _count(sqlite_engine) == before + 80


def test_a_failed_writer_leaves_the_line_at_once(sqlite_engine: Engine) -> None:
    def refused_halfway() -> None:
        with db.UnitOfWork(sqlite_engine) as work:
            work.session.add(Person(name="Never Saved", email="never@msp.example"))
            work.session.flush()
            raise RuntimeError("the change is refused halfway")

    with pytest.raises(RuntimeError):
        refused_halfway()
    _next_writer_gets_in(sqlite_engine)


def test_a_writer_whose_connection_is_lost_leaves_the_line(sqlite_engine: Engine) -> None:
    # as an error that breaks the connection does: SQLAlchemy then refuses the session's end
    with contextlib.suppress(PendingRollbackError), db.UnitOfWork(sqlite_engine) as work:
        work.session.execute(text("UPDATE people SET name = name WHERE id = -1"))
        work.session.connection().invalidate()
    _next_writer_gets_in(sqlite_engine)


def test_a_reader_does_not_wait_for_the_writer_in_line(sqlite_engine: Engine) -> None:
    holding, done = threading.Event(), threading.Event()

    def write() -> None:
        with db.UnitOfWork(sqlite_engine) as work:
            work.session.add(Person(name="Slow Writer", email="slow@msp.example"))
            work.session.flush()
            holding.set()
            done.wait(PROMPT)
            work.commit()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert holding.wait(PROMPT)
        started = time.monotonic()
        seen = _count(sqlite_engine)
        assert time.monotonic() - started < PROMPT
        assert seen == _count(sqlite_engine)  # the writer's row is not committed yet
    finally:
        done.set()
        writer.join()


def test_writers_of_two_processes_all_land(sqlite_engine: Engine, sqlite_url: str) -> None:
    before = _count(sqlite_engine)
    script = (
        "import sys; from states.store import db; from states.store.models import Person\n"
        "engine = db.make_engine(sys.argv[1])\n"
        "n = sys.argv[2]\n"
        "for i in range(25):\n"
        "    with db.UnitOfWork(engine) as work:\n"
        "        work.session.add(Person(name=f'P{n} {i}', email=f'p{n}-{i}@msp.example'))\n"
        "        work.commit()\n"
    )  # fmt: skip
    writers = [
        subprocess.Popen([sys.executable, "-c", script, sqlite_url, str(n)], cwd=ROOT)
        for n in range(2)
    ]
    assert [writer.wait(120) for writer in writers] == [0, 0]
    assert _count(sqlite_engine) == before + 50
    assert Path(f"{sqlite_engine.url.database}-writers").exists()  # the processes' line
