"""Lean metrics of the review process: lead time, cycle time per phase, throughput per ISO week
against a goal, work in progress at the end of each day (a cumulative flow diagram's data) and
budget against actual hours. Pure functions over small records; `metrics` reads the records."""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from itertools import pairwise
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from states.calendar.business_days import zone
from states.errors import InvalidInput
from states.lifecycle.machine import OPEN_PHASES, Phase
from states.read.views import review_name
from states.settings import Settings
from states.store.db import UnitOfWork
from states.store.models import AuditEntry, Review

DAY = timedelta(days=1)


@dataclass(frozen=True)
class Step:
    """A phase change: the review entered `to_state` at `at` (`from_state` None: it opened)."""

    at: datetime
    from_state: str | None
    to_state: str


@dataclass(frozen=True)
class ReviewFacts:
    """What the metrics need of one review; `steps` are its phase changes in time order."""

    id: int
    name: str
    status: str
    created_at: datetime
    closed_at: datetime | None
    budget_hours: float
    actual_hours: float
    steps: tuple[Step, ...]

    def moves(self) -> list[Step]:
        """The steps that changed the phase (a rejection stays where it was)."""
        return [s for s in self.steps if s.from_state != s.to_state]

    def needed_at(self) -> datetime:
        """When the review was identified as needed: its opening step, else its creation."""
        return next((s.at for s in self.moves() if s.to_state == Phase.NEEDED), self.created_at)


