"""Places in WIP-limited phases: who may take one, and waiting in the queue for one.

Entering a pulled phase takes the installation's row lock (after the review's own, always in
that order), so two reviews can never both take the last place, on PostgreSQL as on SQLite.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from states.errors import Refused
from states.lifecycle import audit
from states.lifecycle.machine import FORWARD, Gate, Phase, Trigger, fire
from states.store.models import Installation, Review

# The phases a review is pulled into: their limits keep the team's hands free.
PULLED = (Phase.STAGING, Phase.PREP, Phase.DELIVERY)
QUEUED = "queued"  # the audit trigger of a review that waits for a place


def lock_places(session: Session, trigger: Trigger, status: str) -> None:
    """Take the WIP lock when `trigger` leads into a pulled phase (PostgreSQL; SQLite's
    writers queue already). Call it after locking the review, never before."""
    forward, dest = FORWARD.get(Phase(status), (None, None))
    if trigger == forward and dest in PULLED:
        session.execute(select(Installation.id).with_for_update())


def waits_for_place(gate: Gate, trigger: Trigger) -> Phase | None:
    """The pulled phase a refused decision could enter but for its WIP limit, else None."""
    try:
        dest = fire(replace(gate, wip={}, refusal=""), trigger)
    except Refused:
        return None
    return dest if dest in PULLED else None


def enqueue(
    session: Session, review: Review, dest: Phase, actor: str, comment: str, now: datetime
) -> None:
    """Hold the review's approval until `dest` has a place. The round moves on, so the gate
    is decided once; the review's run waits for the sweeper's pull."""
    review.queued_for, review.queued_at, review.queued_by = dest.value, now, actor
    review.round += 1
    review.run_seen_at = None
    _note(session, review, actor, now, f"{dest.value} is at its WIP limit: waits for a place, "
          "by meeting date" + (f"; {comment}" if comment else ""))  # fmt: skip


def dequeue(session: Session, review: Review, actor: str, why: str, now: datetime) -> None:
    """Take a review out of its queue without moving it: it can no longer enter the phase."""
    phase = review.queued_for
    review.queued_for = review.queued_at = review.queued_by = None
    _note(session, review, actor, now, f"left the queue for {phase}: {why}")


def _note(session: Session, review: Review, actor: str, now: datetime, comment: str) -> None:
    audit.note(session, review, QUEUED, actor, comment, now)
