"""Starting a review from the web app, `/reviews/new`: choose the client (a searchable list),
then its review type and meeting in the client's time zone. The review starts through the same
service as `xbr review start`, as the signed-in person, and gets its flow run as there; when no
Prefect server answers it starts held, as with `--no-flow`, and the page says how to run it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from deploy.webapp import staff
from deploy.webapp.forms import Form, value
from deploy.webapp.site import Site
from flows.wake import follow_up
from states import directory
from states.access.permissions import may_start_reviews
from states.access.sessions import SignedIn
from states.calendar.business_days import parse_moment, zone
from states.calendar.opening import start_review
from states.errors import InvalidInput, NotFound, XbrError
from states.read import views
from states.store.models import utcnow
from states.templates.catalog import pick
from states.templates.schema import Template

HERE = "start"
DOOR = staff.Door(
    may_start_reviews,
    "starting reviews is for coordinators (sales assistant, account manager, vCIO, ops "
    "manager, CEO); ask one of them to start it",
)
NOT_STARTED = "No review started"
HELD = "no Prefect server answered, so it waits without its flow run"


@dataclass(frozen=True)
class Chosen:
    """The client a review is started for, as the form shows it."""

    name: str
    timezone: str
    template: str


def router(site: Site) -> APIRouter:
    """GET /reviews/new (the form), POST /reviews/new (start the review)."""
    routes = APIRouter()

    @routes.get("/reviews/new")
    def form(request: Request, client: str = "") -> Response:
        person = staff.allowed(site, request, DOOR)
        if not isinstance(person, SignedIn):
            return person
        try:
            shown = _form(site, person, client[:400])
        except XbrError as exc:
            return site.refuse(request, person, staff.said(exc), 400, "Unknown client")
        return site.page("app/start.html.j2", person, here=HERE, started=None, **shown)

    @routes.post("/reviews/new")
    async def start(request: Request) -> Response:
        return await staff.submit(
            site, request, DOOR, NOT_STARTED, lambda person, form: _start(site, person, form)
        )

    return routes


def _form(site: Site, person: SignedIn, name: str) -> dict[str, Any]:
    """The form's context: the clients to choose from, and once one is chosen its types."""
    clients = [c.name for c in directory.list_clients(site.uow(person)) if c.active]
    if not name.strip():
        return {"clients": clients, "chosen": None, "types": [], "earliest": ""}
    chosen = _client(site, person, name)
    earliest = datetime.now(zone(chosen.timezone)).strftime("%Y-%m-%dT%H:%M")
    types = _types(staff.catalog(site.settings), chosen.template)
    return {"clients": clients, "chosen": chosen, "types": types, "earliest": earliest}


def _client(site: Site, person: SignedIn, name: str) -> Chosen:
    if not name.strip():
        raise InvalidInput("no client chosen; type its name and choose it from the list")
    with site.uow(person) as work:
        try:
            client = directory.client_by_name(work.session, name.strip())
        except NotFound:
            raise NotFound(
                f"unknown client {name.strip()[:80]!r}; type its name and choose it from the list"
            ) from None
        return Chosen(client.name, client.timezone, client.template)


def _types(catalog: dict[str, Template], own: str) -> list[dict[str, Any]]:
    """The client's own template first, then every other in the catalog."""
    names = [own] if own in catalog else []
    names += sorted(name for name in catalog if name != own)
    return [{"name": n, "title": catalog[n].title, "own": n == own} for n in names]


def _check_meeting(text: str, time_zone: str) -> None:
    """Refuse a meeting that is no date-time, too far ahead, or past, in the page's words."""
    if parse_moment(text, zone(time_zone)) <= utcnow():
        raise InvalidInput(
            f"the meeting {text[:40]} ({time_zone} time) is in the past; choose a future date"
        )


def _start(site: Site, person: SignedIn, form: Form) -> Response:
    """Check the form, start the review as the person, give it its run (or hold it)."""
    catalog = staff.catalog(site.settings)
    kind, meeting = value(form, "type"), value(form, "meeting")
    client = _client(site, person, value(form, "client"))
    if kind:
        pick(catalog, kind)
    if meeting:
        _check_meeting(meeting, client.timezone)
    held = not staff.prefect_answers(site.settings)
    review_id = start_review(
        site.uow(person), client.name, catalog, kind or None, meeting or None,
        actor=person.email, standards=staff.standards(site.settings), held=held,
    )  # fmt: skip
    if held:  # without a run, nobody else sends the first notices now
        note = follow_up(site.uow(person), site.settings, review_id, 0, {})
        todo = "once Prefect runs (xbr up), give it its run with"
        kept = {"why": HELD, "todo": todo, "command": f"xbr review run {review_id}", "note": note}
        return _started(site, person, review_id, client.timezone, kept)
    refused = staff.attach_run(site, person, review_id)
    if refused:
        why = f"Prefect did not make its flow run now ({refused})"
        todo = "the next sweep makes it; to make it at once, run"
        kept = {"why": why, "todo": todo, "command": "xbr sweep", "note": ""}
        return _started(site, person, review_id, client.timezone, kept)
    return RedirectResponse(f"/reviews/{review_id}", status_code=303)


def _started(
    site: Site, person: SignedIn, review_id: int, time_zone: str, kept: dict[str, str]
) -> Response:
    """The page of a review started without its flow run: which it is, and why and what to
    do (`kept`: why, todo, the command that gives it its run, the notices' note)."""
    review = views.review_view(site.uow(person), review_id)
    started = kept | {"id": review_id, "review": review, "note": kept["note"].strip(" ()")}
    return site.page(
        "app/start.html.j2", person, here=HERE, started=started, zone=time_zone,
        clients=[], chosen=None, types=[], earliest="",
    )  # fmt: skip
