"""People, their roles, clients and who covers which role for a client."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from states.calendar.business_days import zone
from states.calendar.public_holidays import check_place
from states.errors import InvalidInput, NotFound
from states.lifecycle.audit import directory_change
from states.standards.pinning import repin_open_reviews
from states.standards.schema import Standard
from states.store.db import UnitOfWork, read_unread
from states.store.models import TASK_IS_OPEN, Client, ClientRole, Person, PersonRole, ReviewTask
from states.templates.catalog import pick
from states.templates.schema import Cadence, Role, Template
from states.text import parse_name

CLIENT_ROLES = "client_roles"  # session.info: client id -> role -> its people, read once


def client_slug(name: str) -> str:
    """A client's name as lowercase words joined by dashes: acme-law (its folder, its tag)."""
    return "-".join("".join(c if c.isalnum() else " " for c in name.lower()).split())


def parse_role(text: str) -> Role:
    """A role by name, or an error listing the roles."""
    try:
        return Role(text)
    except ValueError:
        raise InvalidInput(
            f"unknown role {text!r}; use one of: {', '.join(r.value for r in Role)}"
        ) from None


def parse_email(text: str) -> str:
    """A valid email address (by its standard; no lookup of the domain), lower-cased."""
    try:
        checked = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError as error:
        shown = repr(text[:80]) + ("..." if len(text) > 80 else "")
        raise InvalidInput(
            f"{shown} is not an email address ({str(error).rstrip('.')}); use e.g. jo@msp.example"
        ) from None
    return checked.normalized.lower()


def person_by_email(session: Session, email: str) -> Person:
    """The person with `email`, or an error that says how to add them."""
    person = session.scalar(select(Person).where(Person.email == email.strip().lower()))
    if person is None:
        raise NotFound(f"unknown person {email!r}; add them with `xbr person add`")
    return person


def known_email(session: Session, email: str) -> str:
    """`email` as xbr knows it (lower-cased) if it is a person's, else person_by_email's
    error: one column read, for who only needs the address checked."""
    wanted = email.strip().lower()
    if wanted in _read_emails(session):  # a person this transaction has read already
        return wanted
    if session.scalar(select(Person.id).where(Person.email == wanted)) is None:
        raise NotFound(f"unknown person {email!r}; add them with `xbr person add`")
    return wanted


def _read_emails(session: Session) -> set[str]:
    """The addresses of the people this transaction read as clients' role holders."""
    clients: dict[int, dict[str, list[Person]]] = session.info.get(CLIENT_ROLES, {})
    return {p.email for roles in clients.values() for people in roles.values() for p in people}


def client_by_name(session: Session, name: str) -> Client:
    """The client called `name` (case-insensitive), or an error that says how to add it."""
    # the exact name through its index first: a scan of every client only for other casings
    client = session.scalar(select(Client).where(Client.name == name)) or session.scalar(
        select(Client).where(func.lower(Client.name) == name.lower())
    )
    if client is None:
        # a miss only: every name, for the closest to a typo
        names = {n.lower(): n for n in session.scalars(select(Client.name))}
        close = difflib.get_close_matches(name.lower()[:200], list(names), n=1, cutoff=0.6)
        hint = f"did you mean {names[close[0]]!r}? " if close else ""
        raise NotFound(f"unknown client {name[:200]!r}; {hint}see `xbr client list` or add it")
    return client


def add_person(uow: UnitOfWork, name: str, email: str, roles: list[str]) -> Person:
    """Add a person, or give an existing one (same email) the extra roles."""
    email = parse_email(email)
    wanted = {parse_role(r) for r in roles}
    name = parse_name(name, "person")
    with uow:
        person = uow.session.scalar(select(Person).where(Person.email == email))
        new = person is None
        if person is None:
            person = Person(name=name, email=email)
            uow.session.add(person)
        added = sorted(wanted - set(person.roles))
        person.role_rows.extend(PersonRole(role=r) for r in added)
        if new:
            directory_change(uow.session, "person_added",
                             f"{name} <{email}>: {', '.join(added)}")  # fmt: skip
        elif added:
            directory_change(uow.session, "roles_added", f"{email}: {', '.join(added)}")
        uow.commit()
        return person


