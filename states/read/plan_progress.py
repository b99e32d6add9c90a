"""The plan as a review shows it: how the initiatives the client approved at its last review
fared (status, cost against budget, the score of the category each addresses since then), its
open roadmap and its budget by fiscal quarter.

The last review's plan is that of the client's latest earlier review that proposed initiatives.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from states.lifecycle.decisions import load_review
from states.plans.initiatives import OPEN, Status
from states.read.client_plan import ClientPlan
from states.read.plans import APPROVED, initiative_view
from states.staging.assessment import Category
from states.standards.scoring import Scored, scored
from states.store.models import Initiative, Review

BUDGET_YEARS = 3
# how an initiative's status reads after its title: "since EDR rollout was done"
SINCE = {
    Status.APPROVED: "was approved",
    Status.IN_PROGRESS: "was started",
    Status.DONE: "was done",
}


def plan_review(session: Session, review: Review) -> int | None:
    """The id of the client's latest review before this one that proposed initiatives."""
    proposing = select(Initiative.review_id).where(Initiative.client_id == review.client_id)
    earlier = session.execute(
        select(Review.id, Review.created_at)
        .where(Review.client_id == review.client_id, Review.id != review.id)
        .where(Review.id.in_(proposing))
        .where(Review.created_at <= review.created_at)
        .order_by(Review.created_at.desc(), Review.id.desc())
    )
    mine = (review.created_at, review.id)
    return next((i for i, created in earlier if (created, i) < mine), None)


def last_plan(
    session: Session, review: Review, memo: dict[int, Scored] | None = None
) -> list[dict[str, Any]]:
    """The initiatives the client approved at its last review, each with its status, quarter,
    budget (one-time, monthly), actual cost and its category's score then and now."""
    before = plan_review(session, review)
    if before is None:
        return []
    memo = {} if memo is None else memo
    for review_id in (before, review.id):
        if review_id not in memo:
            memo[review_id] = scored(session, load_review(session, review_id))
    then, now = memo[before], memo[review.id]
    rows = session.scalars(
        select(Initiative)
        .where(Initiative.review_id == before)
        .where(Initiative.status.in_([s.value for s in APPROVED]))
        .options(selectinload(Initiative.costs))
        .order_by(Initiative.id)
    )
    return [_progress(initiative, before, then, now) for initiative in rows]


def _progress(initiative: Initiative, before: int, then: Scored, now: Scored) -> dict[str, Any]:
    view = initiative_view(initiative).to_json()
    category = Category(initiative.category)
    was = then.categories[category.value].score
    score = now.categories[category.value].score
    status = Status(initiative.status)
    return {
        **{k: view[k] for k in ("id", "title", "status", "quarter", "one_time", "monthly")},
        "actual": view["actual"],
        "category": category.value,
        "category_label": category.label,
        "review_id": before,
        "score_then": was,
        "score_now": score,
        "change": score - was if score is not None and was is not None else None,
        "progress": _sentence(category.label, was, score, initiative.title, SINCE[status]),
    }


def _sentence(label: str, was: int | None, score: int | None, title: str, since: str) -> str:
    """Endpoint protection 40 → 95 since EDR rollout was done."""
    then, now = ("not assessed" if v is None else str(v) for v in (was, score))
    return f"{label} {then} → {now} since {' '.join(title.split())} {since}"


def plan_outlook(plan: ClientPlan, currency: str, today: date) -> dict[str, Any]:
    """What `report_data` shows of the plan ahead: the client's open initiatives (its roadmap)
    and its budget for three fiscal years from `today`."""
    return {
        "roadmap": [v.to_json() for v in plan.roadmap.initiatives if Status(v.status) in OPEN],
        "budget": plan.budget(currency, BUDGET_YEARS, today).to_json(),
    }
