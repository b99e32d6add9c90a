"""What the PSA is told of a follow-up ticket: the outbox rows of one event (created, closed),
one per export (the CSV file of every ticket, and one JSON webhook call)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from states.psa import mirroring
from states.store.models import FollowUpTicket, OutboxMessage

TICKET = "ticket."
TICKET_EXPORTS = ("csv", "webhook")


def export_ticket(session: Session, ticket: FollowUpTicket, event: str) -> None:
    """Put the ticket's event in the outbox, once per export, in the caller's transaction."""
    for export in TICKET_EXPORTS:
        session.add(
            OutboxMessage(
                dedupe_key=f"ticket:{ticket.id}:{event}:{export}",
                kind=f"{TICKET}{export}",
                review_id=ticket.review_id,
                recipient=f"psa:{export}",
                payload={"ticket_id": ticket.id, "review_id": ticket.review_id, "event": event},
            )
        )
    mirroring.ticket_event(session, ticket, event)