@dataclass(frozen=True)
class Window:
    """The days from `since` to `until`, both included, as the MSP's zone `tz` counts them."""

    since: date
    until: date
    tz: tzinfo = UTC

    def __post_init__(self) -> None:
        if self.since > self.until:
            raise InvalidInput(
                f"--since {self.since} is after --until {self.until}; give an earlier --since"
            )

    def day_start(self, day: date) -> datetime:
        return datetime.combine(day, time(), tzinfo=self.tz)

    @property
    def start(self) -> datetime:
        return self.day_start(self.since)

    @property
    def end(self) -> datetime:
        return self.day_start(self.until + DAY)

    def holds(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    def days(self) -> list[date]:
        return [self.since + n * DAY for n in range((self.until - self.since).days + 1)]

    def day_of(self, moment: datetime) -> date:
        return moment.astimezone(self.tz).date()


def msp_zone(settings: Settings) -> tzinfo:
    """The MSP's time zone (XBR_TIMEZONE, default UTC), which days and weeks are counted in."""
    return zone(settings.timezone)


def _days(span: timedelta) -> float:
    return span.total_seconds() / 86400


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def median(values: Sequence[float]) -> float | None:
    """The median, None for no values."""
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], pct: int) -> float | None:
    """The nearest-rank percentile: the smallest value that `pct`% of the values do not exceed."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(pct * len(ordered) / 100), 1) - 1]


def finished(reviews: Sequence[ReviewFacts], window: Window) -> list[ReviewFacts]:
    """The reviews closed within the window (a cancelled one never finished), oldest first."""
    done = [
        r
        for r in reviews
        if r.status == Phase.CLOSED and r.closed_at is not None and window.holds(r.closed_at)
    ]
    return sorted(done, key=lambda r: (r.closed_at, r.id))


def lead_time(reviews: Sequence[ReviewFacts], window: Window) -> dict[str, Any]:
    """Days from needed to closed of each review closed in the window; median and 85th pct."""
    spans = [
        (r, _days(r.closed_at - r.needed_at())) for r in finished(reviews, window) if r.closed_at
    ]
    values = [days for _, days in spans]
    return {
        "reviews": [
            {
                "id": r.id,
                "name": r.name,
                "needed_at": r.needed_at().isoformat(),
                "closed_at": r.closed_at.isoformat() if r.closed_at else None,
                "days": _round(days),
            }
            for r, days in spans
        ],
        "median_days": _round(median(values)),
        "p85_days": _round(percentile(values, 85)),
    }


def stays(review: ReviewFacts) -> Iterator[tuple[str, timedelta, datetime, str]]:
    """Each finished stay in a phase: the phase, how long, when it was left, and for where."""
    for here, after in pairwise(review.moves()):
        yield here.to_state, after.at - here.at, after.at, after.to_state


def cycle_time(reviews: Sequence[ReviewFacts], window: Window) -> list[dict[str, Any]]:
    """Per phase, the median days a review spent in it (all its stays added up, so a reopened
    follow-up counts twice), over the stays left within the window; a cancelled stay is no
    finished work and does not count."""
    spent: dict[str, list[float]] = defaultdict(list)
    for review in reviews:
        per_phase: dict[str, timedelta] = defaultdict(timedelta)
        for phase, span, left, dest in stays(review):
            if window.holds(left) and dest != Phase.CANCELLED:
                per_phase[phase] += span
        for phase, total in per_phase.items():
            spent[phase].append(_days(total))
    return [
        {
            "phase": p.value,
            "reviews": len(spent[p.value]),
            "median_days": _round(median(spent[p.value])),
        }
        for p in OPEN_PHASES
    ]


def _monday(day: date) -> date:
    return day - day.weekday() * DAY


def throughput(
    reviews: Sequence[ReviewFacts], window: Window, goal_per_week: float
) -> dict[str, Any]:
    """Reviews closed per ISO week of the window (weeks without any included) against the goal."""
    closed = Counter(
        _monday(window.day_of(r.closed_at)) for r in finished(reviews, window) if r.closed_at
    )
    first, last = _monday(window.since), _monday(window.until)
    mondays = [first + 7 * n * DAY for n in range((last - first).days // 7 + 1)]
    weeks = [
        {
            "week": "{}-W{:02d}".format(*m.isocalendar()[:2]),
            "monday": m.isoformat(),
            "closed": closed[m],
            "met": closed[m] >= goal_per_week,
        }
        for m in mondays
    ]
    total = sum(closed.values())
    return {
        "goal_per_week": goal_per_week,
        "closed": total,
        "per_week": _round(total * 7 / len(window.days())),
        "weeks_met": sum(w["met"] for w in weeks),
        "weeks": weeks,
    }


def phase_at(review: ReviewFacts, moment: datetime) -> str | None:
    """The phase the review was in just before `moment`; None before it was opened."""
    current = None
    for step in review.moves():
        if step.at >= moment:
            break
        current = step.to_state
    return current


def wip(reviews: Sequence[ReviewFacts], window: Window) -> list[dict[str, Any]]:
    """Open reviews per phase at the end of each day: the data of a cumulative flow diagram."""
    rows = []
    for day in window.days():
        counts = Counter(phase_at(r, window.day_start(day + DAY)) for r in reviews)
        rows.append({"day": day.isoformat(), **{p.value: counts[p.value] for p in OPEN_PHASES}})
    return rows


def _verdict(difference: float) -> str:
    return "over" if difference > 0 else "under" if difference < 0 else "on budget"


def hours(reviews: Sequence[ReviewFacts], window: Window) -> dict[str, Any]:
    """Budget against actual hours of each review closed in the window, and their sums."""
    done = finished(reviews, window)
    budget = sum(r.budget_hours for r in done)
    actual = sum(r.actual_hours for r in done)
    verdicts = Counter(_verdict(r.actual_hours - r.budget_hours) for r in done)
    return {
        "budget_hours": _round(budget),
        "actual_hours": _round(actual),
        "difference": _round(actual - budget),
        "over": verdicts["over"],
        "under": verdicts["under"],
        "reviews": [
            {
                "id": r.id,
                "name": r.name,
                "budget_hours": r.budget_hours,
                "actual_hours": r.actual_hours,
                "difference": _round(r.actual_hours - r.budget_hours),
                "verdict": _verdict(r.actual_hours - r.budget_hours),
            }
            for r in done
        ],
    }


def compute(
    reviews: Sequence[ReviewFacts], window: Window, goal_per_week: float = 1.0
) -> dict[str, Any]:
    """All the lean metrics of the reviews over the window (the `xbr metrics --json` contract)."""
    if not goal_per_week > 0:
        raise InvalidInput(f"--goal {goal_per_week:g} is no goal; give reviews a week above 0")
    return {
        "since": window.since.isoformat(),
        "until": window.until.isoformat(),
        "timezone": str(window.tz),
        "lead_time": lead_time(reviews, window),
        "cycle_time": cycle_time(reviews, window),
        "throughput": throughput(reviews, window, goal_per_week),
        "wip": wip(reviews, window),
        "hours": hours(reviews, window),
    }


def metrics(
    uow: UnitOfWork,
    since: date,
    until: date,
    goal_per_week: float,
    tz: tzinfo,
) -> dict[str, Any]:
    """The lean metrics from `since` to `until` (both included, days in `tz`, the MSP's zone)
    of every review that was open at some time in between."""
    window = Window(since, until, tz)
    with uow:
        facts = _read(uow.session, window)
    return compute(facts, window, goal_per_week)


def _read(session: Session, window: Window) -> list[ReviewFacts]:
    alive = (
        Review.created_at < window.end,
        or_(Review.closed_at.is_(None), Review.closed_at >= window.start),
    )
    reviews = session.scalars(select(Review).where(*alive).order_by(Review.id)).all()
    steps: dict[int, list[Step]] = defaultdict(list)
    for review_id, at, source, dest in session.execute(
        select(AuditEntry.review_id, AuditEntry.at, AuditEntry.from_state, AuditEntry.to_state)
        .join(Review, Review.id == AuditEntry.review_id)
        .where(*alive, AuditEntry.to_state.is_not(None))
        .where(AuditEntry.from_state.is_distinct_from(AuditEntry.to_state))
        .order_by(AuditEntry.review_id, AuditEntry.at, AuditEntry.id)
    ):
        steps[review_id].append(Step(at, source, dest))
    return [
        ReviewFacts(
            id=r.id,
            name=review_name(r),
            status=r.status,
            created_at=r.created_at,
            closed_at=r.closed_at,
            budget_hours=r.budget_hours,
            actual_hours=r.actual_hours,
            steps=tuple(steps[r.id]),
        )
        for r in reviews
    ]
