"""The review board: a column per open phase with its count against the WIP limit, and its
first cards (soonest meetings) with their owners and overdue marks (`xbr board`, the board page
and the web app's board)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from states.directory import people_for, read_client_roles
from states.lifecycle.machine import OPEN_PHASES
from states.lifecycle.schedule import review_template
from states.read.views import review_summary
from states.store.db import UnitOfWork
from states.store.models import Review, ReviewTask
from states.templates.schema import BOARD_DEFAULTS, Template

# Cards per column on the board: the earliest meetings; the column's count covers the rest.
CARDS = 25


def board(uow: UnitOfWork, now: datetime, cards: int | None = CARDS) -> list[dict[str, Any]]:
    """One column per open phase: its count against the WIP limit, how many are stale or wait
    in its queue, and its first `cards` cards by meeting date (all with None). Counted in SQL,
    so the board costs the same with ten open reviews or twenty thousand."""
    open_phases = [p.value for p in OPEN_PHASES]
    with uow:
        session = uow.session
        counts = _count_by(session, Review.status, Review.status.in_(open_phases))
        stale = _count_by(
            session, Review.status, Review.status.in_(open_phases), Review.age_warning_at <= now
        )
        queued = _count_by(session, Review.queued_for, Review.queued_for.is_not(None))
        columns = []
        shown = {phase: _first_cards(session, phase.value, cards) for phase in OPEN_PHASES}
        # whose each card is: every card's client's people read in one query
        read_client_roles(session, list({r.client_id for rs in shown.values() for r in rs}))
        templates: Templates = {}
        for phase in OPEN_PHASES:
            reviews = shown[phase]
            overdue = _overdue_tasks(session, [r.id for r in reviews], now)
            defaults = BOARD_DEFAULTS[phase]
            count = counts.get(phase.value, 0)
            columns.append(
                {
                    "phase": phase.value,
                    "count": count,
                    "wip_limit": defaults.get("wip_limit"),
                    "wip_minimum": defaults.get("wip_minimum"),
                    "age_warnings": stale.get(phase.value, 0),
                    "queued": queued.get(phase.value, 0),
                    "more": count - len(reviews),
                    "cards": [
                        _card(r, now, overdue.get(r.id, []), _owners(session, r, templates))
                        for r in reviews
                    ],
                }
            )
        return columns


def _first_cards(session: Any, status: str, cards: int | None) -> list[Review]:
    """The column's first cards: meetings soonest first, then those without a date. Two
    queries, each read in the order of an index, so a column of 10,000 is not sorted whole."""
    in_column = select(Review).where(Review.status == status)
    dated = in_column.where(Review.meeting_at.is_not(None)).order_by(Review.meeting_at)
    found = list(session.scalars(dated.limit(cards)))
    if cards is None or len(found) < cards:
        undated = in_column.where(Review.meeting_at.is_(None)).order_by(Review.id)
        rest = None if cards is None else cards - len(found)
        found += session.scalars(undated.limit(rest))
    return found


def _count_by(session: Any, column: Any, *where: Any) -> dict[str, int]:
    rows = session.execute(select(column, func.count()).where(*where).group_by(column))
    return {key: count for key, count in rows}


def _overdue_tasks(session: Any, review_ids: list[int], now: datetime) -> dict[int, list[str]]:
    """review id -> keys of its open tasks past their due date."""
    rows = session.execute(
        select(ReviewTask.review_id, ReviewTask.key)
        .where(ReviewTask.review_id.in_(review_ids))
        .where(ReviewTask.status == "open", ReviewTask.due_at < now)
        .order_by(ReviewTask.review_id, ReviewTask.position)
    )
    found: dict[int, list[str]] = {}
    for review_id, key in rows:
        found.setdefault(review_id, []).append(key)
    return found


# template name -> the snapshots of it seen, each with its validated template
Templates = dict[str, list[tuple[dict[str, Any], Template]]]


def _owners(session: Session, review: Review, templates: Templates) -> list[str]:
    """The names of who holds the review's current phase: its accountable role's people."""
    known = templates.setdefault(review.template, [])
    # snapshots rarely differ between reviews of one template: validate each kind once
    snapshot = review.template_snapshot
    template = next((t for seen, t in known if seen == snapshot), None)
    if template is None:
        template = review_template(review)
        known.append((snapshot, template))
    role = template.phase(review.status).raci.accountable
    return [p.name for p in people_for(session, review.client_id, role)]


def _card(review: Review, now: datetime, overdue: list[str], owners: list[str]) -> dict[str, Any]:
    age_days = (now - review.phase_entered_at).total_seconds() / 86400
    return {
        **review_summary(review).to_json(),
        "zone": review.client.timezone,
        "age_days": round(age_days, 1),
        "age_warning": review.age_warning_at is not None and review.age_warning_at <= now,
        "queued_for": review.queued_for,
        "overdue_tasks": overdue,
        "owners": owners,
    }
