"""The composition root: the settings, the application database and the templates, built once
per process from the environment and handed to every entry point (the command line, the web
app, the notifier, the flows' tasks and the demo).

The Prefect environment lives beside it in `bootstrap.prefect_env`; notification channels are
read from the settings by `notifications.channels.load_channels` each time notices go out, so
a changed Apprise file takes effect without a restart.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Engine

from states.settings import Settings
from states.store.db import UnitOfWork, make_engine, require_current_schema
from states.templates.catalog import load_catalog
from states.templates.schema import Template


@dataclass(frozen=True)
class Root:
    """What every entry point works with: one installation's settings and database."""

    settings: Settings
    engine: Engine

    def uow(self) -> UnitOfWork:
        """A unit of work on the application database."""
        return UnitOfWork(self.engine)

    def migrated_uow(self) -> UnitOfWork:
        """A unit of work on the application database, refused unless its schema is current."""
        require_current_schema(self.engine)
        return UnitOfWork(self.engine)

    def catalog(self) -> dict[str, Template]:
        """The shipped templates and the MSP's own (the same name replaces a shipped one)."""
        return load_catalog([self.settings.template_dir])

    def close(self) -> None:
        """Close the database's connections."""
        self.engine.dispose()


def build(settings: Settings | None = None) -> Root:
    """A root for `settings`, by default this process's environment (XBR_*)."""
    settings = settings or Settings()
    return Root(settings, make_engine(settings.url))


_lock = threading.Lock()
_root: Root | None = None


def root() -> Root:
    """This process's root, built from the environment on first use."""
    global _root
    with _lock:
        if _root is None:
            _root = build()
        return _root


def reset() -> None:
    """Forget this process's root and close its database; the next `root()` reads the
    environment again (each command line does, and tests run many in one process)."""
    global _root
    with _lock:
        if _root is not None:
            _root.close()
        _root = None
