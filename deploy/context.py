"""What every command works on, from the composition root: the settings, the engine and units
of work, the templates, and the options every command shares."""

from __future__ import annotations

import os
import pwd
from typing import Annotated

import typer
from sqlalchemy import Engine

from bootstrap import root
from states.settings import Settings
from states.standards.schema import Standard
from states.store import db
from states.templates.schema import Template

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
AsOpt = Annotated[str, typer.Option("--as", help="Email of the person acting.")]
# ids are the database's integers: a larger number names nothing and is refused as input
MAX_ID = 2**31 - 1
ReviewId = Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The review's number.")]
MessageId = Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The outbox message's id.")]
TicketId = Annotated[int, typer.Argument(min=1, max=MAX_ID, help="The ticket's id.")]


def settings() -> Settings:
    """The environment's settings, read once per command line."""
    return root().settings


def engine() -> Engine:
    """The application database's engine, made once per command line."""
    return root().engine


def uow() -> db.UnitOfWork:
    """A unit of work on the current, migrated database."""
    return root().migrated_uow()


def catalog() -> dict[str, Template]:
    """The shipped templates and the MSP's own."""
    return root().catalog()


def standards() -> dict[str, Standard]:
    """The shipped standards and the MSP's own."""
    return root().standards()


def os_user() -> str:
    """The operating-system account running this process (from its uid, not the environment)."""
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid without an account, as in some containers
        return f"uid {os.getuid()}"
