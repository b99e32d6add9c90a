"""Read models of an assessment: the scorecard against the baseline, findings, tickets, volume.

`report_data` is the one dict the agenda, the client summary, the flow run's artifacts and the
HTML report are rendered from.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from states.calendar.business_days import local_date, zone
from states.directory import client_by_name, people_for
from states.errors import NotFound
from states.lifecycle.decisions import load_review
from states.lifecycle.schedule import review_template
from states.read.client_plan import ClientPlan, client_plan
from states.read.plan_progress import last_plan, plan_outlook
from states.read.ticket_volume import ticket_volume
from states.read.views import review_name
from states.staging.assessment import NIST_CSF, Category, color
from states.staging.doubts import stored_sets
from states.standards.answers import AnswerSource, ItemState
from states.standards.scoring import (
    Scored,
    answer_findings,
    disposition,
    scored,
    scored_all,
    why,
)
from states.store.db import UnitOfWork
from states.store.models import (
    Assessment,
    FollowUpTicket,
    ItemAnswer,
    Review,
    ReviewFinding,
    utcnow,
)
from states.templates.schema import Template

SEVERITY_ORDER = {"red": 0, "amber": 1}


def _named(session: Session, review_id: int | None) -> dict[str, Any] | None:
    review = session.get(Review, review_id) if review_id is not None else None
    if review is None:
        return None
    return {"review_id": review.id, "name": review_name(review), "period": review.period}


def assessed_reviews(session: Session, client_id: int) -> list[int]:
    """The client's reviews with an assessment (evidence assessed, or items answered), oldest
    first: the first is its baseline."""
    return list(session.scalars(_assessed(client_id, Review.id)))


def _assessed(client_id: int, *columns: Any) -> Select[Any]:
    answered = select(ItemAnswer.review_id).where(ItemAnswer.client_id == client_id)
    checked = select(Assessment.review_id).where(Assessment.client_id == client_id)
    return (
        select(*columns)
        .where(Review.client_id == client_id)
        .where(or_(Review.id.in_(answered), Review.id.in_(checked)))
        .order_by(Review.created_at, Review.id)
    )


def baseline_review(session: Session, review: Review) -> int | None:
    """The client's first assessed review (this one, when it is the first)."""
    ids = assessed_reviews(session, review.client_id)
    return ids[0] if ids else None


def _before(session: Session, review: Review, assessed: list[int] | None = None) -> list[int]:
    """The client's assessed reviews before this one, oldest first (`assessed`: all of them,
    when the caller has read them already)."""
    ids = assessed_reviews(session, review.client_id) if assessed is None else assessed
    return ids[: ids.index(review.id)] if review.id in ids else [i for i in ids if i < review.id]


Memo = dict[int, Scored]


def _scored(session: Session, review_id: int, memo: Memo) -> Scored:
    """A review's scorecard, scored once per read (the baseline, the previous review and the
    history ask for the same reviews)."""
    if review_id not in memo:
        memo[review_id] = scored(session, load_review(session, review_id))
    return memo[review_id]


def _framework_rows(
    now: Scored, base: Scored | None, prev: Scored | None
) -> dict[str, dict[str, dict[str, Any]]]:
    def share(found: Scored | None, name: str, group: str) -> int | None:
        return found.frameworks.get(name, {}).get(group, {}).get("score") if found else None

    return {
        name: {
            group: {
                **counts,
                "baseline": share(base, name, group),
                "previous": share(prev, name, group),
            }
            for group, counts in groups.items()
        }
        for name, groups in now.frameworks.items()
    }


def scorecard(
    session: Session, review: Review, memo: Memo | None = None, assessed: list[int] | None = None
) -> dict[str, Any]:
    """Per category: score (evidence and answers), risk, baseline, previous, the change since
    each and why; per framework group: the share of answered items met."""
    memo = {} if memo is None else memo
    now = _scored(session, review.id, memo)
    earlier = _before(session, review, assessed)
    base_id, prev_id = (earlier[0], earlier[-1]) if earlier else (None, None)
    base = _scored(session, base_id, memo) if base_id is not None else None
    prev = _scored(session, prev_id, memo) if prev_id is not None else None
    since_base, since_prev = why(now, base), why(now, prev)
    rows = []
    for category in Category:
        part = now.categories[category.value]
        value = part.score
        was = base.categories[category.value].score if base else None
        before = prev.categories[category.value].score if prev else None
        rows.append(
            {
                "category": category.value,
                "label": category.label,
                "score": value,
                "color": color(value),
                "baseline": was,
                "previous": before,
                "change": value - was if value is not None and was is not None else None,
                "nist": list(NIST_CSF[category]),
                "risk": now.risk[category.value],
                "items_met": part.items_met,
                "items_total": part.items_total,
                "evidence_score": part.evidence,
                "answers_score": part.answers,
                "change_previous": (
                    value - before if value is not None and before is not None else None
                ),
                "why": {
                    "previous": since_prev[category.value],
                    "baseline": since_base[category.value],
                },
            }
        )
    return {
        "assessed": bool(now.answers) or session.get(Assessment, review.id) is not None,
        "baseline": _named(session, base_id),
        "previous": _named(session, prev_id),
        "scorecard": rows,
        "frameworks": _framework_rows(now, base, prev),
        "questionnaire": progress(now.items),
        "answer_findings": _answer_finding_rows(now, prev),
    }


def history(
    session: Session, review: Review, memo: Memo | None = None, assessed: list[int] | None = None
) -> list[dict[str, Any]]:
    """The client's assessed reviews up to this one, oldest first: each one's scores, risk
    levels and framework groups (a line per category on the report's trend chart)."""
    memo = {} if memo is None else memo
    assessed = assessed_reviews(session, review.client_id) if assessed is None else assessed
    upto = [*_before(session, review, assessed), review.id]
    if review.id not in assessed:
        upto.pop()
    return [_history_row(session, load_review(session, i), memo) for i in upto]


