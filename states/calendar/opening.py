"""Starting a review: the template's tasks with assignees and due dates, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from states.calendar.business_days import parse_moment, zone
from states.directory import client_by_name, open_task_load, people_for
from states.errors import InvalidInput, SlotTaken
from states.lifecycle.machine import SLOT_PHASES, Phase
from states.lifecycle.schedule import set_due_dates
from states.lifecycle.steps import SYSTEM_ACTOR, record_step, settle
from states.notices.planning import invite, nothing_planned, set_age_warning
from states.standards.pinning import not_installed, pin
from states.standards.schema import Standard
from states.store.db import UnitOfWork
from states.store.models import (
    AD_HOC,
    WHILE_HELD,
    Client,
    Person,
    Review,
    ReviewTask,
    UTCDateTime,
    utcnow,
)
from states.templates.catalog import pick
from states.templates.schema import Cadence, TaskSpec, Template


def period_of(cadence: Cadence, day: datetime) -> str:
    """The period a review covers, for its name: 2026-q4, 2026-11, 2026-h2, 2026."""
    if cadence is Cadence.MONTHLY:
        return f"{day:%Y-%m}"
    if cadence is Cadence.QUARTERLY:
        return f"{day.year}-q{(day.month - 1) // 3 + 1}"
    if cadence is Cadence.SEMIANNUAL:
        return f"{day.year}-h{1 if day.month <= 6 else 2}"
    if cadence is Cadence.ANNUAL:
        return f"{day.year}"
    return f"{day:%Y-%m-%d}"


def _assign(
    covering: Callable[[str], list[Person]],
    spec: TaskSpec,
    load: dict[int, int],
    avoid: set[int],
) -> int | None:
    """The least loaded person covering the task's role (then its backups), not in `avoid`."""
    for role in spec.roles:
        people = [p for p in covering(role) if p.id not in avoid]
        if people:
            chosen = min(people, key=lambda p: (load.get(p.id, 0), p.id))
            load[chosen.id] = load.get(chosen.id, 0) + 1
            return chosen.id
    return None


def _new_tasks(
    session: Session, review: Review, template: Template, load: dict[int, int]
) -> list[ReviewTask]:
    """The template's tasks for the review, each with its assignee; not in the session yet."""

    def covering(role: str) -> list[Person]:
        return people_for(session, review.client.id, role)

    tasks = []
    assignee_of: dict[str, int | None] = {}
    for position, (phase, spec) in enumerate(template.tasks()):
        # second set of eyes: whoever does a verified task is not asked to verify it
        avoid = {assignee_of[k] for k in spec.verifies if assignee_of.get(k) is not None}
        assignee = _assign(covering, spec, load, avoid)  # type: ignore[arg-type]
        assignee_of[spec.key] = assignee
        tasks.append(
            ReviewTask(
                key=spec.key,
                position=position,
                phase=phase.value,
                title=spec.title,
                role=spec.role.value,
                kind=spec.kind.value,
                required=spec.required,
                assignee_id=assignee,
                status="open",
                due_at=None,
                completed_by_id=None,
                completed_at=None,
                note=None,
                skip_reason=None,
                hours=0,
                reminded_for=None,
            )
        )
    return tasks


# A new review's tasks, column by column, with their PostgreSQL types
_TASK_COLUMNS = {"key": "varchar", "position": "integer", "phase": "varchar", "title": "text",
                 "role": "varchar", "kind": "varchar", "required": "boolean",
                 "assignee_id": "integer", "status": "varchar", "due_at": "timestamp",
                 "completed_by_id": "integer", "completed_at": "timestamp", "note": "text",
                 "skip_reason": "text", "hours": "float8", "reminded_for": "timestamp",
                 "review_id": "integer"}  # fmt: skip
# PostgreSQL takes them as one array per column: one short statement, parsed and planned once
_UNNEST_TASKS = text(
    f"INSERT INTO review_tasks ({', '.join(_TASK_COLUMNS)}) SELECT * FROM unnest("
    + ", ".join(f"CAST(:{c} AS {t}[])" for c, t in _TASK_COLUMNS.items())
    + ") RETURNING review_id, key, id"
)
_MOMENT = UTCDateTime()


