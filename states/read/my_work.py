"""My work, the web app's home page for one person: the gates waiting for their decision,
their open tasks, their reviews past the status-age warning and what changed since their
last look.

Built for ten thousand open reviews and a person who decides thousands of their gates. A
review's row holds its template snapshot, so SQLite reads a page per review for anything but
an index: the lists are found and counted from the indexes (reviews by status, template,
meeting date and client, by status and age warning, by queue; a person's open tasks by
review and due date; audit rows by id and review), and only the reviews shown have their row
and snapshot read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, NamedTuple

from sqlalchemy import (
    Connection,
    case,
    select,
)
from sqlalchemy.engine import Row

from states.read.views import ReadModel
from states.read.work_lists import changes_of, gates_of, stale_of, tasks_of
from states.read.work_roles import (
    Me,
    Rule,
    Snapshots,
    Templates,
    accountable,
    decides,
    involved,
    person_of,
)
from states.store.db import UnitOfWork
from states.store.models import (
    Client,
    ClientRole,
    Review,
)

SINCE = timedelta(days=7)  # what changed, for someone not seen before


@dataclass(frozen=True, slots=True)
class GateItem(ReadModel):
    """A gate that waits for the person's decision; `ready`: no required task of the phase is
    open (`open_required` counts those that are; staging's unanswered assessment items are
    not counted: the review's page shows them)."""

    review_id: int
    review_name: str
    client: str
    phase: str
    ready: bool
    open_required: int
    meeting_at: datetime | None
    zone: str
    phase_entered_at: datetime


@dataclass(frozen=True, slots=True)
class TaskItem(ReadModel):
    """One of the person's open tasks; `current`: its phase is the review's phase now."""

    review_id: int
    review_name: str
    client: str
    key: str
    title: str
    phase: str
    due_at: datetime | None
    overdue: bool
    current: bool
    zone: str


@dataclass(frozen=True, slots=True)
class StaleItem(ReadModel):
    """A review the person works or decides that is in its phase longer than its warning."""

    review_id: int
    review_name: str
    client: str
    phase: str
    days_in_phase: float
    zone: str


@dataclass(frozen=True, slots=True)
class ChangeItem(ReadModel):
    """One line of a review's audit trail, by someone else; `actor` is their name if known."""

    JSON_NAMES: ClassVar[dict[str, str]] = {"from_state": "from", "to_state": "to"}

    review_id: int
    review_name: str
    at: datetime
    trigger: str
    from_state: str | None
    to_state: str | None
    actor: str
    comment: str


@dataclass(frozen=True, slots=True)
class MyWork(ReadModel):
    """The home page of one person. Each list holds its first `limit` items (what changed:
    its newest 20); the totals count them all."""

    person_id: int
    since: datetime
    gates: tuple[GateItem, ...]
    gates_total: int
    tasks: tuple[TaskItem, ...]
    tasks_total: int
    tasks_overdue: int
    stale: tuple[StaleItem, ...]
    stale_total: int
    changes: tuple[ChangeItem, ...]


def my_work(
    uow: UnitOfWork, person_id: int, now: datetime, since: datetime | None, limit: int = 50
) -> MyWork:
    """What waits for the person: the gates they decide (ready first, judged for the 100
    soonest meetings, then by meeting date), their open tasks (overdue first, then by due
    date), the reviews they work or decide past their status-age warning (longest past
    first), and the newest steps of others on reviews they hold an open task in or decide,
    since `since` (None: the last 7 days)."""
    since = since or now - SINCE
    with uow:
        db = uow.session.connection()
        me, snapshots = person_of(db, person_id), Snapshots(db)
        templates = Templates(db, snapshots)
        gates, gates_total, blocking = gates_of(db, templates.where(me, decides), limit)
        tasks, tasks_total, tasks_overdue = tasks_of(db, me, now, limit)
        stale, stale_total = stale_of(db, templates.where(me, involved), now, limit)
        changes = changes_of(db, me, templates.where(me, accountable), since)
        listed = {*(task.review_id for task in tasks), *(change.review_id for change in changes)}
        shown = _Shown(db, me, snapshots, checked={*gates, *stale}, listed=listed)
        return MyWork(
            person_id=person_id,
            since=since,
            gates=tuple(_gate(i, shown, blocking) for i in gates if shown.covers(i, decides)),
            gates_total=gates_total,
            tasks=tuple(_task(task, shown.lines[task.review_id], now) for task in tasks),
            tasks_total=tasks_total,
            tasks_overdue=tasks_overdue,
            stale=tuple(_stale_item(i, shown, now) for i in stale if shown.covers(i, involved)),
            stale_total=stale_total,
            changes=tuple(_change(change, shown.lines[change.review_id]) for change in changes),
        )


# --- the reviews shown ---------------------------------------------------------------------


class _Line(NamedTuple):
    """What a line of the page says of its review."""

    client_id: int
    name: str
    client: str
    zone: str
    status: str
    meeting_at: datetime | None
    phase_entered_at: datetime


class _Shown:
    """The reviews the page shows, read in one query: each one's line and, for those that
    are `checked`, its own snapshot's rules and who its client has for each role, to tell
    whether the person covers a role of its phase as directory.people_for says: the
    client's own holders of the role if it has any, else everyone holding it."""

    def __init__(
        self, db: Connection, me: Me, snapshots: Snapshots, checked: set[int], listed: set[int]
    ) -> None:
        self.me = me
        self.lines: dict[int, _Line] = {}
        snapshot = case((Review.id.in_(checked), snapshots.key()))
        rows = db.execute(
            select(Review.id, Review.client_id, Client.slug, Review.type, Review.period)
            .add_columns(Client.name, Client.timezone, Review.status, Review.meeting_at)
            .add_columns(Review.phase_entered_at, snapshot)
            .join(Review.client)
            .where(Review.id.in_(checked | listed))
        )
        keys = {}
        for review_id, client_id, slug, type_, period, *line, key in rows:
            # the name as Review.name makes it: <client>-<type>-<period>
            self.lines[review_id] = _Line(client_id, f"{slug}-{type_}-{period}", *line)
            if key is not None:
                keys[review_id] = key
        self.rules = snapshots.rules(db, keys)  # of the checked reviews, by phase
        clients = {self.lines[i].client_id for i in self.rules}
        self.holders: dict[tuple[int, str], set[int]] = {}
        holders = select(ClientRole.client_id, ClientRole.role, ClientRole.person_id)
        for client_id, role, person_id in db.execute(
            holders.where(ClientRole.client_id.in_(clients))
        ):
            self.holders.setdefault((client_id, role), set()).add(person_id)

    def covers(self, review_id: int, roles_of: Callable[[Rule], Iterable[str]]) -> bool:
        """Whether the person covers one of `roles_of` the rule of the review's phase, by
        its own snapshot, for its client."""
        line = self.lines[review_id]
        for role in roles_of(self.rules[review_id][line.status]):
            own = self.holders.get((line.client_id, role))
            if self.me.id in own if own else role in self.me.everywhere:
                return True
        return False


def _gate(review_id: int, shown: _Shown, blocking: dict[int, int]) -> GateItem:
    line = shown.lines[review_id]
    return GateItem(
        review_id=review_id,
        review_name=line.name,
        client=line.client,
        phase=line.status,
        ready=review_id not in blocking,
        open_required=blocking.get(review_id, 0),
        meeting_at=line.meeting_at,
        zone=line.zone,
        phase_entered_at=line.phase_entered_at,
    )


def _task(task: Row[Any], line: _Line, now: datetime) -> TaskItem:
    return TaskItem(
        review_id=task.review_id,
        review_name=line.name,
        client=line.client,
        key=task.key,
        title=task.title,
        phase=task.phase,
        due_at=task.due_at,
        overdue=task.due_at is not None and task.due_at < now,
        current=task.phase == line.status,
        zone=line.zone,
    )


def _stale_item(review_id: int, shown: _Shown, now: datetime) -> StaleItem:
    line = shown.lines[review_id]
    return StaleItem(
        review_id=review_id,
        review_name=line.name,
        client=line.client,
        phase=line.status,
        days_in_phase=round((now - line.phase_entered_at).total_seconds() / 86400, 1),
        zone=line.zone,
    )


def _change(change: Row[Any], line: _Line) -> ChangeItem:
    review_id, at, trigger, from_state, to_state, actor, comment = change
    return ChangeItem(
        review_id=review_id,
        review_name=line.name,
        at=at,
        trigger=trigger,
        from_state=from_state,
        to_state=to_state,
        actor=actor,
        comment=comment,
    )
