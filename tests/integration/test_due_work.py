"""The sweeper's work follows what is due: the runs it asks Prefect about are those of reviews
that moved since their run was seen waiting, and reminders read only tasks due soon."""

from __future__ import annotations

from datetime import timedelta

from states.calendar.opening import start_review
from states.lifecycle.decisions import DecisionKind, DecisionRequest, decide
from states.lifecycle.run_records import RECHECK, open_review_runs, runs_seen
from states.notices.planning import plan_reminders
from states.store.models import Review, ReviewTask, utcnow
from states.templates.schema import Template
from tests.conftest import UowFactory

OPS = "olga@msp.example"


def test_only_reviews_that_moved_have_their_run_checked(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    now = utcnow()
    ids = [start_review(uow(), f"Client {name}", catalog) for name in ("qbr", "btr", "trs")]
    unseen = open_review_runs(uow(), now)
    assert sorted(r.review_id for r in unseen) == sorted(ids)  # never seen waiting yet
    runs_seen(uow(), unseen, now)
    assert open_review_runs(uow(), now) == []

    cancel = DecisionRequest(ids[0], DecisionKind.CANCEL, OPS, "the client left")
    decide(uow(), cancel)
    reopened = start_review(uow(), "Client qbr", catalog)  # its slot is free again
    moved = DecisionRequest(ids[1], DecisionKind.REJECT, OPS, "scope is wrong")
    decide(uow(), moved)
    assert sorted(r.review_id for r in open_review_runs(uow(), now)) == sorted([ids[1], reopened])
    assert [r.review_id for r in open_review_runs(uow(), now, limit=1)] == [ids[1]]

    stale = open_review_runs(uow(), now)
    decide(uow(), DecisionRequest(ids[1], DecisionKind.REJECT, OPS, "still wrong"))
    runs_seen(uow(), stale, now)  # read before the decision: the moved review stays unseen
    assert ids[1] in [r.review_id for r in open_review_runs(uow(), now)]

    later = now + RECHECK + timedelta(minutes=1)  # a day on, every run is looked at again
    assert ids[2] in [r.review_id for r in open_review_runs(uow(), later)]


def test_reminders_skip_tasks_already_told_and_reviews_that_ended(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    live = start_review(uow(), "Client qbr", catalog)
    ended = start_review(uow(), "Client btr", catalog)
    decide(uow(), DecisionRequest(ended, DecisionKind.CANCEL, OPS, "the client left"))
    with uow() as work:
        review = work.session.get(Review, live)
        assert review is not None
        due = min(t.due_at for t in review.tasks if t.phase == "needed" and t.due_at)
    overdue = due + timedelta(hours=1)
    assert plan_reminders(uow(), overdue) > 0
    with uow() as work:
        told = work.session.query(ReviewTask).filter(ReviewTask.reminded_for.is_not(None)).all()
        assert {t.review_id for t in told if t.review_id == live}
        silent = [t for t in told if t.review_id == ended and t.status == "open" and t.due_at]
        assert silent
        assert all(t.reminded_for == t.due_at for t in silent)
    assert plan_reminders(uow(), overdue + timedelta(minutes=5)) == 0
