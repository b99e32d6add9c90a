"""The sweeper's work: wake reviews whose date came, pull queued reviews into freed places, and
give every open review a live run."""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect.client.schemas.objects import State, StateType

from bootstrap import root
from states.lifecycle.run_records import (
    ReviewRun,
    ended_review_runs,
    open_review_runs,
    run_finished,
    runs_seen,
    wake_due,
)
from states.lifecycle.wip_queue import pull_queue
from states.read import views
from states.store.models import utcnow
from tasks.flow_runs import (
    LIVE,
    attach_new_run,
    current_gate_key,
    read_states,
    resume_review_run,
)
from tasks.runtime import xbr_task

# A review started a moment ago may not have its run yet: its starter is creating it.
GRACE = timedelta(minutes=2)


def _wake_runs(review_ids: list[int], why: str) -> None:
    """Resume the runs of reviews the sweeper moved: each re-reads its review's new gate."""
    for rid in review_ids:
        review = views.review_view(root().uow(), rid)
        if review.flow_run_id:
            wake = {"comment": why}
            resume_review_run(review.flow_run_id, wake, 5, current_gate_key(review))


@xbr_task()
def wake_due_reviews() -> list[int]:
    """Scheduled reviews whose staging date came move to staging (or wait in its queue when
    it is full); their runs wake up."""
    woken = wake_due(root().uow(), utcnow())
    _wake_runs(woken, "date came")
    return woken


@xbr_task()
def pull_waiting_reviews() -> list[int]:
    """Reviews waiting for a place in staging, prep or delivery move in as places free,
    earliest meeting first; the phase's accountable role hears of it."""
    pulled = pull_queue(root().uow(), utcnow())
    _wake_runs(pulled, "a place freed")
    return pulled


def _needs_new_run(review: ReviewRun, states: dict[str, State | None], now: datetime) -> bool:
    if review.flow_run_id is None:
        return now - review.created_at > GRACE
    state = states.get(review.flow_run_id)
    return state is None or state.type not in LIVE


@xbr_task()
def reattach_lost_runs() -> list[int]:
    """Give every open review a live run: replace a missing, crashed, failed or cancelled one.
    Only reviews that moved, or were not seen waiting for a day, are asked about. A review that
    ended lately gets one too when its run died before its last steps."""
    now = utcnow()
    reviews = open_review_runs(root().uow(), now)
    states = read_states([r.flow_run_id for r in reviews if r.flow_run_id])
    reattached, waiting = [], []
    for review in reviews:
        state = states.get(review.flow_run_id) if review.flow_run_id else None
        if _needs_new_run(review, states, now):
            generation = review.generation + (1 if review.flow_run_id else 0)
            attach_new_run(root().uow, review.review_id, generation)
            reattached.append(review.review_id)
        elif state is not None and state.is_paused():
            key = state.state_details.pause_key or ""
            if not key.startswith(review.expected_key + "-"):
                # decided elsewhere while the run was between gates: let it catch up
                wake: dict[str, object] = {}
                resume_review_run(review.flow_run_id or "", wake, 5, review.expected_key)
            else:
                waiting.append(review)
    runs_seen(root().uow(), waiting, now)
    return reattached + _finish_ended_runs(now)


def _finish_ended_runs(now: datetime) -> list[int]:
    """A review that ended (its last decision taken) but whose run died before its last steps
    (the client's next review, the last artifacts) gets a run that does them and completes; a
    run that waits at the ended review's old gate is woken to do them itself."""
    ended = ended_review_runs(root().uow(), now)
    states = read_states([r.flow_run_id for r in ended if r.flow_run_id])
    finished = []
    for review in ended:
        state = states.get(review.flow_run_id or "")
        if state is not None and state.type == StateType.COMPLETED:
            run_finished(root().uow(), review.review_id, now)  # it did them, then ended
        elif state is not None and state.is_paused():
            resume_review_run(review.flow_run_id or "", {}, 5)
        elif state is None or state.type not in LIVE:  # crashed, failed, cancelled or gone
            attach_new_run(root().uow, review.review_id, review.generation + 1)
            finished.append(review.review_id)
    return finished
