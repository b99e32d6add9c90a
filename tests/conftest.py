"""Shared fixtures: real databases (SQLite files, a fresh PostgreSQL database), staff, clients."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

import bootstrap
from states import directory
from states.settings import normalize_url
from states.store import db
from states.templates.catalog import load_catalog
from states.templates.schema import Template

# Speed is measured by the benchmarks (bench/), not by tests: no example fails for being slow
# on a busy machine (the first call of a country's holidays builds its calendar).
settings.register_profile("xbr", deadline=None)
settings.load_profile("xbr")

PG_URL = os.environ.get("XBR_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test")
# CI sets this so that a missing PostgreSQL fails the run instead of skipping its tests.
PG_REQUIRED = os.environ.get("XBR_REQUIRE_POSTGRES") == "1"

# One person per line of a small MSP: every role is covered, the four-eyes pairs differ.
STAFF = [
    ("Vera Vcio", "vera@msp.example", ["vcio", "ceo"]),
    ("Andy Account", "andy@msp.example", ["account_manager", "sales_assistant"]),
    ("Olga Ops", "olga@msp.example", ["ops_manager", "team_lead", "exec_assistant"]),
    ("Ivan Intern", "ivan@msp.example", ["intern"]),
    ("Sam Support", "sam@msp.example", ["support_engineer", "security_engineer"]),
    ("Tina Tech", "tina@msp.example", ["support_engineer", "intern"]),
    ("Carl Client", "carl@client.example", ["client_contact"]),
]


@pytest.fixture(autouse=True)
def _fresh_root() -> Iterator[None]:
    """Each test's code builds this process's root from the environment the test set."""
    bootstrap.reset()
    yield
    bootstrap.reset()


@pytest.fixture(scope="session")
def catalog() -> dict[str, Template]:
    return load_catalog()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'xbr.db'}"


def _pg_admin_engine() -> Engine | None:
    try:
        engine = create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return engine
    except Exception as exc:  # any failure to connect means: no server here
        if PG_REQUIRED:
            pytest.fail(f"PostgreSQL at {PG_URL} is required (XBR_REQUIRE_POSTGRES=1): {exc}")
        pytest.skip(f"no PostgreSQL at {PG_URL} ({type(exc).__name__}); set XBR_TEST_POSTGRES_URL")
    return None


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database on the test server, dropped afterwards; yields its URL."""
    admin = _pg_admin_engine()
    assert admin is not None
    name = f"xbr_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(normalize_url(PG_URL)).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    with fresh_postgres_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test using it runs on SQLite and on PostgreSQL."""
    if request.param == "postgres":
        return request.getfixturevalue("postgres_url")
    return request.getfixturevalue("sqlite_url")


def _migrated(url: str) -> Iterator[Engine]:
    engine = db.make_engine(url)
    db.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    yield from _migrated(database_url)


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    yield from _migrated(sqlite_url)


UowFactory = Callable[[], db.UnitOfWork]


def staffed(engine: Engine, catalog: dict[str, Template]) -> UowFactory:
    """Add the staff and one client per shipped template; return a unit-of-work factory."""

    def uow() -> db.UnitOfWork:
        return db.UnitOfWork(engine)

    for name, email, roles in STAFF:
        directory.add_person(uow(), name, email, roles)
    for template in catalog.values():
        directory.add_client(
            uow(),
            f"Client {template.name}",
            "quarterly",
            template.name,
            "America/New_York",
            catalog,
        )
    return uow


@pytest.fixture
def uow(engine: Engine, catalog: dict[str, Template]) -> UowFactory:
    """Staffed database on SQLite and PostgreSQL."""
    return staffed(engine, catalog)


@pytest.fixture
def sqlite_uow(sqlite_engine: Engine, catalog: dict[str, Template]) -> UowFactory:
    """Staffed SQLite database, for tests about the domain rather than the database."""
    return staffed(sqlite_engine, catalog)
