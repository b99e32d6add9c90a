"""`xbr session`: who is signed in to the web app, and ending a person's sessions at once
(a lost laptop, someone who left)."""

from __future__ import annotations

import typer

from deploy import render
from deploy.context import JsonOpt, os_user, uow
from states.access.sessions import list_sessions, revoke
from states.store.models import utcnow

session_app = typer.Typer(no_args_is_help=True, help="Sign-ins to the web app.")


@session_app.command("list")
def session_list(as_json: JsonOpt = False) -> None:
    """The open sessions: whose, since when, until when, and how they signed in."""
    sessions = list_sessions(uow(), utcnow())
    render.out(
        as_json,
        sessions,
        lambda: render.rows("Open sessions", ["id", "email", "via", "since", "until"], sessions),
    )


@session_app.command("revoke")
def session_revoke(email: str, as_json: JsonOpt = False) -> None:
    """End every open session of the person: their next click asks them to sign in again."""
    ended = revoke(uow(), email, f"revoked by os user {os_user()}", utcnow())
    s = "" if ended == 1 else "s"
    render.out(as_json, {"email": email, "ended": ended}, f"{ended} session{s} of {email} ended")