def list_people(uow: UnitOfWork) -> list[Person]:
    """Everyone, by name."""
    with uow:
        return list(uow.session.scalars(select(Person).order_by(Person.name)))


def list_clients(uow: UnitOfWork) -> list[Client]:
    """Every client, by name."""
    with uow:
        return list(uow.session.scalars(select(Client).order_by(Client.name)))


def add_client(
    uow: UnitOfWork,
    name: str,
    cadence: str,
    template_name: str,
    timezone: str,
    catalog: dict[str, Template],
    country: str | None = None,
    subdivision: str | None = None,
) -> Client:
    """Add a client with its review cadence, default template, time zone and the place of
    its public holidays (none: the MSP's)."""
    name = parse_name(name, "client")
    parse_cadence(cadence)
    pick(catalog, template_name)
    zone(timezone)
    country, subdivision = check_place(country, subdivision)
    slug = client_slug(name)
    if not slug:
        raise InvalidInput(f"client name {name!r} has no letters or digits; give it a real name")
    with uow:
        taken = uow.session.scalar(select(Client.name).where(Client.slug == slug).limit(1))
        if taken is not None and taken != name:
            raise InvalidInput(
                f"client {name!r} would share the folder and tag {slug!r} with {taken!r}; "
                "choose a name that differs in letters or digits"
            )
        client = Client(
            name=name,
            slug=slug,
            cadence=cadence,
            template=template_name,
            timezone=timezone,
            country=country,
            subdivision=subdivision,
        )
        uow.session.add(client)
        try:
            uow.session.flush()
        except IntegrityError:
            raise InvalidInput(f"client {name!r} exists already; see `xbr client show`") from None
        place = ", ".join(p for p in (country, subdivision) if p) or "the MSP's holidays"
        directory_change(uow.session, "client_added",
                         f"{name}: {cadence}, {template_name}, {timezone}, {place}")  # fmt: skip
        uow.commit()
        return client


def parse_cadence(text: str) -> Cadence:
    """A cadence by name, or an error listing the cadences."""
    try:
        return Cadence(text)
    except ValueError:
        choices = ", ".join(c.value for c in Cadence)
        raise InvalidInput(f"unknown cadence {text!r}; use one of: {choices}") from None


def assign_role(uow: UnitOfWork, client_name: str, role: str, email: str) -> None:
    """Make a person cover a role for one client (e.g. its vCIO or its contact)."""
    wanted = parse_role(role)
    with uow:
        client = client_by_name(uow.session, client_name)
        person = person_by_email(uow.session, email)
        if uow.session.get(ClientRole, (client.id, wanted.value, person.id)) is None:
            uow.session.add(ClientRole(client_id=client.id, role=wanted.value, person_id=person.id))
            directory_change(uow.session, "role_assigned",
                             f"{person.email} covers {wanted.value} for {client.name}")  # fmt: skip
        uow.commit()


def people_for(session: Session, client_id: int, role: str) -> list[Person]:
    """Who covers `role` for a client: its own assignees, else everyone holding the role
    (except the client's contacts: another client's contact is never this client's)."""
    own = _roles_of_client(session, client_id).get(str(role), [])
    if own or role == Role.CLIENT_CONTACT:
        return list(own)
    return list(_role_holders(session).get(str(role), []))


# Opening a review asks people_for for every task, notice and gate: each transaction reads
# the roles once (people and roles change in transactions of their own), without flushing
# what it has pending, and without loading every person's role list along.


def covers(session: Session, client_id: int, email: str, roles: Iterable[str]) -> bool:
    """Whether the person with `email` covers one of `roles` for the client."""
    wanted = email.strip().lower()
    return any(p.email == wanted for role in roles for p in people_for(session, client_id, role))


def _role_holders(session: Session) -> dict[str, list[Person]]:
    known: dict[str, list[Person]] | None = session.info.get("role_holders")
    if known is None:
        known = session.info["role_holders"] = {}
        query = (
            select(PersonRole.role, Person)
            .join(Person, PersonRole.person_id == Person.id)
            .order_by(Person.id)
            .options(lazyload(Person.role_rows))
        )
        with session.no_autoflush:
            for role, person in session.execute(query):
                known.setdefault(role, []).append(person)
    return known


