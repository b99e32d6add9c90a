"""What a phase produced, for whoever decides its gate: the approval email and the approval page
show the same selection, each list cut to its first few items and a count of the rest.

Staging: its findings (red first, new or recurring), the tickets it opened, the questionnaire's
unmet items and the scorecard against the baseline. Prep: the report's data (the page renders
its agenda), the roadmap and the budget by quarter. Delivery: the client's feedback. Follow-up:
the review's tickets and the client's next review.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from states.lifecycle.decisions import load_review
from states.lifecycle.machine import Phase
from states.plans.money import display_amount, total
from states.read.scorecards import read_report, ticket_row
from states.standards.answering import Access, access_of
from states.standards.answers import ItemState, questionnaire
from states.standards.schema import Answer
from states.store.db import UnitOfWork
from states.store.models import FollowUpTicket, Review
from states.templates.schema import Template

LISTED = 5  # items of a list shown in full; an email with more stays readable
QUARTERS = 4  # budget quarters shown
PHASES = (Phase.STAGING, Phase.PREP, Phase.DELIVERY, Phase.FOLLOW_UP)
UNMET = {Answer.NOT_MET: "Not met", Answer.PARTIAL: "Partial"}
FEEDBACK = (
    ("better", "What we can do better"),
    ("next_meeting", "When to meet again"),
    ("referrals", "Who else would benefit"),
    ("review_request", "Would give us a review"),
)


@dataclass(frozen=True)
class Listed:
    """The first items of a list and how many it has in all."""

    shown: list[dict[str, Any]]
    total: int

    @property
    def more(self) -> int:
        """How many the list leaves out."""
        return self.total - len(self.shown)


def listed(rows: Sequence[dict[str, Any]], limit: int = LISTED) -> Listed:
    """The first `limit` rows, and the count of all."""
    return Listed(list(rows[:limit]), len(rows))


@dataclass(frozen=True)
class GateEvidence:
    """What the phase produced; a section is None where the phase has none of it."""

    review_id: int
    phase: str
    findings: Listed | None = None
    red: int = 0
    recurring: int = 0
    tickets: Listed | None = None
    earlier_tickets: int = 0  # staging: still open from earlier reviews
    still_open: int = 0  # follow-up: of this review's tickets
    unmet: Listed | None = None
    open_required: int = 0
    scorecard: list[dict[str, Any]] = field(default_factory=list)
    baseline: str | None = None
    roadmap: Listed | None = None
    budget: list[dict[str, str]] = field(default_factory=list)
    report: dict[str, Any] | None = None  # report_data, for the prep agenda
    discussion: int = 0  # the agenda's discussion items
    recommendations: int = 0
    feedback: list[tuple[str, str]] | None = None
    next_review: dict[str, Any] | None = None


def gate_evidence(
    uow: UnitOfWork,
    review_id: int,
    reader: str,
    currency: str = "USD",
    data: dict[str, Any] | None = None,
) -> GateEvidence | None:
    """What the review's current phase produced, as `reader` may see it (the questionnaire's
    notes only for who may read its answers); None for a phase without a gate to show it.
    `data`: the review's `report_data` in `currency`, when the caller has read it already."""
    with uow:
        review = load_review(uow.session, review_id)
        return evidence_of(uow.session, review, reader, currency, data)


def evidence_of(
    session: Session,
    review: Review,
    reader: str,
    currency: str = "USD",
    data: dict[str, Any] | None = None,
    items: list[ItemState] | None = None,
    template: Template | None = None,
) -> GateEvidence | None:
    """`gate_evidence` in the caller's transaction; `items` (the review's questionnaire) and
    `template` (its template), when the caller has read them already."""
    phase = review.status
    if phase == Phase.STAGING:
        data = data or read_report(session, review, currency=currency)
        items = questionnaire(session, review) if items is None else items
        notes = access_of(session, review, reader, template) is not Access.NONE
        return _staging(review.id, data, items, notes)
    if phase == Phase.PREP:
        return _prep(review.id, data or read_report(session, review, currency=currency))
    if phase == Phase.DELIVERY:
        return _delivery(review)
    if phase == Phase.FOLLOW_UP:
        return _follow_up(session, review)
    return None


