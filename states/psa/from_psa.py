"""What a change made in the PSA does in xbr: a follow-up ticket closed there is closed here;
a review's ticket moved to another status there is a note for the review's accountable person
(xbr's phase stays: xbr keeps the lifecycle)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from states.lifecycle import audit
from states.lifecycle.schedule import review_template
from states.notices.planning import changed_in_psa
from states.plans.execution import ticket_closed
from states.psa.links import Link
from states.staging.ticket_exports import export_ticket
from states.store.db import UnitOfWork
from states.store.models import FollowUpTicket, PsaLink, Review
from states.text import CONTROLS_BUT_LINES


def close_ticket(uow: UnitOfWork, link: Link, psa: str, by: str, now: datetime) -> bool:
    """Close the follow-up ticket that was closed in the PSA; False when it was closed here
    already. Its link keeps that the PSA's is closed, so nothing is sent back."""
    with uow:
        ticket = uow.session.scalar(
            select(FollowUpTicket)
            .where(FollowUpTicket.id == link.local_id)
            .with_for_update(of=FollowUpTicket)  # not its joined client
        )
        _keep(uow, link, {"closed": True})
        if ticket is None or ticket.status != "open":
            uow.commit()
            return False
        who = _who(psa, by)
        ticket.status, ticket.closed_at = "closed", now
        ticket.detail = f"{ticket.detail}\nClosed in {who}.".strip()
        export_ticket(uow.session, ticket, "closed")
        ticket_closed(uow.session, ticket, who, now)
        uow.commit()
        return True


def note_status(uow: UnitOfWork, link: Link, psa: str, status: str, by: str, now: datetime) -> None:
    """The review's ticket shows another status in the PSA than xbr gave it: an audit note,
    and a notice to the accountable person of the review's phase."""
    with uow:
        review = uow.session.get(Review, link.local_id)
        _keep(uow, link, {"seen": status})
        if review is not None:
            who, status = _who(psa, by), plain(status, 100)
            audit.note(uow.session, review, "psa_status", who,
                       f"moved to {status!r} in {psa}; the review stays in {review.status}",
                       now)  # fmt: skip
            changed_in_psa(uow.session, review, review_template(review), psa, status, plain(by, 80))
        uow.commit()


def _keep(uow: UnitOfWork, link: Link, values: dict[str, object]) -> None:
    row = uow.session.get(PsaLink, link.id)
    if row is not None:
        row.state = {**(row.state or {}), **values}


def _who(psa: str, by: str) -> str:
    """The PSA and its member who made the change, as the audit names an actor."""
    name = plain(by, 80)
    return f"{psa} ({name})" if name else psa


def plain(text: str, limit: int) -> str:
    """A value from the PSA as xbr keeps it: one line, no control characters, bounded."""
    return " ".join(CONTROLS_BUT_LINES.sub("", text).split())[:limit]
