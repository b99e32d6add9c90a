"""The `review-sweeper` flow: wake reviews whose date came, re-attach reviews whose run is gone."""

from __future__ import annotations

from datetime import datetime, timedelta

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State

from flows.runs import (
    LIVE,
    attach_new_run,
    current_gate_key,
    read_states,
    resume_review_run,
)
from states import views
from states.models import utcnow
from states.runs import (
    ReviewRun,
    open_review_runs,
    runs_seen,
    wake_due,
)
from states.wip import pull_queue
from tasks.notify import deliver_notices, plan_due_reminders
from tasks.runtime import xbr_task
from tasks.staging import stage_new_exports
from tasks.store import uow

# A review started a moment ago may not have its run yet: its starter is creating it.
GRACE = timedelta(minutes=2)


def _wake_runs(review_ids: list[int], why: str) -> None:
    """Resume the runs of reviews the sweeper moved: each re-reads its review's new gate."""
    for rid in review_ids:
        review = views.review_view(uow(), rid)
        if review["flow_run_id"]:
            wake = {"approver_email": "xbr", "comment": why}
            resume_review_run(review["flow_run_id"], wake, 5, current_gate_key(review))


@xbr_task()
def wake_due_reviews() -> list[int]:
    """Scheduled reviews whose staging date came move to staging (or wait in its queue when
    it is full); their runs wake up."""
    woken = wake_due(uow(), utcnow())
    _wake_runs(woken, "date came")
    return woken


@xbr_task()
def pull_waiting_reviews() -> list[int]:
    """Reviews waiting for a place in staging, prep or delivery move in as places free,
    earliest meeting first; the phase's accountable role hears of it."""
    pulled = pull_queue(uow(), utcnow())
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
    Only reviews that moved, or were not seen waiting for a day, are asked about."""
    now = utcnow()
    reviews = open_review_runs(uow(), now)
    states = read_states([r.flow_run_id for r in reviews if r.flow_run_id])
    reattached, waiting = [], []
    for review in reviews:
        state = states.get(review.flow_run_id) if review.flow_run_id else None
        if _needs_new_run(review, states, now):
            generation = review.generation + (1 if review.flow_run_id else 0)
            attach_new_run(uow, review.review_id, generation)
            reattached.append(review.review_id)
        elif state is not None and state.is_paused():
            key = state.state_details.pause_key or ""
            if not key.startswith(review.expected_key + "-"):
                # decided elsewhere while the run was between gates: let it catch up
                wake = {"approver_email": "xbr"}
                resume_review_run(review.flow_run_id or "", wake, 5, review.expected_key)
            else:
                waiting.append(review)
    runs_seen(uow(), waiting, now)
    return reattached


@flow(name="review-sweeper", log_prints=True)
def review_sweeper() -> dict[str, list[int]]:
    """Keep every open review moving: wake the ones whose date came, pull queued reviews into
    freed places, re-attach lost runs,
    assess new exports of reviews in staging, remind people of tasks due and phases grown old,
    and deliver the notices and ticket exports still due."""
    woken = wake_due_reviews()
    pulled = pull_waiting_reviews()
    reattached = reattach_lost_runs()
    assessed = stage_new_exports()
    reminders = plan_due_reminders()
    delivered = deliver_notices()
    get_run_logger().info(
        "woke %s, pulled %s, re-attached %s, assessed %s, %s new reminders, notices %s",
        woken, pulled, reattached, assessed, reminders, delivered,
    )  # fmt: skip
    return {"woken": woken, "pulled": pulled, "reattached": reattached, "assessed": assessed}
