"""Follow-up tickets: one open ticket per client and anomaly, told to the PSA through the outbox.

A new ticket and a closed one each put two exports in the outbox, in the same transaction: the
CSV file of every ticket, and one JSON webhook call (`ticket_exports`). Closing an initiative's
ticket may finish the initiative (`states.plans.execution`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from states.calendar.business_days import add_business_days, due_at, local_date, working_calendar
from states.directory import person_by_email
from states.errors import AlreadyDecided, NotFound
from states.lifecycle.schedule import review_template
from states.plans.execution import ticket_closed
from states.staging.assessment import Finding, Severity
from states.staging.ticket_exports import export_ticket
from states.store.db import UnitOfWork
from states.store.models import FollowUpTicket, Review, utcnow

# business days a follow-up ticket gets, by severity
TICKET_DAYS = {Severity.RED: 3, Severity.AMBER: 10}


def ticket_for(
    session: Session, review: Review, finding: Finding, now: datetime
) -> tuple[FollowUpTicket, bool]:
    """The ticket this review raised for the anomaly (open or closed), else the client's open
    one, else a new one exported to the PSA; returns it and whether it is new."""
    existing = session.scalar(
        select(FollowUpTicket)
        .where(FollowUpTicket.client_id == review.client_id, FollowUpTicket.key == finding.key)
        .where(or_(FollowUpTicket.review_id == review.id, FollowUpTicket.status == "open"))
        # this review's own first: assessing its evidence again never raises a second ticket
        .order_by((FollowUpTicket.review_id == review.id).desc(), FollowUpTicket.id.desc())
        .limit(1)
    )
    if existing is not None:
        return existing, False
    template = review_template(review)
    cal = working_calendar(session, review.client)
    due_day = add_business_days(local_date(now, cal.tz), TICKET_DAYS[finding.severity], cal)
    ticket = FollowUpTicket(
        client_id=review.client_id,
        key=finding.key,
        title=f"Follow-up - {finding.title}",
        detail=finding.detail,
        severity=finding.severity.value,
        owner_role=finding.owner_role or "support_engineer",
        due_at=due_at(due_day, 0, cal, template.schedule.due_hour),
        status="open",
        review_id=review.id,
        created_at=now,
    )
    session.add(ticket)
    session.flush()
    export_ticket(session, ticket, "created")
    return ticket, True


def close_dropped(session: Session, review: Review, keys: set[str], now: datetime) -> list[int]:
    """Close the open tickets this review raised for anomalies its evidence no longer shows
    (a corrected export); the PSA is told."""
    dropped = session.scalars(
        select(FollowUpTicket).where(
            FollowUpTicket.review_id == review.id,
            FollowUpTicket.status == "open",
            FollowUpTicket.key.not_in(keys),
        )
    )
    closed = []
    for ticket in dropped:
        ticket.status, ticket.closed_at = "closed", now
        ticket.detail = f"{ticket.detail}\nNo longer found in the review's evidence.".strip()
        export_ticket(session, ticket, "closed")
        closed.append(ticket.id)
    return closed


def close_ticket(
    uow: UnitOfWork, ticket_id: int, actor: str, now: datetime | None = None
) -> FollowUpTicket:
    """Close a follow-up ticket (its work is done); the anomaly recurring later opens a new one."""
    now = now or utcnow()
    with uow:
        person = person_by_email(uow.session, actor)
        # NO KEY UPDATE: a finding being written that points at this ticket does not wait
        ticket = uow.session.scalar(
            select(FollowUpTicket)
            .where(FollowUpTicket.id == ticket_id)
            .with_for_update(key_share=True, of=FollowUpTicket)  # not its joined client
        )
        if ticket is None:
            raise NotFound(f"unknown ticket {ticket_id}; see `xbr ticket list`")
        if ticket.status != "open":
            raise AlreadyDecided(f"ticket {ticket_id} is already {ticket.status}")
        ticket.status, ticket.closed_at = "closed", now
        ticket.detail = f"{ticket.detail}\nClosed by {person.email}.".strip()
        export_ticket(uow.session, ticket, "closed")
        ticket_closed(uow.session, ticket, person.email, now)
        uow.commit()
        return ticket
