"""The outbox rows that mirror a client's work in the PSA its company is mapped in: the review's
ticket (each step, each task done), its follow-up tickets (created, closed) and the opportunity
of an approved initiative. Nothing is planned for a client without a PSA company.

The rows of one review are delivered in the order they were planned (`psa.delivery`), so the
PSA's ticket goes through the review's statuses in turn.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from states.store.models import Client, FollowUpTicket, Initiative, OutboxMessage, Review

PSA = "psa."  # outbox kinds of the PSA's work start with it
REVIEW, TICKET, OPPORTUNITY = f"{PSA}review", f"{PSA}ticket", f"{PSA}opportunity"


def mirrored(client: Client) -> bool:
    """Whether the client's work goes to the PSA: its company there is known."""
    return client.psa_company is not None


def review_step(session: Session, review: Review, trigger: str, status: str) -> None:
    """The review's ticket takes the status of the phase it entered (or is made, at start)."""
    if mirrored(review.client):
        _add(session, f"psa:review:{review.id}:round:{review.round}:{trigger}", REVIEW,
             review.id, status=status)  # fmt: skip


def task_closed(session: Session, review: Review, task_id: int, status: str) -> None:
    """A task of the review was done or skipped: its task on the ticket is closed."""
    if mirrored(review.client):
        _add(session, f"psa:review:{review.id}:task:{task_id}:{status}", REVIEW, review.id)


def ticket_event(session: Session, ticket: FollowUpTicket, event: str) -> None:
    """A follow-up ticket was created or closed: so is its ticket in the PSA."""
    if ticket.client is not None and mirrored(ticket.client):
        _add(session, f"psa:ticket:{ticket.id}:{event}", TICKET, ticket.review_id,
             ticket_id=ticket.id, event=event)  # fmt: skip


def initiative_approved(session: Session, initiative: Initiative) -> None:
    """The client approved an initiative: it becomes an opportunity in the PSA."""
    if mirrored(initiative.client):
        _add(session, f"psa:initiative:{initiative.id}:approved", OPPORTUNITY,
             initiative.review_id, initiative_id=initiative.id)  # fmt: skip


def _add(session: Session, key: str, kind: str, review_id: int | None, **payload: Any) -> None:
    session.add(
        OutboxMessage(
            dedupe_key=key,
            kind=kind,
            review_id=review_id,
            recipient="psa",
            payload={"review_id": review_id, **payload},
            status="pending",  # set, as notices set it: a change's rows go in one INSERT
        )
    )
