"""Backup and restore of the application database, the source of truth of every review.

A backup is taken while xbr runs: SQLite's online backup API, or PostgreSQL's `pg_dump` in
its custom format. A restore puts it back while nothing of xbr runs, brings its schema up to
date, and has the next sweep check every open review's run: Prefect's runs may be ahead of
the restored database, and each catches up with its review's gate when the sweeper wakes it.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import make_url

from states.errors import InvalidInput, XbrError
from states.lifecycle.run_records import check_every_run_again
from states.store import db

SQLITE_MAGIC = b"SQLite format 3\x00"
PG_DUMP_MAGIC = b"PGDMP"


def backup(url: str, target: Path) -> dict[str, object]:
    """A consistent copy of the database at `url` in `target` (a new file)."""
    if target.exists():
        raise InvalidInput(f"{target} exists already; give the backup a new name")
    if not target.parent.is_dir():
        raise InvalidInput(f"{target.parent} is not a folder; create it or give another path")
    partial = target.with_name(target.name + ".partial")
    if _is_sqlite(url):
        source = sqlite3.connect(_sqlite_path(url))
        copy = sqlite3.connect(partial)
        try:
            with copy:
                source.backup(copy)
        finally:
            copy.close()
            source.close()
    else:
        _pg_tool("pg_dump", "--format=custom", f"--file={partial}", _libpq(url))
    os.replace(partial, target)  # a backup is never seen half-written
    return {"file": str(target), "bytes": target.stat().st_size, "database": _shown(url)}


def restore(url: str, source: Path) -> dict[str, object]:
    """Replace the database at `url` with the backup in `source`; xbr must not be running."""
    kind = _backup_kind(source)
    if _is_sqlite(url):
        if kind != "sqlite":
            raise InvalidInput(f"{source} is a PostgreSQL backup; XBR_DATABASE_URL is SQLite")
        _check_sqlite_backup(source)
        path = _sqlite_path(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".restoring")
        shutil.copyfile(source, partial)
        for leftover in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)  # the old database's log must not replay on it
        os.replace(partial, path)
    else:
        if kind != "postgresql":
            raise InvalidInput(f"{source} is an SQLite backup; XBR_DATABASE_URL is PostgreSQL")
        _pg_tool("pg_restore", "--clean", "--if-exists", "--no-owner", "--single-transaction",
                 f"--dbname={_libpq(url)}", str(source))  # fmt: skip
    engine = db.make_engine(url)
    try:
        db.upgrade(engine)  # a backup from an older xbr gets the current schema
        open_reviews = check_every_run_again(db.UnitOfWork(engine))
    finally:
        engine.dispose()
    return {"file": str(source), "database": _shown(url), "open_reviews": open_reviews}


def _backup_kind(source: Path) -> str:
    try:
        with source.open("rb") as file:
            head = file.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise InvalidInput(f"{source}: {exc.strerror}; give the path of a backup") from None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PG_DUMP_MAGIC):
        return "postgresql"
    raise InvalidInput(f"{source} is not a backup made by `xbr backup`")


def _check_sqlite_backup(source: Path) -> None:
    connection = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        connection.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.DatabaseError:
        raise InvalidInput(f"{source} is an SQLite file but not an xbr database") from None
    finally:
        connection.close()


def _pg_tool(tool: str, *args: str) -> None:
    if shutil.which(tool) is None:
        raise XbrError(f"{tool} is not installed; install PostgreSQL's client tools")
    done = subprocess.run([tool, *args], capture_output=True, text=True, timeout=3600)
    if done.returncode:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise XbrError(f"{tool} failed: {reason}")


def _is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def _sqlite_path(url: str) -> Path:
    return Path(make_url(url).database or "")


def _libpq(url: str) -> str:
    """The URL as PostgreSQL's own tools take it (no SQLAlchemy driver name)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
