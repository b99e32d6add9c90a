"""An approved initiative becomes work: the PSA hears of it (`initiative.approved`, through the
outbox, once), its first step is a follow-up ticket, and its status follows its tickets: in
progress while one is open, done when all are closed (or set by hand).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from states.calendar.business_days import add_business_days, due_at, local_date, working_calendar
from states.lifecycle import audit
from states.lifecycle.audit import SYSTEM_ACTOR
from states.lifecycle.schedule import review_template
from states.psa import mirroring
from states.staging.ticket_exports import TICKET, export_ticket
from states.store.models import FollowUpTicket, Initiative, OutboxMessage, Review

FIRST_STEP_DAYS = {"high": 5, "medium": 10, "low": 20}  # business days for the first step


def approved(session: Session, initiative: Initiative, now: datetime) -> None:
    """In the approval's transaction: the PSA event, and the first step's ticket."""
    session.add(
        OutboxMessage(
            dedupe_key=f"initiative:{initiative.id}:approved:webhook",
            kind=f"{TICKET}initiative",
            review_id=initiative.review_id,
            recipient="psa:webhook",
            payload={"initiative_id": initiative.id, "event": "approved"},
        )
    )
    mirroring.initiative_approved(session, initiative)
    review = _review_of(session, initiative)
    if review is None:  # added by hand for a client without a review: no ticket to hang it on
        return
    cal = working_calendar(session, initiative.client)
    due_day = add_business_days(local_date(now, cal.tz), FIRST_STEP_DAYS[initiative.priority], cal)
    ticket = FollowUpTicket(
        client_id=initiative.client_id,
        key=f"initiative-{initiative.id}",
        title=f"Follow-up - {initiative.title}: first step",
        detail=initiative.why,
        severity="red" if initiative.priority == "high" else "amber",
        owner_role=initiative.owner_role,
        due_at=due_at(due_day, 0, cal, review_template(review).schedule.due_hour),
        status="open",
        review_id=review.id,
        created_at=now,
        initiative_id=initiative.id,
    )
    session.add(ticket)
    session.flush()
    export_ticket(session, ticket, "created")
    _step(session, initiative, "in_progress", "start", SYSTEM_ACTOR,
          f"its first step is ticket {ticket.id}", now)  # fmt: skip


def _review_of(session: Session, initiative: Initiative) -> Review | None:
    if initiative.review_id is not None:
        return session.get(Review, initiative.review_id)
    return session.scalar(
        select(Review)
        .where(Review.client_id == initiative.client_id)
        .order_by(Review.created_at.desc(), Review.id.desc())
        .limit(1)
    )


def ticket_closed(session: Session, ticket: FollowUpTicket, actor: str, now: datetime) -> None:
    """A closed ticket of an initiative in progress: done, once all of its tickets are."""
    if ticket.initiative_id is None:
        return
    initiative = session.get(Initiative, ticket.initiative_id)
    if initiative is None or initiative.status not in ("approved", "in_progress"):
        return
    still_open = session.scalar(
        select(FollowUpTicket.id)
        .where(FollowUpTicket.initiative_id == initiative.id, FollowUpTicket.status == "open")
        .limit(1)
    )
    if still_open is None:
        _step(session, initiative, "done", "finish", actor,
              f"its tickets are closed (the last: {ticket.id})", now)  # fmt: skip


def _step(
    session: Session,
    initiative: Initiative,
    status: str,  # (the statuses of states.plans.initiatives, which calls this module)
    move: str,
    actor: str,
    comment: str,
    now: datetime,
) -> None:
    """The initiative's status follows its work, audited like a person's step."""
    before = initiative.status
    initiative.status, initiative.updated_at = status, now
    audit.initiative_step(session, initiative, before, status, move, actor, comment, now)
