"""The home page, `/`: the sign-in form for a stranger; for a signed-in person My work: the
gates waiting for their decision, their open tasks (overdue first), the reviews they hold that
are past their status-age warning, and what others changed since their last visit."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy import select

from deploy.webapp.site import Site, local_path
from states.access.sessions import SignedIn, mark_seen
from states.read.my_work import my_work
from states.read.views import list_reviews
from states.store.models import Client, utcnow

MAX_REVIEWS = 40  # of each client: the recent ones


def router(site: Site) -> APIRouter:
    """GET /."""
    routes = APIRouter()

    @routes.get("/")
    def home(request: Request, next: str = "") -> Response:  # noqa: A002 (the query's name)
        person = site.auth.person(request)
        if person is None:
            return site.page("app/signin.html.j2", None, next=local_path(next[:500] or "/"))
        now = utcnow()
        if not person.staff:  # a client's contact: their client's reviews and reports
            return _contact_home(site, person)
        work = my_work(site.plain_uow(), person.person_id, now, person.seen_at)
        # seen now: the next visit shows what changed after this one
        mark_seen(site.plain_uow(), person.person_id, now)
        zone = site.settings.timezone
        return site.page("app/home.html.j2", person, here="home", work=work, now=now, zone=zone)

    return routes


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