def score_history(uow: UnitOfWork, client_name: str) -> dict[str, Any]:
    """Every assessed review of a client, oldest first: per category its score and risk
    level, per framework group its items met (`xbr scorecard CLIENT --history`)."""
    with uow:
        session = uow.session
        client = client_by_name(session, client_name)
        reviews = [load_review(session, i) for i in assessed_reviews(session, client.id)]
        memo: Memo = {}
        rows = [_history_row(session, r, memo) for r in reviews]
        return {"client": client.name, "reviews": rows}


def _history_row(session: Session, review: Review, memo: Memo) -> dict[str, Any]:
    found = _scored(session, review.id, memo)
    return {
        "review_id": review.id,
        "name": review_name(review),
        "period": review.period,
        "scores": {name: part.score for name, part in found.categories.items()},
        "risk": dict(found.risk),
        "frameworks": found.frameworks,
    }


def _answer_finding_rows(now: Scored, prev: Scored | None) -> list[dict[str, Any]]:
    """People's not met and partial answers, as findings beside the checks' ones."""
    states = {s.key: s for s in now.items}
    rows = []
    for mark in answer_findings(s for s in now.items if s.settled):
        state = states[mark.key]
        was = prev.answers.get(mark.key) if prev else None
        rows.append(
            {
                "key": mark.key,
                "check": f"standard:{state.standard.name}",
                "category": mark.category,
                "category_label": Category(mark.category).label,
                "severity": mark.severity,
                "title": mark.title,
                "detail": state.note,
                "disposition": disposition(state),
                "recurring": was is not None and was.answer in ("not_met", "partial"),
                "owner_role": None,
                "evidence_count": 0,
                "ticket": None,
            }
        )
    return rows


def progress(items: list[ItemState]) -> dict[str, int]:
    """How far the questionnaire is: items, answered (by people, by evidence), carried
    proposals, and required items still open."""
    return {
        "items": len(items),
        "answered": sum(s.settled for s in items),
        "by_people": sum(s.source is AnswerSource.PERSON for s in items),
        "by_evidence": sum(s.source is AnswerSource.EVIDENCE for s in items),
        "carried": sum(s.source is AnswerSource.CARRIED for s in items),
        "open_required": sum(s.open_required for s in items),
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
    return _red_first(found)


def _red_first(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(found, key=lambda f: (SEVERITY_ORDER[f["severity"]], f["category"], f["key"]))


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


def report_data(
    uow: UnitOfWork, review_id: int, now: datetime | None = None, currency: str = "USD"
) -> dict[str, Any]:
    """Everything the agenda, the summary and the report show about one review; the plan's
    money in `currency` (the installation's, XBR_CURRENCY)."""
    with uow:
        return read_report(uow.session, load_review(uow.session, review_id), now, currency)


def read_report(
    session: Session,
    review: Review,
    now: datetime | None = None,
    currency: str = "USD",
    read: Read | None = None,
) -> dict[str, Any]:
    """`report_data` in the caller's transaction, with what it has `read` of the review."""
    read = read or Read()
    template = read.template or review_template(review)
    scores = read.scores or report_scores(session, review, template)
    memo, assessed = scores.memo, scores.assessed
    card = scorecard(session, review, memo, assessed)
    findings = findings_of(session, review.id)
    tickets = _tickets_in_play(session, review, findings)
    findings = _red_first([*findings, *card.pop("answer_findings")])
    presenters = people_for(session, review.client_id, "vcio") or people_for(
        session, review.client_id, "account_manager"
    )
    data = {
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
        **card,
        "history": history(session, review, memo, assessed),
        "findings": findings,
        "tickets": tickets,
        "ticket_volume": ticket_volume(session, review.id),
        "feedback": review.feedback,
        "contacts": [p.name for p in people_for(session, review.client_id, "client_contact")],
        "presenter": presenters[0].name if presenters else None,
        "last_plan": last_plan(session, review, memo),
    }
    today = (now or utcnow()).date()
    plan = read.plan or client_plan(session, review.client)
    return {**data, **plan_outlook(plan, currency, today)}


@dataclass(frozen=True)
class Scores:
    """A review's scorecard and those of the client's assessed reviews before it (its
    baseline, its previous one, its history), scored together; with the assessed reviews,
    held while a report is made of them (the session keeps only the rows someone holds)."""

    review_id: int
    assessed: list[int]  # the client's assessed reviews, oldest first
    held: list[Review]
    memo: Memo

    @property
    def now(self) -> Scored:
        """The review's own scorecard, with its questionnaire."""
        return self.memo[self.review_id]


def report_scores(session: Session, review: Review, template: Template | None = None) -> Scores:
    """The scorecards a report of the review shows (`template`: the review's, if parsed)."""
    held = list(session.scalars(_assessed(review.client_id, Review)))
    assessed = [r.id for r in held]
    earlier = set(_before(session, review, assessed))
    wanted = [review, *(r for r in held if r.id in earlier)]
    template = template or review_template(review)
    # those opened on the same template as this one are scored with it, parsed once
    same = {r.id: template for r in wanted if r.template_snapshot == review.template_snapshot}
    return Scores(review.id, assessed, held, scored_all(session, wanted, same))


@dataclass(frozen=True)
class Read:
    """What the caller has read of a review already, for `read_report` not to read it again:
    its template, its scorecards (with its questionnaire) and its client's plan."""

    template: Template | None = None
    scores: Scores | None = None
    plan: ClientPlan | None = None


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
