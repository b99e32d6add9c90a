"""What the clients and people pages show: each row, who covers which role for a client, what
was just done, and the choices of their forms, as plain values for the templates."""

from __future__ import annotations

from typing import Any

from deploy.webapp import staff
from deploy.webapp.site import Site
from notifications.messages import role_label
from states import directory
from states.access.permissions import may_edit_clients, may_edit_people
from states.access.sessions import SignedIn
from states.errors import NotFound
from states.read import views
from states.read.directory_trail import directory_changes
from states.store.models import Client, Person
from states.templates.schema import Cadence, Role

ROLES = [role.value for role in Role]


def _heading(label: str) -> str:
    """A role's label at the start of a line: Account manager, vCIO, CEO."""
    return label if label[1:2].isupper() else label[:1].upper() + label[1:]


ROLE_NAMES = {role: _heading(role_label(role)) for role in ROLES}


def clients_page(site: Site, person: SignedIn, done: str, added: bool) -> dict[str, Any]:
    """Every client with its people by role; the forms' choices for those who edit them."""
    clients = directory.list_clients(site.uow(person))
    with site.uow(person) as work:
        covering = directory.read_client_roles(work.session, [c.id for c in clients])
        rows = [_client_row(c, covering[c.id]) for c in clients]
    catalog = staff.catalog(site.settings)
    return {
        "clients": rows,
        "may_edit": may_edit_clients(person),
        "templates": [(n, f"{n}: {t.title}") for n, t in sorted(catalog.items())],
        "cadences": [(c.value, c.value) for c in Cadence],
        "roles": ROLES,
        "role_names": ROLE_NAMES,
        "people": [
            {"email": p.email, "name": p.name} for p in directory.list_people(site.uow(person))
        ],
        "zones": staff.zones(),
        "default_zone": site.settings.timezone,
        "msp_holidays": _place(*site.settings.holiday_place) or "weekends only",
        "done": _client_done(site, person, rows, done, added),
    }


def _client_row(client: Client, covering: dict[str, list[Person]]) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": client.name,
        "cadence": client.cadence,
        "template": client.template,
        "timezone": client.timezone,
        "country": client.country or "",
        "subdivision": client.subdivision or "",
        "holidays": _place(client.country, client.subdivision),
        "active": client.active,
        "roles": [
            {"role": role, "people": [p.name for p in covering[role]]}
            for role in ROLES
            if covering.get(role)
        ],
    }


def _client_done(
    site: Site, person: SignedIn, rows: list[dict[str, Any]], done: str, added: bool
) -> dict[str, Any] | None:
    """What the change just made says, from the database: added (with its first review), or
    saved."""
    row = next((r for r in rows if str(r["id"]) == done), None)
    if row is None:
        return None
    if not added:
        return {"id": row["id"], "text": f"Saved the changes to {row['name']}", "review": None}
    first = views.list_reviews(site.uow(person), client_id=row["id"])
    review = {"id": first[-1].id, "name": first[-1].name} if first else None
    return {"id": row["id"], "text": f"Added {row['name']}", "review": review}


CHANGES_SHOWN = 20  # the People page's latest changes; `xbr directory log` shows more


def people_page(site: Site, person: SignedIn, done: str, added: bool) -> dict[str, Any]:
    """Everyone with their roles and how they get their messages."""
    rows = [
        {
            "id": p.id,
            "name": p.name,
            "email": p.email,
            "roles": p.roles,
            "notify": p.notify,
            "timezone": p.timezone or "",
        }
        for p in directory.list_people(site.uow(person))
    ]
    row = next((r for r in rows if str(r["id"]) == done), None)
    verb = "Added" if added else "Saved the changes to"
    may_edit = may_edit_people(person)
    return {
        "people": rows,
        "may_edit": may_edit,
        # those who give roles see who gave which (and changed clients), newest first
        "changes": directory_changes(site.uow(person), CHANGES_SHOWN) if may_edit else [],
        "roles": ROLES,
        "role_names": ROLE_NAMES,
        "zones": staff.zones(),
        "default_zone": site.settings.timezone,
        "done": {"id": row["id"], "text": f"{verb} {row['name']}"} if row else None,
    }


def client_by_id(site: Site, person: SignedIn, client_id: str) -> Client:
    """The client of a page's form, or one line saying it is gone."""
    with site.uow(person) as work:
        client = work.session.get(Client, int(client_id)) if _is_id(client_id) else None
    if client is None:
        raise NotFound(f"no client {client_id[:20]!r}; open the Clients page again")
    return client


def person_by_id(site: Site, person: SignedIn, person_id: str) -> Person:
    """The person of a page's form, or one line saying they are gone."""
    with site.uow(person) as work:
        found = work.session.get(Person, int(person_id)) if _is_id(person_id) else None
    if found is None:
        raise NotFound(f"no person {person_id[:20]!r}; open the People page again")
    return found


def _is_id(text: str) -> bool:
    return 0 < len(text) <= 10 and text.isascii() and text.isdigit() and 0 < int(text) < 2**31


def _place(country: str | None, subdivision: str | None) -> str:
    return "/".join(p for p in (country, subdivision) if p)
