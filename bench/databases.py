"""The benchmarks' databases: templates and fresh copies of them, SQLite files or PostgreSQL
databases on a server (`PG_ADMIN_URL` by default), all dropped at the end."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PG_ADMIN_URL = "postgresql://127.0.0.1:5432/test"


class Copies:
    """Template databases and fresh copies of them: SQLite files copied, or PostgreSQL
    databases made with CREATE DATABASE ... TEMPLATE (all dropped at the end)."""

    def __init__(self, postgres: str | None, home: Path) -> None:
        from sqlalchemy import create_engine

        from states.settings import normalize_url

        self.home = home
        self.postgres = normalize_url(postgres) if postgres else None
        self.admin = (
            create_engine(self.postgres, isolation_level="AUTOCOMMIT") if postgres else None
        )
        self.token = uuid.uuid4().hex[:10]
        self.made: list[str] = []
        self.count = 0

    def _name(self, label: str) -> str:
        return f"xbr_bench_{self.token}_{label}"

    def url_of(self, name: str) -> str:
        from sqlalchemy.engine import make_url

        if self.postgres is None:
            return f"sqlite:///{self.home / name}.db"
        return make_url(self.postgres).set(database=name).render_as_string(hide_password=False)

    def _sql(self, statement: str) -> None:
        from sqlalchemy import text

        assert self.admin is not None
        with self.admin.connect() as conn:
            conn.execute(text(statement))

    def empty(self, label: str) -> str:
        """A new empty database; its URL."""
        name = self._name(label)
        if self.admin is not None:
            self._sql(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return self.url_of(name)

    def seal(self, label: str) -> None:
        """No more connections to a template (an autovacuum worker's would block copies)."""
        if self.admin is not None:
            self._sql(f'ALTER DATABASE "{self._name(label)}" ALLOW_CONNECTIONS false')

    @contextmanager
    def fresh(self, label: str) -> Iterator[str]:
        """A copy of the template `label`, dropped afterwards; yields its URL."""
        self.count += 1
        name, source = self._name(f"copy{self.count}"), self._name(label)
        if self.admin is None:
            shutil.copyfile(self.home / f"{source}.db", self.home / f"{name}.db")
        else:
            self._sql(f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
        try:
            yield self.url_of(name)
        finally:
            self.drop(name)

    def drop(self, name: str) -> None:
        if self.admin is None:
            for suffix in (".db", ".db-wal", ".db-shm"):
                (self.home / f"{name}{suffix}").unlink(missing_ok=True)
        else:
            self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def close(self) -> None:
        for name in self.made:
            self.drop(name)
        if self.admin is not None:
            self.admin.dispose()
