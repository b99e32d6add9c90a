"""The account calendar: every active client has its next review, by its cadence and lead time.

One code path for the daily calendar pass, a new client's onboarding and follow-up's last step.
The partial unique index on open reviews makes a race between any two of them create one review:
the loser finds it exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from states.calendar.business_days import local_date, zone
from states.calendar.cadence import next_meeting, opens_on
from states.calendar.opening import Opening, open_review, open_reviews
from states.directory import open_task_load, read_client_roles
from states.errors import SlotTaken, XbrError
from states.lifecycle.machine import SLOT_PHASES, Phase
from states.lifecycle.steps import SYSTEM_ACTOR
from states.standards.schema import Standard
from states.store.db import UnitOfWork, read_unread
from states.store.models import AD_HOC, WHILE_HELD, Client, Review, utcnow
from states.templates.catalog import pick
from states.templates.schema import Cadence, Template

# reviews whose meeting took place
HELD = (Phase.FOLLOW_UP.value, Phase.QA_REVIEW.value, Phase.CLOSED.value)


@dataclass(frozen=True)
class NextReview:
    """What the calendar decided for one client."""

    client: str
    review_id: int | None  # the review it created, if any
    meeting_due: date | None  # when the next meeting should be, by the cadence
    reason: str


def clients_without_next_review(session: Session, today: date) -> list[Client]:
    """Active clients with a cadence, no review holding their slot, and whose next review is
    due by `today` (or not planned yet): the work grows with what is due, not with clients."""
    holding = exists().where(
        and_(
            Review.client_id == Client.id,
            Review.type != AD_HOC,
            Review.status.in_([p.value for p in SLOT_PHASES]),
        )
    )
    due = or_(Client.next_review_on.is_(None), Client.next_review_on <= today)
    query = select(Client).where(Client.active, Client.cadence != Cadence.NONE.value, due)
    query = query.where(~holding)
    return list(session.scalars(query.order_by(Client.id)))


def _held_meetings(session: Session, client: Client, review_type: str) -> tuple[date, date] | None:
    """The client's first and latest held meetings of this type, as local days."""
    meetings = read_held_meetings(session, [client.id])[client.id].get(review_type, [])
    days = [local_date(m, zone(client.timezone)) for m in meetings]
    return (days[0], days[-1]) if days else None


def read_held_meetings(
    session: Session, client_ids: list[int]
) -> dict[int, dict[str, list[datetime]]]:
    """The held meetings of these clients, by type and in order (those not read yet in this
    transaction read in one query)."""

    def fill(unread: list[int], known: dict[int, dict[str, list[datetime]]]) -> None:
        rows = session.execute(
            select(Review.client_id, Review.type, Review.meeting_at)
            .where(Review.client_id.in_(unread), Review.status.in_(HELD))
            .where(Review.meeting_at.is_not(None))
            .order_by(Review.meeting_at)
        )
        for client_id, review_type, meeting in rows:
            known[client_id].setdefault(review_type, []).append(meeting)

    return read_unread(session, "held_meetings", client_ids, dict, fill)


def plan_next(session: Session, client: Client, template: Template, now: datetime) -> NextReview:
    """Whether the client's next review should be opened now, and for when."""
    held = _held_meetings(session, client, template.review_type)
    if held is None:
        return NextReview(client.name, None, None, "first review")
    target = next_meeting(Cadence(client.cadence), *held)
    if target is None:
        return NextReview(client.name, None, None, "no cadence")
    today = local_date(now, zone(client.timezone))
    if today < opens_on(target, template.schedule.lead_weeks_max):
        return NextReview(client.name, None, target, "not yet")
    return NextReview(client.name, None, target, "due")


def ensure_next_review(
    uow: UnitOfWork,
    catalog: dict[str, Template],
    client_name: str,
    now: datetime | None = None,
    early: bool = False,
    standards: Mapping[str, Standard] | None = None,
) -> NextReview:
    """Open the client's next review if the calendar says it is due (or `early`, as
    follow-up's last step does) and no review holds the client's slot."""
    now = now or utcnow()
    with uow:
        client = uow.session.scalar(select(Client).where(Client.name == client_name))
        if client is None:
            return NextReview(client_name, None, None, "no cadence")
        plan, opening = _plan(uow.session, catalog, client, now, early, standards)
        if opening is not None:
            plan = _open_carefully(uow.session, plan, opening, now)
        uow.commit()
        return plan


