"""Engines, the unit of work, and schema migrations."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from states.errors import XbrError
from states.store.writer_line import WriterLine

if TYPE_CHECKING:
    from alembic.config import Config

K = TypeVar("K")
V = TypeVar("V")

# Alembic is imported where it is used: a resumed review's flow run never migrates, and
# every import lengthens the time from a decision to the next gate.
MIGRATIONS = Path(__file__).parent / "migrations"
WRITING = "xbr_writing"  # a SQLite connection's info: it holds its process's place in line
READ_ONLY = "xbr_read_only"  # the execution option of a unit of work that only reads


POOL_SIZE = 20  # connections a process keeps open (PostgreSQL); up to 10 more while busy


def make_engine(url: str) -> Engine:
    """An engine; SQLite gets WAL, foreign keys and write-locking transactions."""
    # orjson reads the JSON columns (template snapshots, payloads) several times faster
    if not url.startswith("sqlite"):
        # a web worker answers up to some twenty requests at once: each keeps its connection
        return create_engine(
            url,
            pool_pre_ping=True,
            # a statement seen twice on a connection is prepared: PostgreSQL then skips parsing
            # and planning it (psycopg waits for five uses; a pool of twenty rarely gets there)
            connect_args={"prepare_threshold": 1},
            pool_size=POOL_SIZE,
            max_overflow=10,
            json_deserializer=orjson.loads,
        )
    engine = create_engine(url, connect_args={"timeout": 60}, json_deserializer=orjson.loads)

    @event.listens_for(engine, "connect")
    def _sqlite_setup(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy own BEGIN, so that every transaction can take the write lock up front.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=60000")
        cursor.close()

    line = WriterLine(engine.url.database)  # writers start one after another (writer_line.py)

    @event.listens_for(engine, "begin")
    def _begin_immediate(conn: Connection) -> None:
        # A deferred transaction that reads and then writes fails at once when another writer
        # got in between; IMMEDIATE queues writers behind the busy timeout instead. A reading
        # unit of work never writes: it reads its snapshot beside the writer (WAL).
        if conn.get_execution_options().get(READ_ONLY, False):
            conn.exec_driver_sql("BEGIN")
            return
        conn.info[WRITING] = line.enter()
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            _leave(conn.info)
            raise

    def _leave(info: dict[Any, Any]) -> None:
        if info.pop(WRITING, False):
            line.leave()

    event.listen(engine, "commit", lambda conn: _leave(conn.info))
    event.listen(engine, "rollback", lambda conn: _leave(conn.info))
    # however a connection ends its use (an error that invalidated it, a close), it leaves
    event.listen(engine.pool, "checkin", lambda _dbapi, record: _leave(record.info))
    event.listen(engine.pool, "invalidate", lambda _dbapi, record, _exc: _leave(record.info))
    return engine


def open_connections(engine: Engine, count: int) -> None:
    """Open up to `count` pooled connections now (PostgreSQL; SQLite opens a file), so that
    the first burst of requests does not wait for new ones; a database that does not answer
    yet is connected to later, as needed."""
    if engine.dialect.name == "sqlite":
        return
    held = []
    try:
        for _ in range(count):
            held.append(engine.connect())
    except DBAPIError:
        pass
    finally:
        for connection in held:
            connection.close()


class UnitOfWork:
    """One transaction: commit explicitly, anything else rolls back. `via` says through which
    entry point and proof of identity its changes come; every audit row it writes keeps it.
    `actor`: who makes its changes when no step names them (the signed-in person's email, the
    operating-system user of a command line), as the directory's trail records them."""

    def __init__(
        self,
        engine: Engine,
        via: str = "",
        holiday_place: tuple[str | None, str | None] = (None, None),
        actor: str = "",
    ) -> None:
        self._engine = engine
        self._factory = _session_maker(engine)
        self.session: Session
        self.via, self.actor = via, actor
        # the MSP's holidays (XBR_COUNTRY, XBR_SUBDIVISION), for clients without their own
        self.holiday_place = holiday_place
        self.read_only = False

    def reading(self) -> UnitOfWork:
        """This unit of work as one that only reads (a page): on SQLite it takes no write
        lock, so it neither waits for a writer nor holds one up. Writing in it is a bug."""
        self.read_only = True
        return self

    def __enter__(self) -> UnitOfWork:
        if self.read_only:
            self.session = self._factory(bind=_reading_engine(self._engine))
        else:
            self.session = self._factory()
        self.session.info["via"], self.session.info["actor"] = self.via, self.actor
        self.session.info["holiday_place"] = self.holiday_place
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # Closing ends the transaction without committing it; unlike rollback() it leaves the
        # objects read in it loaded, so that callers can still show them.
        self.session.close()

    def commit(self) -> None:
        self.session.commit()


def _reading_engine(engine: Engine) -> Engine:
    """The engine as units of work that only read use it (kept on it, made once)."""
    found: Engine | None = getattr(engine, "_xbr_reading", None)
    if found is None:
        options: dict[str, Any] = {READ_ONLY: True}
        if engine.dialect.name != "sqlite":
            # PostgreSQL reads at READ COMMITTED, where each statement sees its own snapshot
            # inside a transaction or not: without one, two round trips (BEGIN, ROLLBACK) less
            options["isolation_level"] = "AUTOCOMMIT"
        found = engine.execution_options(**options)
        engine._xbr_reading = found  # type: ignore[attr-defined]
    return found


def _session_maker(engine: Engine) -> sessionmaker[Session]:
    # one per engine, kept on it (and gone with it): each sessionmaker is a Session class of
    # its own, whose event set-up costs more than the session a page opens with it
    maker: sessionmaker[Session] | None = getattr(engine, "_xbr_sessions", None)
    if maker is None:
        maker = sessionmaker(engine, expire_on_commit=False)
        engine._xbr_sessions = maker  # type: ignore[attr-defined]
    return maker


def read_unread(
    session: Session,
    name: str,
    keys: Iterable[K],
    empty: Callable[[], V],
    fill: Callable[[list[K], dict[K, V]], None],
) -> dict[K, V]:
    """What this transaction has read of `name`, key by key (kept in `session.info`): the keys
    not read yet get `empty()`, then one `fill(unread, known)` reads them all, without
    flushing what the transaction has pending."""
    known: dict[K, V] = session.info.setdefault(name, {})
    unread = [key for key in keys if key not in known]
    if unread:
        for key in unread:
            known[key] = empty()
        with session.no_autoflush:
            fill(unread, known)
    return known


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision` (the newest by default)."""
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to `revision` ("base" removes everything)."""
    from alembic import command

    command.downgrade(_alembic_config(engine), revision)


@cache
def head_revision() -> str | None:
    """The newest migration shipped with this version of xbr: the one no other revises.

    Read from the files rather than through Alembic, whose import would add a tenth of a
    second to every command (tests/integration/test_migrations.py checks they agree)."""
    revises: dict[str, str | None] = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision = re.search(r'^revision = "([^"]+)"', text, re.M)
        down = re.search(r'^down_revision = (?:"([^"]+)"|None)', text, re.M)
        if revision and down:
            revises[revision[1]] = down[1]
    heads = set(revises) - set(revises.values())
    return heads.pop() if len(heads) == 1 else None


def require_current_schema(engine: Engine) -> None:
    """Refuse to work on a database that `xbr init` has not brought up to date."""
    head = head_revision()
    with engine.connect() as conn:
        try:
            current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError:  # no such table: never initialised
            current = None
    if current != head:
        state = "not initialised" if current is None else f"at schema {current}, not {head}"
        raise XbrError(f"the database {engine.url!r} is {state}; run `xbr init`")
