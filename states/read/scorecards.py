"""Read models of an assessment: the scorecard against the baseline, findings, tickets, volume.

`report_data` is the one dict the agenda, the client summary, the flow run's artifacts and the
HTML report are rendered from.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from states.calendar.business_days import local_date, zone
from states.directory import people_for
from states.errors import NotFound
from states.lifecycle.decisions import load_review
from states.lifecycle.schedule import review_template
from states.read.views import review_name
from states.staging.assessment import NIST_CSF, Category, color
from states.staging.doubts import stored_sets
from states.staging.evidence import Source
from states.staging.record import previous_assessed_review
from states.store.db import UnitOfWork
from states.store.models import (
    Assessment,
    EvidenceSet,
    FollowUpTicket,
    Review,
    ReviewFinding,
    utcnow,
)

SEVERITY_ORDER = {"red": 0, "amber": 1}


def _named(session: Session, review_id: int | None) -> dict[str, Any] | None:
    review = session.get(Review, review_id) if review_id is not None else None
    if review is None:
        return None
    return {"review_id": review.id, "name": review_name(review), "period": review.period}


def baseline_review(session: Session, review: Review) -> int | None:
    """The client's first assessed review (this one, when it is the first)."""
    return session.scalar(
        select(Review.id)
        .join(Assessment, Assessment.review_id == Review.id)
        .where(Review.client_id == review.client_id)
        .order_by(Review.created_at, Review.id)
        .limit(1)
    )


def scorecard(session: Session, review: Review) -> dict[str, Any]:
    """Per category: score, color, baseline, previous and change since the baseline."""
    own = session.get(Assessment, review.id)
    base_id = baseline_review(session, review)
    prev_id = previous_assessed_review(session, review)
    base = session.get(Assessment, base_id) if base_id not in (None, review.id) else None
    prev = session.get(Assessment, prev_id) if prev_id is not None else None
    rows = []
    for category in Category:
        value = own.scores.get(category.value) if own else None
        was = base.scores.get(category.value) if base else None
        rows.append(
            {
                "category": category.value,
                "label": category.label,
                "score": value,
                "color": color(value),
                "baseline": was,
                "previous": prev.scores.get(category.value) if prev else None,
                "change": value - was if value is not None and was is not None else None,
                "nist": list(NIST_CSF[category]),
            }
        )
    return {
        "assessed": own is not None,
        "baseline": _named(session, base_id if base is not None else None),
        "previous": _named(session, prev_id),
        "scorecard": rows,
    }


def ticket_row(ticket: FollowUpTicket, recurring: bool = False) -> dict[str, Any]:
    """A follow-up ticket as people and the PSA export read it."""
    return {
        "id": ticket.id,
        "client": ticket.client.name,
        "key": ticket.key,
        "title": ticket.title,
        "detail": ticket.detail,
        "severity": ticket.severity,
        "owner_role": ticket.owner_role,
        "due": local_date(ticket.due_at, zone(ticket.client.timezone)).isoformat(),
        "status": ticket.status,
        "review_id": ticket.review_id,
        "created_at": ticket.created_at.isoformat(),
        "recurring": recurring,
    }


def findings_of(session: Session, review_id: int) -> list[dict[str, Any]]:
    """The review's findings, red first."""
    rows = session.scalars(select(ReviewFinding).where(ReviewFinding.review_id == review_id))
    found = [
        {
            "key": f.key,
            "check": f.check,
            "category": f.category,
            "category_label": Category(f.category).label,
            "severity": f.severity,
            "title": f.title,
            "detail": f.detail,
            "disposition": f.disposition,
            "recurring": f.recurring,
            "owner_role": f.owner_role,
            "evidence_count": len(f.evidence),
            "ticket": ticket_row(f.ticket) if f.ticket else None,
        }
        for f in rows
    ]
    return sorted(found, key=lambda f: (SEVERITY_ORDER[f["severity"]], f["category"], f["key"]))


def ticket_volume(session: Session, review_id: int) -> list[dict[str, Any]]:
    """Tickets opened and closed per month, from the review's PSA export; none when the
    stored export cannot be read back (`xbr evidence list` names it)."""
    try:
        rows = session.scalar(
            select(EvidenceSet.rows).where(
                EvidenceSet.review_id == review_id, EvidenceSet.source == Source.TICKETS.value
            )
        )
        opened = Counter(r["opened"][:7] for r in rows or [])
        closed = Counter(r["closed"][:7] for r in rows or [] if r.get("closed"))
    except (ValueError, TypeError, KeyError):
        return []
    return [
        {"month": m, "opened": opened[m], "closed": closed[m]}
        for m in sorted(set(opened) | set(closed))
    ]


def _tickets_in_play(
    session: Session, review: Review, findings: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """This review's tickets and every ticket of the client still open, oldest first; a ticket
    from an earlier review counts as recurring."""
    linked = {f["ticket"]["id"]: f["recurring"] for f in findings if f["ticket"]}
    rows = session.scalars(
        select(FollowUpTicket)
        .where(FollowUpTicket.client_id == review.client_id)
        .where(or_(FollowUpTicket.status == "open", FollowUpTicket.id.in_(linked)))
        .order_by(FollowUpTicket.id)
    )
    return [ticket_row(t, linked.get(t.id, t.review_id != review.id)) for t in rows]


def report_data(uow: UnitOfWork, review_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Everything the agenda, the summary and the report show about one review."""
    with uow:
        session = uow.session
        review = load_review(session, review_id)
        template = review_template(review)
        findings = findings_of(session, review.id)
        tickets = _tickets_in_play(session, review, findings)
        presenters = people_for(session, review.client_id, "vcio") or people_for(
            session, review.client_id, "account_manager"
        )
        return {
            "review": {
                "id": review.id,
                "name": review_name(review),
                "client": review.client.name,
                "type": review.type,
                "title": template.title,
                "status": review.status,
                "period": review.period,
                "meeting_at": review.meeting_at.isoformat() if review.meeting_at else None,
                "timezone": review.client.timezone,
            },
            "generated_at": (now or utcnow()).isoformat(),
            **scorecard(session, review),
            "findings": findings,
            "tickets": tickets,
            "ticket_volume": ticket_volume(session, review.id),
            "feedback": review.feedback,
            "contacts": [p.name for p in people_for(session, review.client_id, "client_contact")],
            "presenter": presenters[0].name if presenters else None,
        }


def client_tickets(uow: UnitOfWork, client_id: int | None = None) -> list[dict[str, Any]]:
    """Follow-up tickets, newest first (of one client, or all)."""
    with uow:
        query = select(FollowUpTicket).order_by(FollowUpTicket.id.desc())
        if client_id is not None:
            query = query.where(FollowUpTicket.client_id == client_id)
        return [ticket_row(t) for t in uow.session.scalars(query)]


def evidence_of(uow: UnitOfWork, review_id: int) -> list[dict[str, Any]]:
    """The evidence a review holds, by source (without the rows)."""
    with uow:
        load_review(uow.session, review_id)
        return stored_sets(uow.session, review_id)


def ticket_by_id(uow: UnitOfWork, ticket_id: int) -> dict[str, Any]:
    """One follow-up ticket."""
    with uow:
        ticket = uow.session.get(FollowUpTicket, ticket_id)
        if ticket is None:
            raise NotFound(f"unknown ticket {ticket_id}; see `xbr ticket list`")
        return ticket_row(ticket)
