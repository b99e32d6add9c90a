"""What every command works on: the settings, the engine and units of work, the templates,
and the options every command shares."""

from __future__ import annotations

from functools import cache
from typing import Annotated

import typer
from sqlalchemy import Engine

from states import db, templates
from states.settings import Settings

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AsOpt = Annotated[str, typer.Option("--as", help="Email of the person acting.")]


@cache
def settings() -> Settings:
    """The environment's settings, read once per command line."""
    return Settings()


@cache
def engine() -> Engine:
    """The application database's engine, made once per command line."""
    return db.make_engine(settings().url)


def uow() -> db.UnitOfWork:
    """A unit of work on the current, migrated database."""
    db.require_current_schema(engine())
    return db.UnitOfWork(engine())


def catalog() -> dict[str, templates.Template]:
    """The shipped templates and the MSP's own."""
    return templates.load_catalog([settings().template_dir])
