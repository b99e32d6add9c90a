"""WIP as a pull system: the sweeper pulls queued reviews into phases with a free place,
earliest meeting first, and tells the phase's accountable role."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from states.errors import Refused
from states.lifecycle.decisions import load_review
from states.lifecycle.machine import FORWARD, Phase, fire
from states.lifecycle.places import PULLED, dequeue, lock_places
from states.lifecycle.schedule import review_template
from states.lifecycle.steps import SYSTEM_ACTOR, build_gate, record_step, settle
from states.notices.planning import pulled_in
from states.store.db import UnitOfWork
from states.store.models import Review


def _queue(session: Session, phase: Phase) -> list[int]:
    return list(
        session.scalars(
            select(Review.id)
            .where(Review.queued_for == phase.value)
            .order_by(Review.meeting_at.is_(None), Review.meeting_at, Review.queued_at, Review.id)
        )
    )


def _pull_one(uow: UnitOfWork, review_id: int, phase: Phase, now: datetime) -> bool | None:
    """Move one queued review into `phase`: True if it moved, False if the phase is full,
    None if it can no longer move (it leaves the queue and stays where it is)."""
    with uow:
        session = uow.session
        review = load_review(session, review_id, for_update=True)
        if review.queued_for != phase.value:  # decided otherwise meanwhile
            return None
        template = review_template(review)
        trigger, dest = FORWARD[Phase(review.status)]
        lock_places(session, trigger, review.status)
        gate = build_gate(session, review, template, trigger, SYSTEM_ACTOR, now)
        count, limit = gate.wip.get(phase.value, (0, None))
        if limit is not None and count >= limit:
            return False
        approved = f"approved by {review.queued_by} at {review.queued_at:%Y-%m-%d %H:%M} UTC"
        try:
            fire(gate, trigger)
        except Refused as why:
            dequeue(session, review, SYSTEM_ACTOR, str(why), now)
            uow.commit()
            return None
        record_step(
            session, review, template, trigger, review.status, dest, SYSTEM_ACTOR,
            f"pulled from the queue ({approved}): a place in {phase.value} freed", now,
        )  # fmt: skip
        settle(session, review, template, now)
        pulled_in(session, review, template, phase.value, approved)
        uow.commit()
        return True


def pull_queue(uow: UnitOfWork, now: datetime) -> list[int]:
    """Pull queued reviews into every pulled phase with free places, earliest meeting first;
    returns the ids of the reviews that moved. The work grows with the queue, not the board."""
    pulled: list[int] = []
    for phase in PULLED:
        with uow:
            waiting = _queue(uow.session, phase)
        for review_id in waiting:
            moved = _pull_one(uow, review_id, phase, now)
            if moved is False:
                break
            if moved:
                pulled.append(review_id)
    return pulled


def queue_of(uow: UnitOfWork) -> dict[str, list[int]]:
    """The queue of every pulled phase, in the order reviews will be pulled."""
    with uow:
        return {phase.value: _queue(uow.session, phase) for phase in PULLED}
