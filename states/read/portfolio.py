"""The portfolio: every active client on one line, with its last and next review, the trend of
its overall score and the budget it approved for the coming year; as a table and as CSV.

A review's overall score is its scorecard's average over the categories it scored (the
report's "Average score"), each category scored by `states.standards.scoring` from the
evidence's score and the answers people gave, as `scored()` scores it. The portfolio reads in
the same ten statements whatever the number of clients and reviews (the database ranks each
client's reviews), and scores the trends from answers read in bulk instead of reading one
questionnaire per review (about 5 ms each: 20 s for 1,000 clients with 4,000).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Subquery, exists, func, or_, select
from sqlalchemy.orm import Session, lazyload, load_only

from states.calendar.business_days import local_date, zone
from states.lifecycle.machine import SLOT_PHASES, Phase
from states.plans.money import format_amount, total
from states.read.plans import Budget, budgets
from states.read.views import ReadModel, review_name
from states.staging.assessment import Category
from states.standards.answers import AnswerSource, ItemState
from states.standards.pinning import pinned
from states.standards.schema import Answer, Standard
from states.standards.scoring import _category
from states.store.db import UnitOfWork
from states.store.models import WHILE_HELD, Assessment, Client, ItemAnswer, Review

CATEGORIES = [c.value for c in Category]
_ANSWERS = {a.value: a for a in Answer}
TREND = 4  # the assessed reviews a trend shows, the newest last
BUDGET_QUARTERS = 4  # the coming year: this fiscal quarter and the three after it


@dataclass(frozen=True, slots=True)
class ReviewRef(ReadModel):
    """A review as a portfolio line names it: when it closed (the last) or meets (the next)."""

    id: int
    name: str
    status: str
    at: datetime | None
    day: date | None  # that moment's day in the client's time zone


@dataclass(frozen=True, slots=True)
class ClientRow(ReadModel):
    """One client of the portfolio."""

    id: int
    name: str
    template: str
    cadence: str
    last: ReviewRef | None  # the most recently closed review
    next: ReviewRef | None  # the open review whose meeting comes first
    open_reviews: int  # open reviews not met yet (`next` is the first of them)
    opens_on: date | None  # none open: the day the account calendar opens the next one
    scores: tuple[int, ...]  # the overall score of its last assessed reviews, oldest first
    change: int | None  # the newest score less the one before it
    approved: Decimal  # what the client approved for the coming four fiscal quarters
    currency: str
    quarters: str  # those quarters, e.g. FY2027-Q2 to FY2028-Q1

    @property
    def score(self) -> int | None:
        """The newest overall score."""
        return self.scores[-1] if self.scores else None

    @property
    def current(self) -> ReviewRef | None:
        """The review a person looks at first: the open one, else the last."""
        return self.next or self.last


def portfolio(uow: UnitOfWork, now: datetime, currency: str) -> list[ClientRow]:
    """Every active client by name, with its last and next review, its score trend and its
    approved budget in `currency` for the four fiscal quarters from `now`'s (give `now` in
    the MSP's time zone: its date is the budget's today)."""
    # the budget's three queries, as `xbr budget --all` reads them (a transaction of its own)
    planned = {b.client: b for b in budgets(uow, currency, 1, now.date())}
    with uow:
        session = uow.session
        clients = list(session.scalars(select(Client).where(Client.active).order_by(Client.name)))
        upcoming = _first_reviews(session, _open_first(), 1)
        closed = _first_reviews(session, _closed_last(), 1)
        trends = _trends(session)
        return [
            _row(c, upcoming.get(c.id), closed.get(c.id), trends.get(c.id, ()),
                 planned.get(c.name), currency)
            for c in clients
        ]  # fmt: skip


def _row(
    client: Client,
    upcoming: tuple[list[Review], int] | None,
    closed: tuple[list[Review], int] | None,
    scores: tuple[int, ...],
    plan: Budget | None,
    currency: str,
) -> ClientRow:
    tz = zone(client.timezone)
    first = upcoming[0][0] if upcoming else None
    last = closed[0][0] if closed else None
    year = plan.quarters[:BUDGET_QUARTERS] if plan else []
    approved = (amount for q in year for amount in (q.one_time[0], q.recurring[0], q.hardware[0]))
    return ClientRow(
        id=client.id,
        name=client.name,
        template=client.template,
        cadence=client.cadence,
        last=_ref(last, last.closed_at, tz) if last else None,
        next=_ref(first, first.meeting_at, tz) if first else None,
        open_reviews=upcoming[1] if upcoming else 0,
        opens_on=client.next_review_on if client.next_review_on != WHILE_HELD else None,
        scores=scores,
        change=scores[-1] - scores[-2] if len(scores) > 1 else None,
        approved=total(approved),
        currency=currency,
        quarters=f"{year[0].quarter.label} to {year[-1].quarter.label}" if year else "",
    )


def _ref(review: Review, moment: datetime | None, tz: Any) -> ReviewRef:
    day = local_date(moment, tz) if moment else None
    return ReviewRef(review.id, review_name(review), review.status, moment, day)


Ranking = tuple[list[ColumnElement[bool]], list[Any]]  # which reviews, in what order


def _open_first() -> Ranking:
    """Open reviews whose meeting is still to come, the soonest first (undated after)."""
    where: list[ColumnElement[bool]] = [Review.status.in_([p.value for p in SLOT_PHASES])]
    return where, [Review.meeting_at.is_(None), Review.meeting_at, Review.id]


def _closed_last() -> Ranking:
    """Closed reviews, the most recently closed first."""
    where: list[ColumnElement[bool]] = [Review.status == Phase.CLOSED.value]
    return where, [Review.closed_at.is_(None), Review.closed_at.desc(), Review.id.desc()]


def _ranked(ranking: Ranking) -> Subquery:
    """Per active client, its reviews of `ranking` (id, rank, how many it has), ranked by the
    database whatever the number of reviews."""
    where, order = ranking
    return (
        select(
            Review.id.label("id"),
            func.row_number().over(partition_by=Review.client_id, order_by=order).label("rank"),
            func.count().over(partition_by=Review.client_id).label("count"),
        )
        .join(Client, Client.id == Review.client_id)
        .where(Client.active, *where)
        .subquery()
    )


# What a portfolio line reads of a review (its name needs its client, read already).
_NAMED = load_only(
    Review.id, Review.client_id, Review.type, Review.period, Review.status, Review.meeting_at,
    Review.closed_at,
)  # fmt: skip


def _first_reviews(
    session: Session, ranking: Ranking, keep: int
) -> dict[int, tuple[list[Review], int]]:
    """client id -> (its first `keep` reviews of `ranking` in that order, how many it has)."""
    ranked = _ranked(ranking)
    rows = session.execute(
        select(Review, ranked.c.count)
        .options(_NAMED, lazyload(Review.client))  # its client: from the session, no query
        .join(ranked, ranked.c.id == Review.id)
        .where(ranked.c.rank <= keep)
        .order_by(Review.client_id, ranked.c.rank)
    )
    found: dict[int, tuple[list[Review], int]] = {}
    for review, count in rows.tuples():
        found.setdefault(review.client_id, ([], count))[0].append(review)
    return found


def _assessed() -> Ranking:
    """Reviews with an assessment (evidence assessed, or items answered), newest first, as
    `states.read.scorecards.assessed_reviews` counts them."""
    answered = exists().where(ItemAnswer.review_id == Review.id)
    checked = exists().where(Assessment.review_id == Review.id)
    return [or_(answered, checked)], [Review.created_at.desc(), Review.id.desc()]


def _trends(session: Session) -> dict[int, tuple[int, ...]]:
    """client id -> the overall scores of its last TREND assessed reviews, oldest first."""
    ranked = _ranked(_assessed())
    newest = ranked.c.rank <= TREND
    # columns through the connection: thousands of reviews, tens of thousands of answers
    read = session.connection().execute
    reviews = read(
        select(Review.client_id, Review.id, Review.standards, Assessment.scores)
        .join(ranked, ranked.c.id == Review.id)
        .outerjoin(Assessment, Assessment.review_id == Review.id)
        .where(newest)
        .order_by(Review.client_id, ranked.c.rank.desc())
    ).all()
    answers: dict[int, dict[tuple[str, str], str]] = {}
    for review_id, standard, item, answer in read(
        select(ItemAnswer.review_id, ItemAnswer.standard, ItemAnswer.item, ItemAnswer.answer)
        .where(ItemAnswer.review_id.in_(select(ranked.c.id).where(newest)))
        .where(ItemAnswer.answer != Answer.NOT_APPLICABLE.value)
    ).all():  # fmt: skip
        answers.setdefault(review_id, {})[(standard, item)] = answer
    kept: dict[tuple[str, ...], list[Standard]] = {}  # the few sets of standards reviews pin
    trends: dict[int, tuple[int, ...]] = {}
    for client_id, review_id, digests, evidence in reviews:
        key = tuple(digests or ())
        if key not in kept:  # pinned() reads only the digests of the review it is given
            kept[key] = pinned(session, Review(standards=list(key)))
        score = overall_score(kept[key], evidence or {}, answers.get(review_id, {}))
        if score is not None:
            trends[client_id] = (*trends.get(client_id, ()), score)
    return trends


def overall_score(
    standards: Sequence[Standard],
    evidence: Mapping[str, int | None],
    answers: Mapping[tuple[str, str], str],
) -> int | None:
    """A review's overall score: the mean of its categories' scores, rounded (None when none
    was scored); each category scored by `states.standards.scoring` from the evidence's score
    and people's `answers`, by (standard, item), to the items of the review's `standards`."""
    settled: dict[str, list[ItemState]] = {}  # by category: each is scored from its own
    for standard in standards:
        for item in standard.items:
            answer = answers.get((standard.name, item.id))
            if answer is not None and answer != Answer.NOT_APPLICABLE:
                state = ItemState(standard, item, _ANSWERS[answer], source=AnswerSource.PERSON)
                settled.setdefault(item.category, []).append(state)
    scores = [
        _category(c, evidence.get(c), settled[c]).score
        if c in settled
        else _evidence_only(c, evidence.get(c))
        for c in CATEGORIES
    ]
    known = [s for s in scores if s is not None]
    return round(sum(known) / len(known)) if known else None


@lru_cache(maxsize=4096)
def _evidence_only(category: str, evidence: int | None) -> int | None:
    """The score of a category no person answered items of: scored once per evidence score
    (ten categories, scores 0-100), not once per review."""
    return _category(category, evidence, []).score


# --- CSV -------------------------------------------------------------------------------------

COLUMNS = [
    "client", "template", "cadence", "last_review_id", "last_review", "last_closed_on",
    "next_review_id", "next_review", "next_phase", "next_meeting_on", "next_opens_on",
    "open_reviews", "scores", "score", "change", "approved_budget", "currency", "quarters",
]  # fmt: skip
# a cell a spreadsheet would run as a formula (OWASP's CSV injection rule)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> object:
    """Text a spreadsheet would read as a formula gets a leading apostrophe; numbers stay
    numbers (a spreadsheet reads -5 as minus five), None is an empty cell."""
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _csv_row(row: ClientRow) -> list[object]:
    last, upcoming = row.last, row.next
    return [
        row.name, row.template, row.cadence,
        last.id if last else None, last.name if last else None, last.day if last else None,
        upcoming.id if upcoming else None, upcoming.name if upcoming else None,
        upcoming.status if upcoming else None, upcoming.day if upcoming else None,
        None if upcoming else row.opens_on,
        row.open_reviews, " ".join(map(str, row.scores)), row.score, row.change,
        format_amount(row.approved), row.currency, row.quarters,
    ]  # fmt: skip


def portfolio_csv(rows: Iterable[ClientRow]) -> str:
    """The portfolio as CSV, a header row first and a line per client in the order given."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    writer.writerows([_cell(v) for v in _csv_row(row)] for row in rows)
    return out.getvalue()
