"""What the review flow and the sweeper ask of the store: gate keys, refusals, wakes, runs.

Prefect owns execution, the database owns the truth: these functions let a flow run that
re-executes from the top find where its review stands, and let the sweeper find the reviews
whose date came or whose run went missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session, selectinload

from states.directory import read_client_roles
from states.errors import IllegalTrigger, NotFound, Refused
from states.lifecycle import audit
from states.lifecycle.decisions import load_review
from states.lifecycle.machine import FORWARD, Phase, Trigger, fire
from states.lifecycle.places import enqueue, lock_places, waits_for_place
from states.lifecycle.schedule import review_template
from states.lifecycle.steps import SYSTEM_ACTOR, build_gate, record_step, settle
from states.store.db import UnitOfWork
from states.store.models import NOT_ENDED, AuditEntry, Client, Installation, Review

REFUSED = "refused"


def gate_key(review_id: int, phase: str, round_: int, attempt: int) -> str:
    """The pause key of one gate: lowercase letters, digits and dashes, as Prefect requires."""
    return f"review-{review_id}-{phase.replace('_', '-')}-r{round_}-a{attempt}"


def record_refusal(uow: UnitOfWork, review_id: int, decision: str, actor: str, reason: str) -> None:
    """Keep a refused decision in the audit log; the review itself does not change."""
    with uow:
        review = load_review(uow.session, review_id)
        audit.note(uow.session, review, REFUSED, actor or "unknown", f"{decision}: {reason}")
        uow.commit()


def refusal_count(uow: UnitOfWork, review_id: int) -> int:
    """How many decisions on this review were refused: each one opens a new pause key."""
    with uow:
        return (
            uow.session.scalar(
                select(func.count()).where(
                    AuditEntry.review_id == review_id, AuditEntry.trigger == REFUSED
                )
            )
            or 0
        )


def wake_due(uow: UnitOfWork, now: datetime) -> list[int]:
    """Scheduled reviews whose staging date came move into staging, earliest meeting first,
    while it has places; the others wait in its queue. One transaction for all of them;
    returns the ids of the woken."""
    with uow:
        session = uow.session
        due = (
            select(Review.id)
            .where(Review.status == Phase.SCHEDULED.value, Review.wake_at <= now)
            .where(Review.queued_for.is_(None))
        )
        ids = list(session.scalars(due.order_by(Review.id).with_for_update(key_share=True)))
        if not ids:
            return []
        reviews = session.scalars(
            select(Review)
            .where(Review.id.in_(ids))
            .options(selectinload(Review.tasks))
            .order_by(Review.meeting_at.is_(None), Review.meeting_at, Review.id)
        ).all()
        read_client_roles(session, list({review.client_id for review in reviews}))
        trigger, _ = FORWARD[Phase.SCHEDULED]
        lock_places(session, trigger, Phase.SCHEDULED.value)
        woken = [review.id for review in reviews if _wake(session, review, trigger, now)]
        uow.commit()
        return woken


def _wake(session: Session, review: Review, trigger: Trigger, now: datetime) -> bool:
    template = review_template(review)
    gate = build_gate(session, review, template, trigger, SYSTEM_ACTOR, now)
    try:
        dest = fire(gate, trigger)
    except Refused:
        place = waits_for_place(gate, trigger)
        if place is not None:
            enqueue(session, review, place, SYSTEM_ACTOR, "its date came", now)
        return False
    record_step(
        session, review, template, trigger, Phase.SCHEDULED, dest, SYSTEM_ACTOR,
        "staging starts: its date came", now,
    )  # fmt: skip
    settle(session, review, template, now)
    session.flush()  # the next review's gate counts this one in staging
    return True


@dataclass(frozen=True)
class ReviewRun:
    """An open review and the flow run that should be driving it."""

    review_id: int
    flow_run_id: str | None
    generation: int
    created_at: datetime
    expected_key: str  # the pause key of its current gate, without the run-count suffix
    round: int


# A run seen waiting at its review's gate is looked at again after this long (a run deleted
# in the Prefect UI); a review that moves is looked at by the next sweep.
RECHECK = timedelta(hours=24)
BATCH = 500  # reviews per sweep: a backlog is worked off over the next sweeps


def open_review_runs(uow: UnitOfWork, now: datetime, limit: int = BATCH) -> list[ReviewRun]:
    """Open reviews whose run the sweeper should check: never seen waiting at the current
    gate (new, moved, re-attached), or not for RECHECK. The work grows with what moved."""
    columns = (Review.id, Review.flow_run_id, Review.run_generation, Review.created_at,
               Review.status, Review.round)  # fmt: skip
    with uow:
        # never seen at this gate first, then the longest unseen; each through the partial
        # index of open reviews (NOT_ENDED, in its words), so closed ones are never read
        # a review held without a run (`review start --no-flow`) is left alone
        moved = select(*columns).where(NOT_ENDED, ~Review.run_held, Review.run_seen_at.is_(None))
        reviews = list(uow.session.execute(moved.order_by(Review.id).limit(limit)))
        if len(reviews) < limit:
            unseen = select(*columns).where(
                NOT_ENDED, ~Review.run_held, Review.run_seen_at <= now - RECHECK
            )
            reviews += uow.session.execute(
                unseen.order_by(Review.run_seen_at).limit(limit - len(reviews))
            )
        rows = uow.session.execute(
            select(AuditEntry.review_id, func.count())
            .where(AuditEntry.trigger == REFUSED)
            .where(AuditEntry.review_id.in_([r.id for r in reviews]))
            .group_by(AuditEntry.review_id)
        )
        refused = {review_id: count for review_id, count in rows}
        return [
            ReviewRun(
                r.id,
                r.flow_run_id,
                r.run_generation,
                r.created_at,
                gate_key(r.id, r.status, r.round, refused.get(r.id, 0)),
                r.round,
            )
            for r in reviews
        ]


# How long after a review ended the sweeper still makes sure its run finished its last steps
FINISH_WINDOW = timedelta(days=7)


def ended_review_runs(uow: UnitOfWork, now: datetime, limit: int = BATCH) -> list[ReviewRun]:
    """Reviews that ended (closed or cancelled) in the last FINISH_WINDOW whose run has not
    yet said it finished their last steps (the next review, the last artifacts)."""
    columns = (Review.id, Review.flow_run_id, Review.run_generation, Review.created_at,
               Review.round)  # fmt: skip
    with uow:
        rows = uow.session.execute(
            select(*columns)
            .where(Review.status.in_((Phase.CLOSED.value, Phase.CANCELLED.value)))
            .where(Review.run_seen_at.is_(None), Review.flow_run_id.is_not(None))
            .where(Review.closed_at >= now - FINISH_WINDOW)
            .order_by(Review.id)
            .limit(limit)
        )
        return [ReviewRun(r.id, r.flow_run_id, r.run_generation, r.created_at, "", r.round)
                for r in rows]  # fmt: skip


def run_finished(uow: UnitOfWork, review_id: int, now: datetime) -> None:
    """The run of an ended review did its last steps: the sweeper looks at it no more."""
    _set(uow, review_id, run_seen_at=now)


def runs_seen(uow: UnitOfWork, reviews: list[ReviewRun], now: datetime) -> None:
    """Remember that these reviews' runs wait at their gates, unless a review moved since it
    was read: its run must catch up, and the next sweep checks it."""
    if not reviews:
        return
    table = cast(Table, Review.__table__)
    seen = (
        update(table)
        .where(table.c.id == bindparam("review"), table.c.round == bindparam("at_round"))
        .values(run_seen_at=now)
    )
    with uow:
        uow.session.execute(seen, [{"review": r.review_id, "at_round": r.round} for r in reviews])
        uow.commit()


# A plain table update: bookkeeping about execution is not a decision, so the version stays.
_REVIEWS = cast(Table, Review.__table__)


def _set(uow: UnitOfWork, review_id: int, **values: object) -> None:
    with uow:
        uow.session.execute(update(_REVIEWS).where(_REVIEWS.c.id == review_id).values(**values))
        uow.commit()


def run_held(uow: UnitOfWork, review_id: int) -> bool:
    """Whether the review was started without a run and is kept without one."""
    with uow:
        held = uow.session.scalar(select(Review.run_held).where(Review.id == review_id))
    return bool(held)


def release_run(uow: UnitOfWork, review_id: int) -> tuple[str | None, int]:
    """Let the review have a run (`xbr review run`): its current run id and generation; an
    ended review is refused."""
    with uow:
        review = uow.session.get(Review, review_id)
        if review is None:
            raise NotFound(f"unknown review {review_id}; see `xbr review list`")
        if review.status in (Phase.CLOSED, Phase.CANCELLED):
            raise IllegalTrigger(
                f"review {review_id} is {review.status}; an ended review gets no run"
            )
        review_run = (review.flow_run_id, review.run_generation)
        uow.session.execute(
            update(_REVIEWS).where(_REVIEWS.c.id == review_id).values(run_held=False)
        )
        uow.commit()
    return review_run


def attach_run(uow: UnitOfWork, review_id: int, flow_run_id: str, generation: int) -> None:
    """Record the flow run that drives a review; the next sweep checks it."""
    _set(uow, review_id, flow_run_id=flow_run_id, run_generation=generation, run_seen_at=None)


def run_artifacts(uow: UnitOfWork, review_id: int, flow_run_id: str) -> dict[str, str]:
    """The ids of the artifacts this flow run made for the review, by kind; none when the
    review's artifacts are another run's (a run re-attached makes its own)."""
    with uow:
        ids = uow.session.scalar(select(Review.artifact_ids).where(Review.id == review_id))
    if not ids or ids.get(_RUN) != flow_run_id:
        return {}
    return {kind: artifact for kind, artifact in ids.items() if kind != _RUN}


def remember_artifacts(
    uow: UnitOfWork, review_id: int, flow_run_id: str, ids: dict[str, str]
) -> None:
    """Keep the ids of the review's artifacts on this flow run, so that each is updated in
    place, not made again."""
    _set(uow, review_id, artifact_ids={_RUN: flow_run_id, **ids})


_RUN = "flow_run"  # the key of artifact_ids naming the run the artifacts are on


def client_zone(uow: UnitOfWork, review_id: int) -> str:
    """The time zone of the review's client, in which its people read dates."""
    with uow:
        return str(
            uow.session.scalar(
                select(Client.timezone)
                .join(Review, Review.client_id == Client.id)
                .where(Review.id == review_id)
            )
        )


def installation_id(uow: UnitOfWork) -> str:
    """This installation's id (made by the migrations), part of every flow-run key."""
    with uow:
        return str(uow.session.scalar(select(Installation.id)))


def review_of_run(uow: UnitOfWork, flow_run_id: str) -> int | None:
    """The review a flow run drives, if it was attached already."""
    with uow:
        return uow.session.scalar(select(Review.id).where(Review.flow_run_id == flow_run_id))


def check_every_run_again(uow: UnitOfWork) -> int:
    """Forget which runs were seen waiting at their gates, so that the next sweep checks the
    run of every open review: after a restore the database is older than Prefect's runs.
    Returns how many open reviews there are."""
    with uow:
        done = uow.session.execute(update(_REVIEWS).where(NOT_ENDED).values(run_seen_at=None))
        uow.commit()
        return int(done.rowcount)  # type: ignore[attr-defined]
