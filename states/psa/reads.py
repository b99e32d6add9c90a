"""What the PSA is told of a review, a follow-up ticket and an initiative, read in one short
transaction each: plain values, no rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select

from states.errors import NotFound
from states.lifecycle.machine import OPEN_PHASES, Phase
from states.read.plans import initiative_view
from states.store.db import UnitOfWork
from states.store.models import FollowUpTicket, Initiative, Review

FOLLOW_UP = "Follow-up - "  # how xbr names a follow-up ticket; the PSA's start "BTR Follow-up - "


@dataclass(frozen=True)
class MirroredTask:
    """A task of the review: its title, its place, and whether it is done (or skipped)."""

    id: int
    title: str
    position: int
    done: bool


@dataclass(frozen=True)
class MirroredReview:
    """A review as its PSA ticket shows it."""

    id: int
    company: str | None
    summary: str
    status: str
    meeting_at: datetime | None
    budget_hours: float
    actual_hours: float
    tasks: list[MirroredTask]  # those of the phases it has reached


@dataclass(frozen=True)
class MirroredTicket:
    """A follow-up ticket as the PSA's ticket shows it."""

    id: int
    company: str | None
    summary: str
    detail: str
    severity: str
    due_at: datetime | None
    closed: bool


@dataclass(frozen=True)
class MirroredInitiative:
    """An approved initiative as the PSA's opportunity shows it: its first year's value."""

    id: int
    company: str | None
    name: str
    why: str
    amount: Decimal
    close_on: date | None


def review(uow: UnitOfWork, review_id: int) -> MirroredReview:
    """The review, with the tasks of the phases it has reached (a phase's tasks go to the PSA
    when the review gets there)."""
    with uow.reading():
        row = uow.session.get(Review, review_id)
        if row is None:
            raise NotFound(f"unknown review {review_id}")
        reached = _reached(row.status)
        tasks = [
            MirroredTask(t.id, t.title, t.position, t.status != "open")
            for t in sorted(row.tasks, key=lambda t: t.position)
            if t.phase in reached
        ]
        return MirroredReview(
            id=row.id,
            company=row.client.psa_company,
            summary=f"{row.type.upper()} {row.period.upper()} - {row.client.name}",
            status=row.status,
            meeting_at=row.meeting_at,
            budget_hours=row.budget_hours,
            actual_hours=row.actual_hours,
            tasks=tasks,
        )


def ticket(uow: UnitOfWork, ticket_id: int) -> MirroredTicket:
    """The follow-up ticket; its summary as the PSA's follow-ups start: BTR Follow-up - ..."""
    with uow.reading():
        row = uow.session.scalar(select(FollowUpTicket).where(FollowUpTicket.id == ticket_id))
        if row is None:
            raise NotFound(f"unknown ticket {ticket_id}")
        title = row.title.removeprefix(FOLLOW_UP)
        return MirroredTicket(row.id, row.client.psa_company, f"BTR Follow-up - {title}",
                              row.detail or "", row.severity, row.due_at,
                              row.status != "open")  # fmt: skip


def initiative(uow: UnitOfWork, initiative_id: int) -> MirroredInitiative:
    """The initiative: one-time costs and a year of its monthly ones; closing by the end of
    its quarter."""
    with uow.reading():
        row = uow.session.get(Initiative, initiative_id)
        if row is None:
            raise NotFound(f"unknown initiative {initiative_id}")
        view = initiative_view(row)
        close_on = None
        if row.quarter_start is not None:
            month = row.quarter_start.month + 2
            year = row.quarter_start.year + (month - 1) // 12
            close_on = _month_end(year, (month - 1) % 12 + 1)
        return MirroredInitiative(row.id, row.client.psa_company, row.title, row.why or "",
                                  view.one_time + 12 * view.monthly, close_on)  # fmt: skip


def _reached(status: str) -> set[str]:
    if status not in {p.value for p in OPEN_PHASES}:
        return {p.value for p in OPEN_PHASES}  # closed or cancelled: every task
    index = OPEN_PHASES.index(Phase(status))
    return {p.value for p in OPEN_PHASES[: index + 1]}


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return date.fromordinal(following.toordinal() - 1)