def _roles_of_client(session: Session, client_id: int) -> dict[str, list[Person]]:
    return read_client_roles(session, [client_id])[client_id]


def read_client_roles(
    session: Session, client_ids: list[int]
) -> dict[int, dict[str, list[Person]]]:
    """Who covers which role for these clients (those not read yet in this transaction read
    in one query)."""

    def fill(unread: list[int], clients: dict[int, dict[str, list[Person]]]) -> None:
        query = (
            select(ClientRole.client_id, ClientRole.role, Person)
            .join(Person, ClientRole.person_id == Person.id)
            .where(ClientRole.client_id.in_(unread))
            .order_by(Person.id)
            .options(lazyload(Person.role_rows))
        )
        for client_id, role, person in session.execute(query):
            clients[client_id].setdefault(role, []).append(person)

    return read_unread(session, CLIENT_ROLES, client_ids, dict, fill)


def open_task_load(session: Session) -> dict[int, int]:
    """How many open tasks each person is assigned, to spread new work evenly."""
    rows = session.execute(
        select(ReviewTask.assignee_id, func.count())
        .where(TASK_IS_OPEN, ReviewTask.assignee_id.is_not(None))
        .group_by(ReviewTask.assignee_id)
    )
    return {person_id: count for person_id, count in rows if person_id is not None}


def set_thresholds(
    uow: UnitOfWork,
    catalog: dict[str, Template],
    client_name: str,
    changes: dict[str, str],
    reset: bool = False,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Override a client's check thresholds (or drop its overrides); returns the overrides and
    the thresholds its reviews will use."""
    with uow:
        client = client_by_name(uow.session, client_name)
        base = pick(catalog, client.template).thresholds
        overrides = {} if reset else dict(client.thresholds or {})
        overrides.update(changes)
        effective = base.merged(overrides)  # refuses an unknown name or a bad value
        overrides = {k: getattr(effective, k) for k in overrides}
        if changes or reset:
            told = ", ".join(f"{k}={v}" for k, v in overrides.items()) or "the template's"
            client.thresholds = overrides or None
            directory_change(uow.session, "thresholds_set", f"{client.name}: {told}")
            uow.commit()
        return overrides, effective.model_dump()


def set_standards(
    uow: UnitOfWork,
    catalog: dict[str, Template],
    known: Mapping[str, Standard],
    client_name: str,
    add: Sequence[str] = (),
    remove: Sequence[str] = (),
) -> tuple[list[str], list[str]]:
    """Add or remove standards a client's reviews assess besides its template's; returns the
    client's own and all its reviews assess (the template's first). Its open reviews not past
    staging assess the new list too. `known`: the installation's standards; an unknown name
    is refused with the list."""
    names = set(known)
    unknown = [name for name in (*add, *remove) if name not in names]
    if unknown:
        raise NotFound(
            f"unknown standard {unknown[0]!r}; use one of: {', '.join(sorted(names))} "
            "(`xbr standard list`)"
        )
    with uow:
        client = client_by_name(uow.session, client_name)
        own = [s for s in client.standards or [] if s not in remove]
        own += [s for s in dict.fromkeys(add) if s not in own]
        if add or remove:
            client.standards = own or None
            repin_open_reviews(uow.session, client, known)
            told = ", ".join(own) or "the template's only"
            directory_change(uow.session, "standards_set", f"{client.name}: {told}")
            uow.commit()
        base = pick(catalog, client.template).standards
        return own, list(dict.fromkeys([*base, *own]))


def set_fiscal_year_start(uow: UnitOfWork, client_name: str, month: int | None) -> int:
    """The month the client's fiscal year starts (1-12), changed when `month` is given; its
    plan's quarters follow it."""
    if month is not None and not 1 <= month <= 12:
        raise InvalidInput(f"--start {month}: a fiscal year starts in a month, 1 to 12")
    with uow:
        client = client_by_name(uow.session, client_name)
        if month is not None and month != client.fiscal_year_start:
            told = f"{client.name}: month {client.fiscal_year_start} -> {month}"
            directory_change(uow.session, "fiscal_year_set", told)
            client.fiscal_year_start = month
            uow.commit()
        return client.fiscal_year_start
