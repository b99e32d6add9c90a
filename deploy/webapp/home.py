"""The home page, `/`: the sign-in form for a stranger; for a signed-in person My work: the
gates waiting for their decision, their open tasks (overdue first), the reviews they hold that
are past their status-age warning, and what others changed since their last visit. Each list
shows its first 50 with its total; `/?more=<list>&shown=<n>` shows the first n of that list
alone (50 more a click, up to 500), without marking the visit seen."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from deploy.webapp.site import Site, local_path
from states.access.sessions import SignedIn, mark_seen
from states.read.my_work import my_work
from states.read.views import list_reviews
from states.store.models import Client, utcnow

MAX_REVIEWS = 40  # of each client: the recent ones
LISTS = ("gates", "tasks", "stale")  # the lists of My work a person may see more of
STEP = 50  # items a list shows at first, and each "show more" adds
MOST = 500  # items one list shows at most: past that, a list is for the board or a search


def router(site: Site) -> APIRouter:
    """GET /."""
    routes = APIRouter()

    @routes.get("/")
    def home(
        request: Request,
        next: str = "",  # noqa: A002 (the query's name)
        more: str = "",
        shown: str = "",
    ) -> Response:
        person = site.auth.person(request)
        if person is None:
            return site.page("app/signin.html.j2", None, next=local_path(next[:500] or "/"))
        now = utcnow()
        if not person.staff:  # a client's contact: their client's reviews and reports
            return _contact_home(site, person)
        more = more if more in LISTS else ""
        limit = shown_of(shown) if more else STEP
        work = my_work(site.plain_uow().reading(), person.person_id, now, person.seen_at, limit)
        if not more:  # seen now: the next visit shows what changed after this one
            mark_seen(site.plain_uow(), person.person_id, now)
        return site.page(
            "app/home.html.j2", person, here="home", work=work, now=now,
            zone=site.settings.timezone, more=more, shown=limit, step=STEP, most=MOST,
        )  # fmt: skip

    return routes


def shown_of(asked: str) -> int:
    """How many items of a list to show: as asked, within STEP and MOST (STEP for anything
    but a number)."""
    return min(max(int(asked), STEP), MOST) if re.fullmatch("[0-9]{1,6}", asked) else STEP


def _contact_home(site: Site, person: SignedIn) -> Response:
    """A client's contact's home: their client's reviews, newest first, with their reports."""
    with site.plain_uow() as work:
        clients = work.session.execute(
            select(Client.id, Client.timezone).where(Client.id.in_(person.contact_of))
        ).all()
    reviews = [
        (review, zone)
        for client_id, zone in clients
        for review in list_reviews(site.plain_uow(), client_id=client_id)[:MAX_REVIEWS]
    ]
    return site.page("app/contact_home.html.j2", person, here="home", reviews=reviews)
