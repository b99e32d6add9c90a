"""My work, the web app's home page for one person: the gates waiting for their decision,
their open tasks, their reviews past the status-age warning and what changed since their
last look.

Built for ten thousand open reviews. A review's row holds its template snapshot, so SQLite
reads a page per review for anything but an index: the lists are found and counted from the
indexes (status, meeting date, age warning, client, queue; open tasks by assignee; audit
rows by id and review), the reviews' templates are read in one pass by id, and only the
reviews shown have their snapshot read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar, NamedTuple

import orjson
from sqlalchemy import (
    Connection,
    Select,
    Text,
    case,
    cast,
    false,
    func,
    literal,
    or_,
    select,
    true,
)
from sqlalchemy.engine import Row
from sqlalchemy.sql import ColumnElement

from states.errors import NotFound
from states.lifecycle.machine import OPEN_PHASES, Phase
from states.read.views import ReadModel
from states.store.db import UnitOfWork
from states.store.models import (
    TASK_IS_OPEN,
    AuditEntry,
    Client,
    ClientRole,
    Person,
    PersonRole,
    Review,
    ReviewTask,
)
from states.templates.schema import BOARD_DEFAULTS, Role

CHANGES = 20  # lines of what changed, at most
SINCE = timedelta(days=7)  # what changed, for someone not seen before
# Whether a gate is ready is read task by task: for the gates of the soonest meetings only.
READY_WINDOW = 100
# Up to this many reviews, what changed is read through their audit rows; for more, the
# audit trail is read newest first, SCAN rows at a time, down to the first since the last look.
FEW_REVIEWS = 100
SCAN = 500
PROBES = 64  # audit rows read a round, to find the first since the last look
CLOCK_SLACK = timedelta(hours=1)  # how far out of time order concurrent audit rows may land


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
        me, snapshots = _me(db, person_id), _Snapshots(db)
        templates = _Templates(db, snapshots)
        gates, gates_total, blocking = _gates(db, templates.where(me, _decides), limit)
        tasks, tasks_total, tasks_overdue = _tasks(db, me, now, limit)
        stale, stale_total = _stale(db, templates.where(me, _involved), now, limit)
        changes = _changes(db, me, templates.where(me, _accountable), since)
        listed = {*(task.review_id for task in tasks), *(change.review_id for change in changes)}
        shown = _Shown(db, me, snapshots, checked={*gates, *stale}, listed=listed)
        return MyWork(
            person_id=person_id,
            since=since,
            gates=tuple(_gate(i, shown, blocking) for i in gates if shown.covers(i, _decides)),
            gates_total=gates_total,
            tasks=tuple(_task(task, shown.lines[task.review_id], now) for task in tasks),
            tasks_total=tasks_total,
            tasks_overdue=tasks_overdue,
            stale=tuple(_stale_item(i, shown, now) for i in stale if shown.covers(i, _involved)),
            stale_total=stale_total,
            changes=tuple(_change(change, shown.lines[change.review_id]) for change in changes),
        )


# --- who the person is, and what the templates ask of each role ---------------------------


@dataclass(frozen=True, slots=True)
class _Me:
    id: int
    email: str
    everywhere: frozenset[str]  # held for every client without its own holder of the role
    own: frozenset[str]  # covered for some clients of their own (ClientRole)
    assigned: frozenset[str]  # the roles some client has its own holders of


def _me(db: Connection, person_id: int) -> _Me:
    roles = select(Person.email, PersonRole.role).outerjoin(PersonRole)
    held = db.execute(roles.where(Person.id == person_id)).all()
    if not held:
        raise NotFound(f"unknown person {person_id}; see `xbr person list`")
    mine = ClientRole.person_id == person_id
    assigned = db.execute(select(ClientRole.role, mine).distinct()).all()
    return _Me(
        person_id,
        held[0].email,
        # another client's contact is never this client's: that role is covered per client
        frozenset(role for _, role in held if role) - {Role.CLIENT_CONTACT},
        frozenset(role for role, is_mine in assigned if is_mine),
        frozenset(role for role, _ in assigned),
    )


@dataclass(frozen=True, slots=True)
class _Rule:
    """Who decides a phase and who works it, as one template snapshot says."""

    approval: bool
    accountable: str
    responsible: tuple[str, ...]


def _decides(rule: _Rule) -> list[str]:
    return [rule.accountable] if rule.approval else []


def _involved(rule: _Rule) -> list[str]:
    return [rule.accountable, *rule.responsible]


def _accountable(rule: _Rule) -> list[str]:
    return [rule.accountable]


_OPEN = [p.value for p in OPEN_PHASES]
_ENDED = [p.value for p in Phase if p not in OPEN_PHASES]


class _Snapshots:
    """Template snapshots parsed once each (a template's reviews share one), each phase read
    as Template fills it: its board defaults under what the snapshot gives, without
    validating the whole template. PostgreSQL sends a review's snapshot as its digest, and
    the text only of one not read yet; SQLite, in this process, as the text."""

    def __init__(self, db: Connection) -> None:
        self.digests = db.dialect.name != "sqlite"
        self._rules: dict[str, dict[str, _Rule]] = {}  # by digest, or text

    def key(self) -> ColumnElement[str]:
        """What is read of a review's snapshot: its digest, or its text."""
        text = cast(Review.template_snapshot, Text)
        return func.md5(text) if self.digests else text

    def read(self, db: Connection, ids: Iterable[int]) -> dict[int, dict[str, _Rule]]:
        """Review id -> the rule of each open phase in its snapshot."""
        rows = db.execute(select(Review.id, self.key()).where(Review.id.in_(set(ids))))
        return self.rules(db, dict(rows.tuples().all()))

    def rules(self, db: Connection, keys: dict[int, str]) -> dict[int, dict[str, _Rule]]:
        """Review id -> the rule of each open phase, by the key read of its snapshot."""
        unread = {key: review_id for review_id, key in keys.items() if key not in self._rules}
        texts: Iterable[tuple[int, str]] = [(unread[key], key) for key in unread]
        if unread and self.digests:
            query = select(Review.id, cast(Review.template_snapshot, Text))
            texts = db.execute(query.where(Review.id.in_(unread.values()))).tuples()
        for review_id, text in texts:
            phases = orjson.loads(text).get("phases") or {}
            self._rules[keys[review_id]] = {
                p: _rule({**BOARD_DEFAULTS[Phase(p)], **phases.get(p, {})}) for p in _OPEN
            }
        return {review_id: self._rules[key] for review_id, key in keys.items()}


def _rule(spec: dict[str, Any]) -> _Rule:
    raci = spec["raci"]
    return _Rule(bool(spec.get("approval", True)), raci["accountable"], tuple(raci["responsible"]))


class _Templates:
    """The templates of the reviews started since the oldest open one, each with the rules of
    its oldest and its newest snapshot there (a template's reviews share its rules unless it
    was edited between their starts: each review shown is checked against its own snapshot).

    Where the templates differ in a phase, the reviews in it are told apart by template.
    PostgreSQL keeps a review's snapshot out of its row (TOAST) and reads the template with
    it; SQLite keeps it in the row, a page per review, so there the templates are read once,
    in one pass by id with each template's review ids (a review's template lies before its
    snapshot in the row, its status past it), and the reviews told apart by id."""

    def __init__(self, db: Connection, snapshots: _Snapshots) -> None:
        self.by_id = db.dialect.name == "sqlite"
        oldest = select(func.min(Review.id)).where(Review.status.in_(_OPEN)).scalar_subquery()
        ids = func.json_group_array(Review.id) if self.by_id else literal("[]")
        rows = db.execute(
            select(Review.template, func.min(Review.id), func.max(Review.id), ids)
            .where(Review.id >= oldest)
            .group_by(Review.template)
        ).all()
        sampled = snapshots.read(db, (i for _, first, last, _ in rows for i in (first, last)))
        self.rules = {
            name: {p: {sampled[first][p], sampled[last][p]} for p in _OPEN}
            for name, first, last, _ in rows
        }
        self._ids = {name: text[1:-1] for name, _, _, text in rows}  # "1,2,3", as JSON has it

    def where(self, me: _Me, roles_of: Callable[[_Rule], Iterable[str]]) -> ColumnElement[bool]:
        """Open reviews whose client the person covers one of `roles_of` its phase's rule
        for, by the rules of its template."""
        spots: dict[str, dict[str, set[str]]] = {}  # role -> phase -> template names
        for name, phases in self.rules.items():
            for phase, rules in phases.items():
                for role in {r for rule in rules for r in roles_of(rule)}:
                    spots.setdefault(role, {}).setdefault(phase, set()).add(name)
        # the roles the person holds for every client are one group: their phases merge
        groups: dict[str, dict[str, set[str]]] = {}  # a role, or "" for that group
        for role in sorted(me.everywhere | me.own):
            group = "" if role in me.everywhere - me.assigned else role
            for phase, names in spots.get(role, {}).items():
                groups.setdefault(group, {}).setdefault(phase, set()).update(names)
        clauses = [
            self._in_phases(at) & (_covers(me, role) if role else true())
            for role, at in groups.items()
        ]
        return or_(*clauses) if clauses else false()

    def _in_phases(self, at: dict[str, set[str]]) -> ColumnElement[bool]:
        """In one of the phases, of one of the templates of that phase: by status (an
        index), less the reviews of the other templates where there are any."""
        phases: dict[frozenset[str], list[str]] = {}  # the other templates -> their phases
        for phase, names in sorted(at.items()):
            phases.setdefault(frozenset(self.rules.keys() - names), []).append(phase)
        parts: list[ColumnElement[bool]] = []
        for others, where in phases.items():
            here = Review.status.in_(where)
            if not others:
                parts.append(here)
            elif self.by_id:
                # their reviews' ids as one JSON array, which SQLite reads into a set once
                ids = "[" + ",".join(self._ids[name] for name in sorted(others)) + "]"
                odd = select(func.json_each(ids).table_valued("value").c.value)
                parts.append(here & Review.id.not_in(odd))
            else:
                parts.append(here & Review.template.not_in(sorted(others)))
        return or_(*parts)


def _covers(me: _Me, role: str) -> ColumnElement[bool]:
    """Reviews whose client the person covers `role` for, as directory.people_for says: its
    own holders of the role if it has any, else everyone holding it. Matched by review id
    through the client index, so that no review's row is read."""
    holders = select(ClientRole.client_id).where(ClientRole.role == role)

    def of(clients: Select[Any]) -> Select[Any]:
        return select(Review.id).where(Review.client_id.in_(clients))

    parts = []
    if role in me.own:
        parts.append(Review.id.in_(of(holders.where(ClientRole.person_id == me.id))))
    if role in me.everywhere:
        parts.append(Review.id.not_in(of(holders)))
    return or_(*parts)


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
        self, db: Connection, me: _Me, snapshots: _Snapshots, checked: set[int], listed: set[int]
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

    def covers(self, review_id: int, roles_of: Callable[[_Rule], Iterable[str]]) -> bool:
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


# --- the four lists ----------------------------------------------------------------------


def _gates(
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
    blocking = _open_required(db, {review_id: phase for review_id, phase, _ in window})
    # ready first; the sort is stable, so each part stays in the order of its meetings
    first = sorted((review_id for review_id, _, _ in window), key=lambda i: i in blocking)
    return first[:limit], window[0][2], blocking


def _open_required(db: Connection, phase_of: dict[int, str]) -> dict[int, int]:
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


def _tasks(
    db: Connection, me: _Me, now: datetime, limit: int
) -> tuple[Sequence[Row[Any]], int, int]:
    """The person's first `limit` open tasks, how many they have and how many are overdue."""
    # an ended review leaves its unfinished tasks open: they are nobody's work any more
    ended = select(Review.id).where(Review.status.in_(_ENDED))
    overdue = func.sum(case((ReviewTask.due_at < now, 1), else_=0))
    tasks = db.execute(
        select(ReviewTask.review_id, ReviewTask.key, ReviewTask.title, ReviewTask.phase)
        .add_columns(ReviewTask.due_at, func.count().over(), overdue.over())
        .where(ReviewTask.assignee_id == me.id, TASK_IS_OPEN, ReviewTask.review_id.not_in(ended))
        # overdue first: the earliest due date is the longest overdue; no due date last
        .order_by(ReviewTask.due_at.is_(None), ReviewTask.due_at, ReviewTask.review_id)
        .order_by(ReviewTask.position)
        .limit(limit)
    ).all()
    total, overdue_count = (tasks[0][-2], tasks[0][-1]) if tasks else (0, 0)
    return tasks, int(total), int(overdue_count)


def _stale(
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


def _changes(
    db: Connection, me: _Me, accountable: ColumnElement[bool], since: datetime
) -> Sequence[Row[Any]]:
    """Others' newest steps since `since` on the reviews the person holds an open task in
    or is accountable for now, with their names where they are people."""
    tasked = select(ReviewTask.review_id).where(ReviewTask.assignee_id == me.id, TASK_IS_OPEN)
    theirs = set(db.scalars(tasked.union(select(Review.id).where(accountable))))
    recent = (AuditEntry.at > since) & (AuditEntry.actor != me.email)
    which: ColumnElement[bool]
    if len(theirs) <= FEW_REVIEWS:
        which = recent & AuditEntry.review_id.in_(theirs)
    else:
        start = _first_row_after(db, since)
        which = AuditEntry.id.in_(_newest_of(db, theirs, recent & (AuditEntry.id >= start)))
    return db.execute(
        select(AuditEntry.review_id, AuditEntry.at, AuditEntry.trigger, AuditEntry.from_state)
        .add_columns(AuditEntry.to_state, func.coalesce(Person.name, AuditEntry.actor))
        .add_columns(AuditEntry.comment)
        .outerjoin(Person, Person.email == AuditEntry.actor)
        .where(which)
        .order_by(AuditEntry.id.desc())
        .limit(CHANGES)
    ).all()


def _newest_of(db: Connection, theirs: set[int], recent: ColumnElement[bool]) -> list[int]:
    """The newest audit rows of `recent` on the reviews `theirs`, read newest first in
    chunks: through the review index, thousands of reviews' whole trails would be read."""
    found: list[int] = []
    newest = select(AuditEntry.id, AuditEntry.review_id).order_by(AuditEntry.id.desc())
    chunk = db.execute(newest.where(recent).limit(SCAN)).all()
    while True:
        found += [entry_id for entry_id, review_id in chunk if review_id in theirs]
        if len(found) >= CHANGES or len(chunk) < SCAN:
            break
        chunk = db.execute(newest.where(recent, AuditEntry.id < chunk[-1].id).limit(SCAN)).all()
    return found[:CHANGES]


def _first_row_after(db: Connection, since: datetime) -> int:
    """An id at or before the first audit row after `since` (less the clock's slack): the
    trail is appended in time order and `at` has no index, so ids are probed, 64 a round."""
    moment = since - CLOCK_SLACK
    # apart: SQLite finds each at once, but the two together by reading an index whole
    low = db.scalar(select(func.min(AuditEntry.id))) or 0
    high = db.scalar(select(func.max(AuditEntry.id))) or 0
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
