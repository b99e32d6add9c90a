"""Moving a review: the facts of a gate, recording a step, passing through empty phases."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from states.calendar.business_days import zone
from states.directory import people_for
from states.errors import Refused
from states.lifecycle import audit
from states.lifecycle.machine import (
    FORWARD,
    OPEN_PHASES,
    SLOT_PHASES,
    Gate,
    Phase,
    Trigger,
    destination,
    fire,
)
from states.lifecycle.places import enqueue, lock_places, waits_for_place
from states.lifecycle.schedule import set_wake
from states.notices.planning import announce, inform, set_age_warning
from states.plans.proposals import propose
from states.psa import mirroring
from states.standards.answers import gate_facts
from states.store.models import AD_HOC, OutboxMessage, Review
from states.templates.schema import Template

SYSTEM_ACTOR = audit.SYSTEM_ACTOR  # (kept here too: most callers know it from here)


def eligible_approvers(session: Session, review: Review, template: Template) -> list[str]:
    """Emails of the people who hold the accountable role of the review's current phase."""
    if review.status not in OPEN_PHASES:
        return []
    role = template.phase(review.status).raci.accountable
    return [p.email for p in people_for(session, review.client_id, role)]


def open_required_tasks(review: Review) -> list[str]:
    """Keys of the current phase's required tasks that are neither done nor skipped."""
    return [
        t.key
        for t in review.tasks
        if t.phase == review.status and t.required and t.status == "open"
    ]


def wip_count(
    session: Session, template: Template, source: str, trigger: Trigger, exclude: int
) -> dict[str, tuple[int, int | None]]:
    """Reviews (all clients) in the phase `trigger` leads to from `source`, against the
    template's limit there: {} when that phase has no limit (needed and scheduled hold most
    open reviews) or the review stays where it is."""
    dest = destination(source, trigger)
    limit = template.phase(dest).wip_limit if dest in OPEN_PHASES else None
    if limit is None or dest == source:  # staying holds the place it has
        return {}
    # Without flushing first: whoever moves a review in the same transaction flushes the move
    # itself (the gate's own review is excluded), and a batch of wakes is not flushed per gate.
    with session.no_autoflush:
        count = session.scalar(
            select(func.count()).where(Review.status == dest, Review.id != exclude)
        )
    return {dest: (count or 0, limit)}


def build_gate(
    session: Session,
    review: Review,
    template: Template,
    trigger: Trigger,
    actor: str,
    now: datetime,
    comment: str = "",
    proposed_meeting_at: datetime | None = None,
) -> Gate:
    """Everything the guards judge `trigger` on, read from the database once."""
    verifies = template.phase(review.status).verifies if review.status in OPEN_PHASES else []
    open_items, answered_by = (
        gate_facts(session, review) if review.status == Phase.STAGING else ((), frozenset())
    )
    return Gate(
        state=review.status,
        now=now,
        actor=actor,
        system=actor == SYSTEM_ACTOR,
        eligible_approvers=frozenset(eligible_approvers(session, review, template)),
        open_required_tasks=tuple(open_required_tasks(review)),
        verified_by={
            t.key: t.completed_by.email
            for t in review.tasks
            if t.key in verifies and t.status == "done" and t.completed_by is not None
        },
        open_required_items=open_items,
        answered_by=answered_by,
        wip=wip_count(session, template, review.status, trigger, exclude=review.id),
        meeting_at=review.meeting_at,
        tz=zone(review.client.timezone),
        proposed_meeting_at=proposed_meeting_at,
        comment=comment,
    )


_SLOT = {p.value for p in SLOT_PHASES}


def _holds_slot(status: str | None) -> bool:
    return status in _SLOT


def record_step(
    session: Session,
    review: Review,
    template: Template,
    trigger: str,
    source: str | None,
    dest: str,
    actor: str,
    comment: str,
    now: datetime | None = None,
) -> None:
    """Write one step: the new phase, the audit row and the outbox event, in the caller's
    transaction. A new phase starts a new round, so each gate is decided once."""
    if source is not None:
        review.round += 1
    if dest != source:
        review.status = Phase(dest).value
        if now is not None:
            review.phase_entered_at = now
            if dest in (Phase.CLOSED, Phase.CANCELLED):
                review.closed_at = now
        if dest in (Phase.CLOSED, Phase.CANCELLED):
            for task in review.tasks:  # an ended review's open tasks are reminded of no more
                if task.status == "open":
                    task.reminded_for = task.due_at
        set_age_warning(review, template)
        if _holds_slot(source) and not _holds_slot(dest) and review.type != AD_HOC:
            review.client.next_review_on = None  # the calendar looks at the client again
    # any step settles what waited on the gate: the queue, and the run at the gate's old key
    review.queued_for = review.queued_at = review.queued_by = None
    review.run_seen_at = None
    set_wake(review, template)
    audit.record(
        session, review.id, source, dest, trigger, actor, comment, now or review.phase_entered_at
    )
    if source == Phase.STAGING and dest == Phase.PREP:  # staging's end: the plan is proposed
        propose(session, review, template, now or review.phase_entered_at)
    step = {"trigger": trigger, "from": source, "to": dest, "actor": actor, "comment": comment}
    session.add(
        OutboxMessage(
            dedupe_key=f"review:{review.id}:round:{review.round}:{trigger}",
            kind="review.step",
            review_id=review.id,
            payload={"review_id": review.id, "round": review.round, **step},
            recipient=None,  # the columns its notices set: one INSERT takes them all
            status="pending",
        )
    )
    inform(session, review, template, step)
    mirroring.review_step(session, review, trigger, dest)  # a new meeting date goes too


def settle(session: Session, review: Review, template: Template, now: datetime) -> None:
    """Carry the review through phases that need no approval, as far as their guards allow,
    then tell the people of the phase it stops in what it needs from them."""
    while review.status in OPEN_PHASES:
        spec = template.phase(review.status)
        if spec.approval:
            break
        trigger, _ = FORWARD[Phase(review.status)]
        lock_places(session, trigger, review.status)
        gate = build_gate(session, review, template, trigger, SYSTEM_ACTOR, now)
        try:
            dest = fire(gate, trigger)
        except Refused:
            place = waits_for_place(gate, trigger)
            if place is not None and review.queued_for is None:
                enqueue(session, review, place, SYSTEM_ACTOR, "its required tasks are done", now)
            break
        why = (
            f"passed through: template {template.name} has no tasks or approval for {review.status}"
            if spec.passes_through
            else f"required tasks of {review.status} closed; the phase needs no approval"
        )
        record_step(session, review, template, trigger, review.status, dest, SYSTEM_ACTOR, why, now)
    announce(session, review, template)
