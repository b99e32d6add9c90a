"""The four lists of My work (states/read/my_work.py) as ids and counts from the indexes: the
gates a person decides, their open tasks, their reviews past the age warning, and the newest
steps of others since their last look."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    case,
    func,
    select,
)
from sqlalchemy.engine import Row
from sqlalchemy.sql import ColumnElement

from states.read.work_roles import ENDED, Me
from states.store.models import (
    TASK_IS_OPEN,
    AuditEntry,
    Person,
    Review,
    ReviewTask,
)

CHANGES = 20  # lines of what changed, at most
# Whether a gate is ready is read task by task: for the gates of the soonest meetings only.
READY_WINDOW = 100
# Up to this many reviews, what changed is read through their audit rows; for more, the
# audit trail is read newest first, down to the first since the last look.
FEW_REVIEWS = 100
PROBES = 64  # audit rows read a round, to find the first since the last look
CLOCK_SLACK = timedelta(hours=1)  # how far out of time order concurrent audit rows may land
# a person's tasks, overdue first: the earliest due date is the longest overdue; none last
TASK_ORDER = (
    ReviewTask.due_at.is_(None),
    ReviewTask.due_at,
    ReviewTask.review_id,
    ReviewTask.position,
)


def gates_of(
    db: Connection, decides: ColumnElement[bool], limit: int
) -> tuple[list[int], int, dict[int, int]]:
    """The first `limit` gates (ready first among the soonest meetings, then by meeting),
    how many there are, and the open required tasks of those in the window that have any."""
    # approved into a full phase, a review waits in its queue: that gate is decided
    queued = select(Review.id).where(Review.queued_for.is_not(None))
    soonest = (
        select(Review.id, Review.status, func.count().over())
        .where(decides, Review.id.not_in(queued))
        .order_by(Review.meeting_at.is_(None), Review.meeting_at, Review.id)
        .limit(max(READY_WINDOW, limit))
    )
    window = db.execute(soonest).tuples().all()
    if not window:
        return [], 0, {}
    blocking = open_required(db, {review_id: phase for review_id, phase, _ in window})
    # ready first; the sort is stable, so each part stays in the order of its meetings
    first = sorted((review_id for review_id, _, _ in window), key=lambda i: i in blocking)
    return first[:limit], window[0][2], blocking


def open_required(db: Connection, phase_of: dict[int, str]) -> dict[int, int]:
    """Review id -> its required tasks of its current phase still open, where it has any."""
    # by the reviews' own tasks, phase and status sorted out here: with the status in SQL,
    # PostgreSQL reads the partial index of every open task; with (review, phase) pairs,
    # SQLite reads every task
    rows = db.execute(
        select(ReviewTask.review_id, ReviewTask.phase, ReviewTask.status, func.count())
        .where(ReviewTask.review_id.in_(phase_of), ReviewTask.required)
        .group_by(ReviewTask.review_id, ReviewTask.phase, ReviewTask.status)
    ).tuples()
    return {
        review_id: n
        for review_id, phase, status, n in rows
        if phase == phase_of[review_id] and status == "open"
    }


def tasks_of(
    db: Connection, me: Me, now: datetime, limit: int
) -> tuple[Sequence[Row[Any]], int, int]:
    """The person's first `limit` open tasks, how many they have and how many are overdue."""
    # an ended review leaves its unfinished tasks open: they are nobody's work any more
    ended = select(Review.id).where(Review.status.in_(ENDED))
    mine = (ReviewTask.assignee_id == me.id) & TASK_IS_OPEN & ReviewTask.review_id.not_in(ended)
    # counted and ordered in the index of open tasks; only the first ones' rows are read
    overdue = func.sum(case((ReviewTask.due_at < now, 1), else_=0))
    total, overdue_count = db.execute(select(func.count(), overdue).where(mine)).one()
    first = select(ReviewTask.id).where(mine).order_by(*TASK_ORDER).limit(limit)
    tasks = db.execute(
        select(ReviewTask.review_id, ReviewTask.key, ReviewTask.title, ReviewTask.phase)
        .add_columns(ReviewTask.due_at)
        .where(ReviewTask.id.in_(first))
        .order_by(*TASK_ORDER)
    ).all()
    return tasks, total, int(overdue_count or 0)


