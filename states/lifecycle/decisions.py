"""Deciding gates and closing tasks: the one service every entry point goes through.

Each call validates everything first, then writes in one transaction; the review's version
makes the loser of a race fail with "already decided" instead of deciding twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.exc import StaleDataError

from states.calendar.business_days import parse_moment, zone
from states.directory import known_email, people_for, person_by_email, read_client_roles
from states.errors import AlreadyDecided, IllegalTrigger, InvalidInput, NotFound, Refused
from states.lifecycle import audit
from states.lifecycle.machine import FORWARD, OPEN_PHASES, Phase, Trigger, fire
from states.lifecycle.places import enqueue, lock_places, waits_for_place
from states.lifecycle.schedule import review_template, set_due_dates
from states.lifecycle.steps import build_gate, record_step, settle
from states.notices.planning import invite
from states.psa import mirroring
from states.store.db import UnitOfWork
from states.store.models import Decision, Person, Review, ReviewTask, utcnow
from states.text import check_text

# hours worked on one task, as one entry: more is a typo (a day's work at most)
HOURS_PER_ENTRY = 24


class DecisionKind(StrEnum):
    """What a person can say at a gate."""

    APPROVE = "approve"
    REJECT = "reject"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    REOPEN = "reopen"


@dataclass(frozen=True)
class DecisionRequest:
    """A decision as it arrives from the CLI, the approval page or the Prefect UI.

    `phase` and `round` pin it to the gate the person saw: once the review has moved on,
    the decision is refused as already decided instead of landing on the next gate.
    """

    review_id: int
    decision: DecisionKind
    actor: str
    comment: str = ""
    meeting: str | None = None
    phase: str | None = None
    round: int | None = None


@dataclass(frozen=True)
class DecisionResult:
    """Where the decision took the review."""

    review_id: int
    decision: str
    from_phase: str
    to_phase: str
    round: int
    queued_for: str | None = None  # the full phase it waits for a place in, if it waits
    flow_run_id: str | None = None  # the review's run, to wake; None: it has none

    def describe(self) -> str:
        """Where it went, e.g. `staging -> prep`, or that it waits for a place."""
        if self.queued_for:
            return (
                f"{self.from_phase} approved; {self.queued_for} is at its WIP limit, so it waits "
                f"in {self.queued_for}'s queue (by meeting date) and moves when a place frees"
            )
        return f"{self.from_phase} -> {self.to_phase}"


def load_review(
    session: Session, review_id: int, for_update: bool = False, with_tasks: bool = False
) -> Review:
    """The review, or an error that says where to find the right id.

    `for_update` locks its row first (PostgreSQL; SQLite's writers queue already), so that
    changes to one review happen one after the other, each on fresh facts. `with_tasks` reads
    its tasks with their people in one more query (a gate judges them), without those
    people's roles, which a gate never needs.
    """
    options = _TASKS if with_tasks else ()
    if for_update:
        # NO KEY UPDATE: rows being inserted that point at the review (evidence, findings,
        # outbox) take KEY SHARE on it, which FOR UPDATE would block into a deadlock; the
        # review's row only (OF), read with its lock in the same statement
        locked = select(Review).where(Review.id == review_id).options(*options)
        review = session.scalar(locked.with_for_update(key_share=True, of=Review))
    else:
        review = session.get(Review, review_id, options=options)
    if review is None:
        raise NotFound(f"unknown review {review_id}; see `xbr review list`")
    return review


_TASKS = [
    selectinload(Review.tasks).joinedload(person).lazyload(Person.role_rows)
    for person in (ReviewTask.assignee, ReviewTask.completed_by)
]


@contextmanager
def _first_writer_wins(review_id: int) -> Iterator[None]:
    try:
        yield
    except (StaleDataError, IntegrityError):
        raise AlreadyDecided(
            f"review {review_id} already decided: another decision landed first"
        ) from None


def _trigger_for(review: Review, kind: DecisionKind) -> Trigger:
    if review.status not in OPEN_PHASES:
        raise IllegalTrigger(f"review {review.id} is {review.status}; nothing is left to decide")
    if kind is DecisionKind.APPROVE:
        return FORWARD[Phase(review.status)][0]
    return Trigger(kind.value)


def decide(
    uow: UnitOfWork, request: DecisionRequest, now: datetime | None = None
) -> DecisionResult:
    """Apply one decision to a review's current gate, or refuse it and change nothing."""
    now = now or utcnow()
    check_text(request.comment, "the comment ({comment})")
    if request.phase is not None and request.phase not in {p.value for p in Phase}:
        raise InvalidInput(
            f"unknown phase {request.phase[:40]!r}; use one of: "
            + ", ".join(p.value for p in OPEN_PHASES)
        )
    with uow, _first_writer_wins(request.review_id):
        session = uow.session
        review = load_review(session, request.review_id, for_update=True, with_tasks=True)
        source = review.status
        if request.phase is not None and request.phase != source:
            raise AlreadyDecided(
                f"review {review.id} already decided: it left {request.phase} and is in {source}"
            )
        if request.round is not None and request.round != review.round:
            raise AlreadyDecided(
                f"review {review.id} already decided: round {request.round} is over "
                f"(now round {review.round})"
            )
        trigger = _trigger_for(review, request.decision)
        _refuse_second_approval(review, request.decision)
        read_client_roles(session, [review.client_id])  # the gate's deciders, and maybe the actor
        actor = known_email(session, request.actor)
        template = review_template(review)
        proposed = _proposed_meeting(review, trigger, request.meeting)
        lock_places(session, trigger, source)
        gate = build_gate(session, review, template, trigger, actor, now, request.comment, proposed)
        place: Phase | None = None
        try:
            dest = fire(gate, trigger)
        except Refused:
            place = waits_for_place(gate, trigger)
            if place is None:
                raise
        decided_round = review.round
        session.add(
            Decision(
                review_id=review.id,
                phase=source,
                round=decided_round,
                decision=request.decision.value,
                actor=actor,
                comment=request.comment,
                via=session.info.get("via", ""),
                meeting_at=proposed,
                at=now,
            )
        )
        if place is not None:  # approved, but the next phase is full: it waits in its queue
            enqueue(session, review, place, actor, request.comment, now)
            session.flush()
            uow.commit()
            return DecisionResult(
                review.id, request.decision.value, source, source, decided_round, place.value,
                review.flow_run_id,
            )  # fmt: skip
        if proposed is not None:
            review.meeting_at = proposed
            set_due_dates(review, template)
        record_step(session, review, template, trigger, source, dest, actor, request.comment, now)
        settle(session, review, template, now)
        if proposed is not None or trigger is Trigger.CANCEL:
            invite(session, review, cancelled=trigger is Trigger.CANCEL)
        session.flush()
        uow.commit()
        return DecisionResult(
            review.id, request.decision.value, source, review.status, decided_round,
            flow_run_id=review.flow_run_id,
        )  # fmt: skip


def _refuse_second_approval(review: Review, kind: DecisionKind) -> None:
    if kind is DecisionKind.APPROVE and review.queued_for is not None:
        raise AlreadyDecided(
            f"review {review.id} already decided: {review.queued_by} approved it and it waits "
            f"for a place in {review.queued_for}; it moves when one frees, by meeting date"
        )


def _proposed_meeting(review: Review, trigger: Trigger, meeting: str | None) -> datetime | None:
    if meeting is None:
        return None
    if trigger not in (Trigger.CONFIRM_MEETING, Trigger.RESCHEDULE):
        raise InvalidInput(
            "--meeting applies only when approving the scheduling gate or rescheduling; "
            f"review {review.id} is in {review.status}"
        )
    return parse_moment(meeting, zone(review.client.timezone))


def _task(review: Review, key: str) -> ReviewTask:
    for task in review.tasks:
        if task.key == key:
            return task
    raise NotFound(f"review {review.id} has no task {key!r}; see `xbr review show {review.id}`")


def _may_act_on(session: Session, review: Review, task: ReviewTask, person: Person) -> None:
    template = review_template(review)
    spec = next(s for _, s in template.tasks() if s.key == task.key)
    roles = {r.value for r in spec.roles}
    roles.add(template.phase(task.phase).raci.accountable)
    roles.add(template.phase(review.status).raci.accountable)
    if task.assignee_id == person.id or any(
        person in people_for(session, review.client_id, role) for role in roles
    ):
        return
    raise Refused(
        f"{person.email} may not close task {task.key}: it needs one of "
        f"{', '.join(sorted(roles))}; ask the assignee or give them the role"
    )


def _open_task(
    session: Session, review_id: int, key: str, actor: str
) -> tuple[Review, ReviewTask, Person]:
    review = load_review(session, review_id, for_update=True, with_tasks=True)
    if review.status not in OPEN_PHASES:
        raise IllegalTrigger(
            f"review {review.id} is {review.status}; its tasks can no longer change"
        )
    task = _task(review, key)
    if task.status != "open":
        who = f" by {task.completed_by.email}" if task.completed_by else ""
        raise AlreadyDecided(f"task {key} of review {review.id} is already {task.status}{who}")
    person = person_by_email(session, actor)
    _may_act_on(session, review, task, person)
    return review, task, person


def complete_task(
    uow: UnitOfWork,
    review_id: int,
    key: str,
    actor: str,
    note: str | None = None,
    hours: float | None = None,
    now: datetime | None = None,
) -> None:
    """Mark a task done; hours worked add to the review's actual hours."""
    now = now or utcnow()
    check_text(note, "the note (--note)")
    if hours is not None and not (math.isfinite(hours) and 0 <= hours <= HOURS_PER_ENTRY):
        raise InvalidInput(
            f"--hours {hours} is out of range; give the hours worked on it, from 0 to "
            f"{HOURS_PER_ENTRY}, e.g. 1.5"
        )
    with uow, _first_writer_wins(review_id):
        review, task, person = _open_task(uow.session, review_id, key, actor)
        if OPEN_PHASES.index(Phase(task.phase)) > OPEN_PHASES.index(Phase(review.status)):
            raise Refused(
                f"task {key} belongs to {task.phase} and review {review_id} is in {review.status}; "
                "approve the gates before it first, or skip the task with a reason"
            )
        spec = next(s for _, s in review_template(review).tasks() if s.key == key)
        own = [
            t.key for t in review.tasks if t.key in spec.verifies and t.completed_by_id == person.id
        ]
        if own:
            raise Refused(
                f"{person.email} did {', '.join(own)}, which task {key} verifies; "
                "a second person must do it"
            )
        task.status, task.completed_by_id, task.completed_at = "done", person.id, now
        task.note, task.hours = note, hours or 0
        review.actual_hours += hours or 0
        _close_task_step(uow.session, review, "task_done", person.email, key, note, now)
        mirroring.task_closed(uow.session, review, task.id, task.status)
        uow.commit()


def skip_task(
    uow: UnitOfWork,
    review_id: int,
    key: str,
    actor: str,
    reason: str,
    now: datetime | None = None,
) -> None:
    """Skip a task that this review does not need; a reason is required."""
    now = now or utcnow()
    if not reason.strip():
        raise InvalidInput(f"skipping task {key} needs a reason; give one with {{reason}}")
    check_text(reason, "the reason ({reason})")
    with uow, _first_writer_wins(review_id):
        review, task, person = _open_task(uow.session, review_id, key, actor)
        task.status, task.completed_by_id, task.completed_at = "skipped", person.id, now
        task.skip_reason = reason
        _close_task_step(uow.session, review, "task_skipped", person.email, key, reason, now)
        mirroring.task_closed(uow.session, review, task.id, task.status)
        uow.commit()


def _close_task_step(
    session: Session,
    review: Review,
    what: str,
    actor: str,
    key: str,
    text: str | None,
    now: datetime,
) -> None:
    audit.note(session, review, what, actor, f"{key}: {text}" if text else key, now)
    session.flush()
    settle(session, review, review_template(review), now)
