"""The review board as a page on the approval page's app: `GET /board?key=<board token>` shows
the columns and cards of `xbr board`, server-rendered, no JavaScript. The cards name clients, so
the page asks for this installation's board token, which only `xbr board key` prints (never a
log); `xbr board key --rotate` replaces it."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from deploy.approval import UowFactory
from deploy.webapp.site import Site
from notifications import links
from states.lifecycle import link_uses
from states.read import board as board_view
from states.settings import Settings
from states.store.models import utcnow

REFRESH_SECONDS = 60
HEADING = "This board address cannot be used"
TODO = "sign in to xbr at its home page, or open the board address that `xbr board key` prints"
Page = Callable[..., HTMLResponse]  # web's page(): a template rendered with a status code


class Guard(Protocol):
    """The approval page's limit on refused requests per address (deploy/web.py)."""

    def too_many(self, request: Request) -> HTMLResponse | None: ...

    def refused(self, request: Request) -> None: ...


def board_address(settings: Settings, port: int | None = None) -> str:
    """The board's address without its key, as `xbr web` (on `port`, if given) and `xbr up`
    print it."""
    if port and not settings.public_url:
        settings = settings.model_copy(update={"web_port": port})
    return f"{settings.page_url}/board"


def board_url(settings: Settings, uow: UowFactory, port: int | None = None) -> str:
    """The board's address with its key (`xbr board key`)."""
    key = links.load_key(settings.home, settings.secret_key or None)
    token = links.board_token(key, link_uses.board_key_generation(uow()))
    return f"{board_address(settings, port)}?key={token}"


def refusal(token: str, sent: str) -> str | None:
    """Why a request with `sent` as its key may not see the board, or None if it may."""
    if not sent:
        return "this address has no board key"
    if not hmac.compare_digest(sent.encode("utf-8"), token.encode("ascii")):
        return "this board key is not this xbr's: it was rotated, or changed with XBR_SECRET_KEY"
    return None


def columns(uow: UowFactory, now: datetime) -> list[dict[str, Any]]:
    """`board_view.board`'s columns, each marked full or short of its minimum."""
    marked = []
    for column in board_view.board(uow(), now):
        count, limit, minimum = column["count"], column["wip_limit"], column["wip_minimum"]
        marked.append(
            {
                **column,
                "full": limit is not None and count >= limit,
                "short": minimum is not None and count < minimum,
            }
        )
    return marked


def router(secret: bytes, uow: UowFactory, page: Page, guard: Guard, site: Site) -> APIRouter:
    """GET /board: the board in the web app for the MSP's signed-in people; without a session,
    for whoever brings the board token, a 403 page for anyone else (429 once their address was
    refused too often in a minute: `guard`)."""
    routes = APIRouter()

    @routes.get("/board")
    def board(request: Request, key: str = "") -> HTMLResponse:
        if blocked := guard.too_many(request):
            return blocked
        person = None if key else site.auth.person(request)
        if person is not None and person.staff:
            now = utcnow()
            shown = columns(uow, now)
            total = sum(c["count"] for c in shown)
            return site.page(
                "app/board.html.j2", person, columns=shown, total=total, now=now.isoformat(),
                linked=True, here="board",
            )  # fmt: skip
        # read each time: a rotated key ends the old address at once, on every server
        token = links.board_token(secret, link_uses.board_key_generation(uow()))
        why = refusal(token, key)
        if why:
            guard.refused(request)
            return page("refused.html.j2", 403, heading=HEADING, why=why, todo=TODO, saved=[])
        now = utcnow()
        board = columns(uow, now)
        total = sum(c["count"] for c in board)
        response = page(
            "board.html.j2", 200, columns=board, total=total, now=now.isoformat(), linked=False
        )
        # the Refresh header: base.html.j2 has no head block for a <meta http-equiv="refresh">
        response.headers["Refresh"] = str(REFRESH_SECONDS)
        return response

    return routes