def _column(tasks: list[ReviewTask], name: str, moment: bool) -> list[Any]:
    values = [getattr(task, name) for task in tasks]
    return [_MOMENT.process_bind_param(v, None) for v in values] if moment else values


def _insert_tasks(session: Session, opened: list[tuple[Review, list[ReviewTask]]]) -> None:
    """New reviews' tasks in one statement (PostgreSQL) or one executemany and a query for
    their ids (SQLite), where the unit of work would send an INSERT per task to learn each id;
    then the same objects become their reviews' loaded tasks."""
    tasks = [task for review, its in opened for task in its]
    for review, its in opened:
        for task in its:
            task.review_id = review.id
    if session.get_bind().dialect.name == "postgresql":
        columns = {c: _column(tasks, c, t == "timestamp") for c, t in _TASK_COLUMNS.items()}
        rows = session.execute(_UNNEST_TASKS, columns)
    else:
        table = cast(Table, ReviewTask.__table__)
        session.execute(insert(table), [{c: getattr(t, c) for c in _TASK_COLUMNS} for t in tasks])
        reviews = [review.id for review, _ in opened]
        rows = session.execute(
            select(table.c.review_id, table.c.key, table.c.id).where(table.c.review_id.in_(reviews))
        )
    ids = {(review_id, key): task_id for review_id, key, task_id in rows}
    for task in tasks:
        task.id = ids[task.review_id, task.key]
        make_transient_to_detached(task)  # every column set: nothing left to load
        session.add(task)
    for review, its in opened:
        set_committed_value(review, "tasks", its)


def start_review(
    uow: UnitOfWork,
    client_name: str,
    catalog: dict[str, Template],
    template_name: str | None = None,
    meeting: str | None = None,
    actor: str = SYSTEM_ACTOR,
    now: datetime | None = None,
    note: str = "",
    standards: Mapping[str, Standard] | None = None,
    held: bool = False,
) -> int:
    """Open a review of a client from a template (its own by default); returns its id.
    `meeting` is an ISO date-time in the client's zone; `note` says why (audit); `standards`
    the installation's (the shipped ones when None); `held`: no run is made for it until
    `xbr review run`."""
    now = now or utcnow()
    with uow:
        client = client_by_name(uow.session, client_name)
        template = pick(catalog, template_name or client.template)
        meeting_at = parse_moment(meeting, zone(client.timezone)) if meeting else None
        if meeting_at is not None and meeting_at <= now:
            raise InvalidInput(f"--meeting {meeting} is in the past; give a future date")
        opening = Opening(client, template, note, meeting_at, standards=standards)
        review = open_review(uow.session, opening, actor, now)
        review.run_held = held
        uow.commit()
        return review.id


@dataclass(frozen=True)
class Opening:
    """A review to open: of which client, from which template, and why (for the audit).
    `period_day` names its period when no meeting is set yet (the calendar's due date)."""

    client: Client
    template: Template
    note: str = ""
    meeting_at: datetime | None = None
    period_day: date | None = None
    standards: Mapping[str, Standard] | None = None  # the installation's; None: the shipped


def open_review(
    session: Session,
    opening: Opening,
    actor: str,
    now: datetime,
    load: dict[int, int] | None = None,
) -> Review:
    """Open one review in the caller's transaction, refused when the client's slot is held."""
    _refuse_second_open_review(session, opening.client, opening.template)
    return open_reviews(session, [opening], actor, now, load)[0]


