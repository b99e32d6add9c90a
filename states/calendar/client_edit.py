"""Changing a client's calendar: its time zone, the place of its holidays, its cadence and
template. The open reviews' due dates and wake-ups follow its new working days."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import inspect, select
from sqlalchemy.orm import object_session

from states.calendar.business_days import zone
from states.calendar.public_holidays import check_place
from states.directory import client_by_name, parse_cadence
from states.lifecycle.audit import directory_change
from states.lifecycle.machine import OPEN_PHASES
from states.lifecycle.schedule import review_template, set_due_dates, set_wake
from states.store.db import UnitOfWork
from states.store.models import WHILE_HELD, Client, Review
from states.templates.catalog import pick
from states.templates.schema import Template


@dataclass(frozen=True)
class ClientEdit:
    """What to change; None keeps it. An empty country or subdivision clears it (the
    client's holidays are then the MSP's, or its whole country's)."""

    country: str | None = None
    subdivision: str | None = None
    timezone: str | None = None
    cadence: str | None = None
    template: str | None = None


def edit_client(
    uow: UnitOfWork, catalog: dict[str, Template], name: str, edit: ClientEdit
) -> tuple[Client, int]:
    """Check the whole edit, then apply it; returns the client and how many of its open
    reviews got new dates."""
    if edit.cadence is not None:
        parse_cadence(edit.cadence)
    if edit.template is not None:
        pick(catalog, edit.template)
    if edit.timezone is not None:
        zone(edit.timezone)
    with uow:
        session = uow.session
        client = client_by_name(session, name)
        country = client.country if edit.country is None else edit.country
        subdivision = client.subdivision if edit.subdivision is None else edit.subdivision
        if edit.country is not None and edit.subdivision is None and country != client.country:
            subdivision = None  # another country's subdivisions are not this one's
        client.country, client.subdivision = check_place(country, subdivision)
        if edit.timezone is not None:
            client.timezone = edit.timezone
        if edit.template is not None:
            client.template = edit.template
        if edit.cadence is not None and edit.cadence != client.cadence:
            client.cadence = edit.cadence
            if client.next_review_on != WHILE_HELD:
                client.next_review_on = None  # the calendar looks at it again
        changed = _changes(client)  # from the attributes' history: a value set again is none
        moved = _redate_open_reviews(client) if changed else 0
        if changed:
            directory_change(session, "client_edited", f"{client.name}: {changed}")
        uow.commit()
        return client, moved


def _changes(client: Client) -> str:
    """What the edit changed on the client, as "field: was -> now" parts."""
    state = inspect(client)
    parts = []
    for name in ("timezone", "country", "subdivision", "cadence", "template"):
        history = state.attrs[name].history
        if history.has_changes():
            was = history.deleted[0] if history.deleted else None
            now = history.added[0] if history.added else None
            if was != now:
                parts.append(f"{name} {was or 'none'} -> {now or 'none'}")
    return "; ".join(parts)


def _redate_open_reviews(client: Client) -> int:
    """Due dates and wake-ups of the client's open reviews, by its calendar as it is now."""
    session = object_session(client)
    assert session is not None
    reviews = session.scalars(
        select(Review).where(
            Review.client_id == client.id, Review.status.in_([p.value for p in OPEN_PHASES])
        )
    ).all()
    for review in reviews:
        template = review_template(review)
        set_due_dates(review, template)
        set_wake(review, template)
    return len(reviews)