def stale_of(
    db: Connection, involved: ColumnElement[bool], now: datetime, limit: int
) -> tuple[list[int], int]:
    """The first `limit` reviews past their warning (the longest past first), and how many."""
    rows = db.execute(
        select(Review.id, func.count().over())
        .where(involved, Review.age_warning_at <= now)
        .order_by(Review.age_warning_at, Review.id)
        .limit(limit)
    ).tuples()
    found = list(rows)
    return [review_id for review_id, _ in found], found[0][1] if found else 0


def changes_of(
    db: Connection, me: Me, accountable: ColumnElement[bool], since: datetime
) -> Sequence[Row[Any]]:
    """Others' newest steps since `since` on the reviews the person holds an open task in
    or is accountable for now, with their names where they are people."""
    tasked = select(ReviewTask.review_id).where(ReviewTask.assignee_id == me.id, TASK_IS_OPEN)
    held = select(Review.id).where(accountable)
    recent = (AuditEntry.at > since) & (AuditEntry.actor != me.email)
    which: ColumnElement[bool]
    if (few := _few(db, tasked.distinct(), held)) is not None:
        which = recent & AuditEntry.review_id.in_(few)  # each review's own audit rows
    else:
        # the trail newest first, from the first row since the last look, down to the
        # newest CHANGES of theirs: whether they hold a task there looked up row by row in
        # the index of open tasks (a list of thousands would be built first), the reviews
        # they are accountable for listed once from the index of reviews
        start = _first_row_after(db, since)
        there = tasked.where(ReviewTask.review_id == AuditEntry.review_id).exists()
        which = recent & (AuditEntry.id >= start) & (there | AuditEntry.review_id.in_(held))
    return db.execute(
        select(AuditEntry.review_id, AuditEntry.at, AuditEntry.trigger, AuditEntry.from_state)
        .add_columns(AuditEntry.to_state, func.coalesce(Person.name, AuditEntry.actor))
        .add_columns(AuditEntry.comment)
        .outerjoin(Person, Person.email == AuditEntry.actor)
        .where(which)
        .order_by(AuditEntry.id.desc())
        .limit(CHANGES)
    ).all()


def _few(db: Connection, *queries: Select[tuple[int]]) -> set[int] | None:
    """The review ids `queries` find together, if no more than FEW_REVIEWS; else None. Each
    read only up to the first id past that many."""
    found: set[int] = set()
    for query in queries:
        found.update(db.scalars(query.limit(FEW_REVIEWS + 1)))
        if len(found) > FEW_REVIEWS:
            return None
    return found


def _first_row_after(db: Connection, since: datetime) -> int:
    """An id at or before the first audit row after `since` (less the clock's slack): the
    trail is appended in time order and `at` has no index, so ids are probed, 64 a round."""
    moment = since - CLOCK_SLACK
    # each its own subquery: SQLite finds each at once, but the two together by reading an
    # index whole
    first, last = (select(f(AuditEntry.id)).scalar_subquery() for f in (func.min, func.max))
    low, high = (i or 0 for i in db.execute(select(first, last)).one())
    while high - low > PROBES:
        probes = range(low, high + 1, (high - low) // PROBES)
        rows = db.execute(select(AuditEntry.id, AuditEntry.at).where(AuditEntry.id.in_(probes)))
        at_of = dict(rows.tuples().all())
        before = [i for i in probes if i in at_of and at_of[i] <= moment]
        after = [i for i in probes if i in at_of and at_of[i] > moment]
        if before and after and min(after) < max(before):
            return 0  # out of time order: no bound holds
        bracket = max(before, default=low), min(after, default=high)
        if bracket == (low, high):  # the probes fell between ids
            break
        low, high = bracket
    return low