def _staging(
    review_id: int, data: dict[str, Any], items: list[ItemState], notes: bool
) -> GateEvidence:
    found = [f for f in data["findings"] if not f["check"].startswith("standard:")]
    opened = [t for t in data["tickets"] if t["review_id"] == review_id]
    baseline = data["baseline"]
    compared = baseline is not None and baseline["review_id"] != review_id
    unmet = [
        {"key": s.key, "id": s.item.id, "question": s.item.question,
         "note": s.note if notes else "", "answer": UNMET[s.answer]}
        for s in items if s.settled and s.answer in UNMET
    ]  # fmt: skip
    return GateEvidence(
        review_id,
        Phase.STAGING,
        findings=listed(found),
        red=sum(f["severity"] == "red" for f in found),
        recurring=sum(bool(f["recurring"]) for f in found),
        tickets=listed(opened),
        earlier_tickets=sum(t["status"] == "open" for t in data["tickets"]) - len(opened),
        unmet=listed(unmet),
        open_required=sum(s.open_required for s in items),
        scorecard=[_score(row, compared) for row in data["scorecard"]],
        baseline=baseline["name"] if compared else None,
    )


def _score(row: dict[str, Any], compared: bool) -> dict[str, Any]:
    change = row["change"] if compared else None
    return {
        "label": row["label"],
        "score": row["score"],
        "color": row["color"],
        "change": change,
        "change_text": "" if change is None else f"{change:+d}" if change else "±0",
    }


def _prep(review_id: int, data: dict[str, Any]) -> GateEvidence:
    money = data["budget"]["currency"]
    roadmap = [
        {**i, "cost": _cost(i, money)}
        for i in data["roadmap"]
        if i["status"] in ("proposed", "deferred", "approved", "in_progress")
    ]
    quarters = [_quarter(q, money) for q in data["budget"]["quarters"]]
    planned = [q for q in quarters if q["any"]][:QUARTERS]
    return GateEvidence(review_id, Phase.PREP, roadmap=listed(roadmap), budget=planned, report=data)


def _cost(initiative: dict[str, Any], currency: str) -> str:
    one_time, monthly = Decimal(initiative["one_time"]), Decimal(initiative["monthly"])
    text = display_amount(one_time, currency)
    return f"{text} + {display_amount(monthly, currency)} a month" if monthly else text


def _quarter(quarter: dict[str, Any], currency: str) -> dict[str, Any]:
    """A quarter's totals over one-time, recurring and hardware: approved and proposed."""
    parts = ("one_time", "recurring", "hardware")
    approved = total(Decimal(quarter[p]["approved"]) for p in parts)
    proposed = total(Decimal(quarter[p]["proposed"]) for p in parts)
    return {
        "quarter": quarter["quarter"],
        "approved": display_amount(approved, currency),
        "proposed": display_amount(proposed, currency),
        "total": display_amount(approved + proposed, currency),
        "any": bool(approved or proposed),
    }


def _delivery(review: Review) -> GateEvidence:
    given = review.feedback or {}
    answers = [(label, str(given[k])) for k, label in FEEDBACK if given.get(k)]
    return GateEvidence(review.id, Phase.DELIVERY, feedback=answers)


def _follow_up(session: Session, review: Review) -> GateEvidence:
    tickets = session.scalars(
        select(FollowUpTicket)
        .where(FollowUpTicket.review_id == review.id)
        .order_by(FollowUpTicket.status != "open", FollowUpTicket.id)
    )
    rows = [ticket_row(t) for t in tickets]
    after = session.scalar(
        select(Review)
        .where(Review.client_id == review.client_id, Review.type == review.type)
        .where(Review.id > review.id, Review.status != "cancelled")
        .order_by(Review.id)
        .limit(1)
    )
    return GateEvidence(
        review.id,
        Phase.FOLLOW_UP,
        tickets=listed(rows),
        still_open=sum(t["status"] == "open" for t in rows),
        next_review=_next(after) if after else None,
    )


def _next(review: Review) -> dict[str, Any]:
    meeting: datetime | None = review.meeting_at
    return {
        "id": review.id,
        "name": review.name,
        "status": review.status,
        "meeting_at": meeting.isoformat() if meeting else None,
    }
