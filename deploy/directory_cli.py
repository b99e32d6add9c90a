"""`xbr directory log`: who added or changed people, roles and clients, when and how."""

from __future__ import annotations

from typing import Annotated

import typer

from deploy import render
from deploy.context import JsonOpt, uow
from states.read.directory_trail import MOST, directory_changes

directory_app = typer.Typer(no_args_is_help=True, help="The directory's trail of changes.")


@directory_app.command("log")
def directory_log(
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MOST, help="How many changes, newest first.")
    ] = 50,
    as_json: JsonOpt = False,
) -> None:
    """The newest changes to people, their roles, clients and their settings: who made each
    (the signed-in person, or the operating-system user of a command line) and how."""
    changes = directory_changes(uow(), limit)
    shown = [
        {
            "when": c.at[:16].replace("T", " ") + " UTC",
            "change": c.change.replace("_", " "),
            "what": c.what,
            "by": c.actor,
        }  # fmt: skip
        for c in changes
    ]
    render.out(
        as_json,
        [change.data() for change in changes],
        lambda: render.rows("Changes to the directory", ["when", "change", "what", "by"], shown),
    )