# Clients per transaction of a pass: few commits, and the write lock (SQLite's is the whole
# database) is never held for long, even on the day a large MSP is first onboarded.
BATCH = 50


def calendar_pass(
    uow: UnitOfWork,
    catalog: dict[str, Template],
    now: datetime | None = None,
    standards: Mapping[str, Standard] | None = None,
) -> list[NextReview]:
    """One pass of the account calendar over the clients that have no next review, BATCH
    clients per transaction, their reviews opened together. When another pass or follow-up
    opens one of a batch's reviews first, the batch is done again with a savepoint per client,
    so only that client waits."""
    now = now or utcnow()
    # a day ahead of UTC: no client's local day is later than that
    horizon = (now + timedelta(days=1)).date()
    with uow:
        ids = [c.id for c in clients_without_next_review(uow.session, horizon)]
        # counted once for the pass, then kept up to date as its reviews assign tasks
        load = open_task_load(uow.session) if ids else {}
    plans: list[NextReview] = []
    for start in range(0, len(ids), BATCH):
        batch, before = ids[start : start + BATCH], dict(load)
        try:
            plans += _pass_over(uow, catalog, batch, now, load, False, standards)
        except SlotTaken:
            load.clear()
            load.update(before)
            plans += _pass_over(uow, catalog, batch, now, load, True, standards)
    return plans


def _pass_over(
    uow: UnitOfWork,
    catalog: dict[str, Template],
    ids: list[int],
    now: datetime,
    load: dict[int, int],
    careful: bool,
    standards: Mapping[str, Standard] | None,
) -> list[NextReview]:
    """Plan and open the next reviews of a batch of clients in one transaction. Not `careful`:
    all in one go, and SlotTaken if the database refuses one (the transaction is done for)."""
    with uow:
        session = uow.session
        clients = session.scalars(select(Client).where(Client.id.in_(ids)).order_by(Client.id))
        read_held_meetings(session, ids)  # the batch's history and roles in two queries
        read_client_roles(session, ids)
        planned = [_plan(session, catalog, client, now, False, standards) for client in clients]
        if careful:
            plans = [
                _open_carefully(session, plan, opening, now, load) if opening else plan
                for plan, opening in planned
            ]
        else:
            openings = [opening for _, opening in planned if opening]
            reviews = iter(open_reviews(session, openings, SYSTEM_ACTOR, now, load))
            plans = [
                replace(plan, review_id=next(reviews).id) if opening else plan
                for plan, opening in planned
            ]
        uow.commit()
        return plans


def _plan(
    session: Session,
    catalog: dict[str, Template],
    client: Client,
    now: datetime,
    early: bool,
    standards: Mapping[str, Standard] | None,
) -> tuple[NextReview, Opening | None]:
    """What the calendar decides for the client, and the review to open if it is due."""
    if not client.active or client.cadence == Cadence.NONE.value:
        return NextReview(client.name, None, None, "no cadence"), None
    template = pick(catalog, client.template)
    if template.review_type == AD_HOC:  # asked for when needed, never by the calendar
        client.next_review_on = WHILE_HELD  # the pass need not read it again
        return NextReview(client.name, None, None, "ad hoc"), None
    plan = plan_next(session, client, template, now)
    if plan.reason == "not yet" and plan.meeting_due is not None:
        # the calendar need not look at this client again before the day it opens
        client.next_review_on = opens_on(plan.meeting_due, template.schedule.lead_weeks_max)
    if plan.reason not in ("first review", "due", *(("not yet",) if early else ())):
        return plan, None
    why = f"account calendar: {plan.reason}" + (
        f", meeting due around {plan.meeting_due}" if plan.meeting_due else ""
    )
    return plan, Opening(client, template, why, period_day=plan.meeting_due, standards=standards)


def _open_carefully(
    session: Session,
    plan: NextReview,
    opening: Opening,
    now: datetime,
    load: dict[int, int] | None = None,
) -> NextReview:
    """Open the review in a savepoint: when another pass or follow-up opened it first, only
    this client's part is undone and the plan says it exists."""
    try:
        with session.begin_nested():
            review = open_review(session, opening, SYSTEM_ACTOR, now, load)
    except (SlotTaken, IntegrityError):  # the database refused it: opened first
        return replace(plan, reason="exists")
    except XbrError as taken:  # found open before inserting: the transaction goes on
        return replace(plan, reason=f"exists: {taken}")
    return replace(plan, review_id=review.id)
