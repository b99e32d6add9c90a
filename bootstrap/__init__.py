"""The composition root: the settings, the application database and the templates, built once
per process from the environment and handed to every entry point (the command line, the web
app, the notifier, the flows' tasks and the demo).

The Prefect environment lives beside it in `bootstrap.prefect_env`; notification channels are
read from the settings by `notifications.channels.load_channels` each time notices go out, so
a changed Apprise file takes effect without a restart.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Engine

from states.settings import Settings
from states.standards.catalog import load_standards
from states.standards.schema import Standard
from states.store.db import UnitOfWork, make_engine, require_current_schema
from states.templates.catalog import load_catalog
from states.templates.schema import Template


@dataclass(frozen=True)
class Root:
    """What every entry point works with: one installation's settings and database."""

    settings: Settings
    engine: Engine
    via: str = "xbr"  # the entry point, as the audit trail names it (see `identify`)
    actor: str = ""  # who acts through it when known for the whole process (a command line's)

    def uow(self) -> UnitOfWork:
        """A unit of work on the application database."""
        return UnitOfWork(self.engine, self.via, self.settings.holiday_place, self.actor)

    def migrated_uow(self) -> UnitOfWork:
        """A unit of work on the application database, refused unless its schema is current."""
        require_current_schema(self.engine)
        return UnitOfWork(self.engine, self.via, self.settings.holiday_place, self.actor)

    def catalog(self) -> dict[str, Template]:
        """The shipped templates and the MSP's own (the same name replaces a shipped one)."""
        return load_catalog([self.settings.template_dir])

    def standards(self) -> dict[str, Standard]:
        """The shipped standards and the MSP's own (the same name replaces a shipped one)."""
        return load_standards([self.settings.standard_dir])

    def close(self) -> None:
        """Close the database's connections."""
        self.engine.dispose()


def build(settings: Settings | None = None) -> Root:
    """A root for `settings`, by default this process's environment (XBR_*). From here on
    every file and folder the process creates is its owner's alone (umask 077): the
    database, reports, exports, logs and the Prefect server's files."""
    os.umask(PRIVATE)
    settings = settings or Settings()
    return Root(settings, make_engine(settings.url))


PRIVATE = 0o077


def private_home(settings: Settings) -> Path:
    """XBR_HOME made (or kept) readable by its owner only, with the SQLite database in it."""
    home = settings.home
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    home.chmod(0o700)
    database = home / "xbr.db"
    if database.exists():
        database.chmod(0o600)
    return home


_lock = threading.Lock()
_root: Root | None = None


def root() -> Root:
    """This process's root, built from the environment on first use."""
    global _root
    with _lock:
        if _root is None:
            _root = build()
        return _root


def identify(via: str, actor: str = "") -> Root:
    """Name this process's entry point in every audit row it writes from now on, e.g.
    "command line, os user alice", and who acts through it when that is the same for every
    change (e.g. "os user alice")."""
    global _root
    current = root()
    with _lock:
        _root = replace(current, via=via, actor=actor)
        return _root


def reset() -> None:
    """Forget this process's root and close its database; the next `root()` reads the
    environment again (each command line does, and tests run many in one process)."""
    global _root
    with _lock:
        if _root is not None:
            _root.close()
        _root = None