def open_reviews(
    session: Session,
    openings: list[Opening],
    actor: str,
    now: datetime,
    load: dict[int, int] | None = None,
) -> list[Review]:
    """Open reviews in the caller's transaction: their tasks with assignees and due dates,
    audit entries, first notices and invitations, with one INSERT per table for them all.
    `load` is each person's open tasks when the caller opens many (it is kept up to date). The
    caller found each client's slot free; the database refuses a second review all the same,
    and then SlotTaken undoes the transaction."""
    # read before the flush: a failed one leaves the clients unreadable
    taken = (
        f"{openings[0].client.name} already has an open {openings[0].template.review_type} review"
        if len(openings) == 1
        else f"one of {', '.join(o.client.name for o in openings)} already has an open review"
    )
    load = open_task_load(session) if load is None else load
    periods = _named_periods(session, openings)
    opened = [_new_review(session, opening, now, load, periods) for opening in openings]
    try:
        session.flush()
    except IntegrityError:
        raise SlotTaken(f"{taken}; close or cancel it first") from None
    _insert_tasks(session, opened)
    for opening, (review, _) in zip(openings, opened, strict=True):
        nothing_planned(session, review.id)
        template = opening.template
        missing = not_installed(template, opening.client, opening.standards)
        lost = f"standards not installed, not assessed: {', '.join(missing)}" if missing else ""
        why = "; ".join(filter(None, (f"from {template.name}", opening.note, lost)))
        record_step(session, review, template, "start", None, Phase.NEEDED, actor, why)
        settle(session, review, template, now)
        invite(session, review)
    return [review for review, _ in opened]


Named = dict[tuple[Client, str], set[str]]  # (client, review type) -> periods named


def _named_periods(session: Session, openings: list[Opening]) -> Named:
    """The periods the clients' reviews are named for already, by client and review type (a
    client added in this transaction has none)."""
    clients = {o.client.id: o.client for o in openings if o.client.id is not None}
    named: Named = {}
    if clients:
        rows = session.execute(
            select(Review.client_id, Review.type, Review.period).where(
                Review.client_id.in_(clients)
            )
        )
        for client_id, review_type, period in rows:
            named.setdefault((clients[client_id], review_type), set()).add(period)
    return named


def _unnamed(period: str, named: set[str]) -> str:
    """The period, or its next free number (2026-q4-2) when a review of the client's is named
    for it already: a meeting moved into another period must not give two reviews one name."""
    number, free = 1, period
    while free in named:
        number += 1
        free = f"{period}-{number}"
    named.add(free)
    return free


def _new_review(
    session: Session,
    opening: Opening,
    now: datetime,
    load: dict[int, int],
    periods: Named,
) -> tuple[Review, list[ReviewTask]]:
    """The review and its tasks, in the session but not yet in the database."""
    client, template, meeting_at = opening.client, opening.template, opening.meeting_at
    if template.review_type != AD_HOC:
        client.next_review_on = WHILE_HELD
    tz = zone(client.timezone)
    when = meeting_at.astimezone(tz) if meeting_at else now.astimezone(tz)
    if meeting_at is None and opening.period_day is not None:
        when = datetime.combine(opening.period_day, when.timetz())
    review = Review(
        client=client,
        type=template.review_type,
        template=template.name,
        template_snapshot=_snapshot(session, template),
        period=_unnamed(
            period_of(template.cadence, when),
            periods.setdefault((client, template.review_type), set()),
        ),
        status=Phase.NEEDED.value,
        round=0,
        meeting_at=meeting_at,
        phase_entered_at=now,
        created_at=now,
        budget_hours=template.budget_hours,
        actual_hours=0,
        wake_at=None,
        queued_for=None,
        queued_at=None,
        queued_by=None,
        run_seen_at=None,
    )
    set_age_warning(review, template)  # as the start step sets it: inserted, not updated after
    with session.no_autoflush:  # the reviews are flushed together, after
        pin(session, review, template, opening.standards)
    session.add(review)
    tasks = _new_tasks(session, review, template, load)
    set_due_dates(review, template, tasks)
    return review, tasks


def _snapshot(session: Session, template: Template) -> dict[str, Any]:
    """The template as the review keeps it, made once per transaction (a pass opens many)."""
    made: dict[int, dict[str, Any]] = session.info.setdefault("snapshots", {})
    if id(template) not in made:
        made[id(template)] = template.model_dump(mode="json")
    return made[id(template)]


def _refuse_second_open_review(session: Session, client: Client, template: Template) -> None:
    if template.review_type == AD_HOC:
        return
    existing = session.scalar(
        select(Review.id).where(
            Review.client_id == client.id,
            Review.type == template.review_type,
            Review.status.in_([p.value for p in SLOT_PHASES]),
        )
    )
    if existing is not None:
        raise InvalidInput(
            f"{client.name} already has open {template.review_type} review {existing}; "
            f"close or cancel it first (`xbr cancel {existing} --comment ...`)"
        )
