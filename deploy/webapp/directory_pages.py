"""The clients and the people, `/clients` and `/people`: every member of the MSP's staff sees
them; coordinators add and edit clients and say who covers which role for one, people managers
add people and change their roles and how they get their messages. Every change goes through
the same services as `xbr client ...` and `xbr person ...`, as the signed-in person."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from deploy.webapp import directory_views as views
from deploy.webapp import staff
from deploy.webapp.forms import Form, value
from deploy.webapp.site import Site
from states import directory
from states.access.permissions import may_edit_clients, may_edit_people
from states.access.roles import set_roles
from states.access.sessions import SignedIn
from states.calendar.client_edit import ClientEdit, edit_client
from states.calendar.recurrence import ensure_next_review
from states.errors import InvalidInput
from states.notices import digests
from states.store.models import Client

STAFF_ONLY = staff.Door(lambda p: p.staff, staff.NOT_STAFF)
EDIT_CLIENTS = staff.Door(
    may_edit_clients,
    "adding and editing clients is for coordinators (sales assistant, account manager, vCIO, "
    "ops manager, CEO); ask one of them",
)
EDIT_PEOPLE = staff.Door(
    may_edit_people,
    "adding people and changing their roles is for the ops manager and the CEO; ask one of them",
)


def router(site: Site) -> APIRouter:
    """GET and POST /clients and /clients/<id>, /people and /people/<id>."""
    routes = APIRouter()

    @routes.get("/clients")
    def clients(request: Request, added: str = "", saved: str = "") -> Response:
        person = staff.allowed(site, request, STAFF_ONLY)
        if not isinstance(person, SignedIn):
            return person
        shown = views.clients_page(site, person, added or saved, bool(added))
        return site.page("app/clients.html.j2", person, here="clients", **shown)

    @routes.post("/clients")
    async def add_client(request: Request) -> Response:
        return await staff.submit(
            site, request, EDIT_CLIENTS, "Client not added",
            lambda person, form: _add_client(site, person, form),
        )  # fmt: skip

    @routes.post("/clients/{client_id}")
    async def change_client(client_id: str, request: Request) -> Response:
        return await staff.submit(
            site, request, EDIT_CLIENTS, "Client not changed",
            lambda person, form: _change_client(site, person, client_id, form),
        )  # fmt: skip

    @routes.get("/people")
    def people(request: Request, added: str = "", saved: str = "") -> Response:
        person = staff.allowed(site, request, STAFF_ONLY)
        if not isinstance(person, SignedIn):
            return person
        shown = views.people_page(site, person, added or saved, bool(added))
        return site.page("app/people.html.j2", person, here="people", **shown)

    @routes.post("/people")
    async def add_person(request: Request) -> Response:
        return await staff.submit(
            site, request, EDIT_PEOPLE, "Person not added",
            lambda person, form: _add_person(site, person, form),
        )  # fmt: skip

    @routes.post("/people/{person_id}")
    async def change_person(person_id: str, request: Request) -> Response:
        return await staff.submit(
            site, request, EDIT_PEOPLE, "Person not changed",
            lambda person, form: _change_person(site, person, person_id, form),
        )  # fmt: skip

    return routes


def _back(page: str, what: str, row_id: int) -> Response:
    """After a change, back to the list at its row (#client-5), which says what was done."""
    row = "client" if page == "clients" else "person"
    return RedirectResponse(f"/{page}?{what}={row_id}#{row}-{row_id}", status_code=303)


def _add_client(site: Site, person: SignedIn, form: Form) -> Response:
    """`xbr client add`: the client, and its first review now when asked (with its run when
    xbr's Prefect answers; else the next sweep gives it one)."""
    catalog = staff.catalog(site.settings)
    client = directory.add_client(
        site.uow(person), value(form, "name"), value(form, "cadence"), value(form, "template"),
        value(form, "timezone"), catalog, staff.optional(form, "country"),
        staff.optional(form, "subdivision"),
    )  # fmt: skip
    if value(form, "first_review") == "yes":
        standards = staff.standards(site.settings)
        plan = ensure_next_review(site.uow(person), catalog, client.name, standards=standards)
        if plan.review_id is not None and staff.prefect_answers(site.settings):
            staff.attach_run(site, person, plan.review_id)
    return _back("clients", "added", client.id)


def _change_client(site: Site, person: SignedIn, client_id: str, form: Form) -> Response:
    """`xbr client edit` (do=edit) or `xbr client assign` (do=assign)."""
    client = views.client_by_id(site, person, client_id)
    action = value(form, "do")
    if action == "assign":
        directory.assign_role(
            site.uow(person), client.name, value(form, "role"), value(form, "email")
        )
    elif action == "edit":
        edit_client(
            site.uow(person), staff.catalog(site.settings), client.name, _edit(client, form)
        )
    else:
        raise InvalidInput(f"unknown change {action[:40]!r}; use the page's edit or assign form")
    return _back("clients", "saved", client.id)


def _edit(client: Client, form: Form) -> ClientEdit:
    """What the edit form changes: None for a field left as it was (or not sent)."""

    def changed(name: str, was: str | None) -> str | None:
        now = value(form, name)
        return None if name not in form or now == (was or "") else now

    return ClientEdit(
        country=changed("country", client.country),
        subdivision=changed("subdivision", client.subdivision),
        timezone=changed("timezone", client.timezone),
        cadence=changed("cadence", client.cadence),
        template=changed("template", client.template),
    )


def _add_person(site: Site, person: SignedIn, form: Form) -> Response:
    """`xbr person add` (with --notify and --timezone): a new person only; an address in xbr
    already is changed in its row."""
    email = directory.parse_email(value(form, "email"))
    if any(p.email == email for p in directory.list_people(site.uow(person))):
        raise InvalidInput(f"{email} is in xbr already; change their roles in their row below")
    roles = _roles(form)
    notify, zone = value(form, "notify") or None, staff.optional(form, "timezone")
    digests.check_rhythm(notify, zone)  # before anything is written
    added = directory.add_person(site.uow(person), value(form, "name"), email, roles)
    if notify is not None or zone is not None:
        digests.set_rhythm(site.uow(person), added.email, notify, zone)
    return _back("people", "added", added.id)


def _change_person(site: Site, person: SignedIn, person_id: str, form: Form) -> Response:
    """Their roles (exactly those ticked), and `xbr person edit`: notify and time zone."""
    email = views.person_by_id(site, person, person_id).email
    roles = _roles(form)
    notify, zone = value(form, "notify") or None, staff.optional(form, "timezone")
    digests.check_rhythm(notify, zone)  # before anything is written
    changed = set_roles(site.uow(person), email, roles)
    digests.set_rhythm(site.uow(person), email, notify, zone)
    return _back("people", "saved", changed.id)


def _roles(form: Form) -> list[str]:
    roles = staff.chosen(form, "role")
    if not roles:
        raise InvalidInput("no role ticked; tick at least one role")
    for role in roles:
        directory.parse_role(role)
    return roles
