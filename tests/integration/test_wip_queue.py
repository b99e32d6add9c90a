"""WIP as a pull system on real databases: a review approved into a full phase waits in a queue
ordered by meeting date, the sweeper pulls the next one when a place frees and tells the
phase's accountable role, and two reviews racing for the last place never both take it."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from states import directory
from states.calendar.opening import start_review
from states.errors import AlreadyDecided
from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.lifecycle.run_records import wake_due
from states.lifecycle.wip_queue import pull_queue, queue_of
from states.read.board import board
from states.read.views import review_view
from states.store.models import AuditEntry, OutboxMessage, Review, utcnow
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.team import answer_assessment, staging_person, walk

OPS = "olga@msp.example"  # accountable for staging (ops_manager)


def qbr(uow: UowFactory, catalog: dict[str, Template], name: str, meeting_in_days: int) -> int:
    """A new client's QBR with its meeting `meeting_in_days` from now, walked into staging."""
    directory.add_client(uow(), name, "quarterly", "qbr", "America/New_York", catalog)
    meeting = (utcnow() + timedelta(days=meeting_in_days)).strftime("%Y-%m-%dT10:00")
    review_id = start_review(uow(), name, catalog, "qbr", meeting)
    walk(uow, review_id, "staging")
    return review_id


def close_tasks(uow: UowFactory, review_id: int) -> None:
    """Each assignee closes the open tasks of the review's phase."""
    review = review_view(uow(), review_id).to_json()
    for task in review["tasks"]:
        if task["phase"] == review["status"] and task["status"] == "open":
            complete_task(uow(), review_id, task["key"], task["assignee"])
    if review["status"] == "staging":  # and staging's people answer its assessment
        answer_assessment(uow, review_id, staging_person(review_view(uow(), review_id).tasks))


def approver_of(uow: UowFactory, review_id: int) -> str:
    """An accountable person who did none of the tasks the gate verifies (four eyes)."""
    review = review_view(uow(), review_id).to_json()
    done_by = {t["completed_by"] for t in review["tasks"] if t["phase"] == review["status"]}
    eligible = review["gate"]["eligible_approvers"]
    return next((a for a in eligible if a not in done_by), eligible[0])


def approve(uow: UowFactory, review_id: int) -> Any:
    """Close the phase's tasks, then approve its gate as its accountable person."""
    close_tasks(uow, review_id)
    approver = approver_of(uow, review_id)
    return decide(uow(), DecisionRequest(review_id, DecisionKind.APPROVE, approver))


def in_prep_full(uow: UowFactory, catalog: dict[str, Template]) -> dict[str, int]:
    """Two reviews fill prep (its limit is 2); two more are in staging."""
    ids = {
        "a": qbr(uow, catalog, "Alder Dental", 20),
        "b": qbr(uow, catalog, "Birch Law", 10),
        "late": qbr(uow, catalog, "Cedar Clinic", 30),
        "soon": qbr(uow, catalog, "Dogwood CPA", 15),
    }
    walk(uow, ids["a"], "prep")
    walk(uow, ids["b"], "prep")
    return ids


def notices(uow: UowFactory, review_id: int, kind: str) -> list[OutboxMessage]:
    with uow() as work:
        return list(
            work.session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.review_id == review_id, OutboxMessage.kind == f"notice.{kind}"
                )
            )
        )


def test_approved_into_a_full_phase_waits_and_is_pulled_by_meeting_date(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    ids = in_prep_full(uow, catalog)
    late = approve(uow, ids["late"])  # approved first, but its meeting is later
    soon = approve(uow, ids["soon"])
    assert (late.to_phase, late.queued_for) == ("staging", "prep")
    assert (soon.to_phase, soon.queued_for) == ("staging", "prep")
    assert queue_of(uow())["prep"] == [ids["soon"], ids["late"]]
    waiting = review_view(uow(), ids["late"]).to_json()
    assert waiting["status"] == "staging"
    assert waiting["round"] == late.round + 1  # the approval is used: its gate is decided
    assert waiting["audit"][-1]["trigger"] == "queued"
    with pytest.raises(AlreadyDecided, match="waits for a place in prep"):
        approve(uow, ids["late"])

    assert pull_queue(uow(), utcnow()) == []  # prep is still full
    walk(uow, ids["a"], "delivery")  # a place in prep frees
    assert pull_queue(uow(), utcnow()) == [ids["soon"]]
    moved = review_view(uow(), ids["soon"]).to_json()
    assert moved["status"] == "prep"
    assert moved["audit"][-1]["actor"] == "xbr"
    assert "pulled from the queue" in moved["audit"][-1]["comment"]
    told = notices(uow, ids["soon"], "pulled")
    assert told
    assert {m.payload["role"] for m in told} == {"ceo"}  # prep's accountable role
    assert queue_of(uow())["prep"] == [ids["late"]]
    assert pull_queue(uow(), utcnow()) == []  # full again

    prep = next(c for c in board(uow(), utcnow()) if c["phase"] == "prep")
    staging = next(c for c in board(uow(), utcnow()) if c["phase"] == "staging")
    assert (prep["count"], prep["queued"]) == (2, 1)
    assert [c["queued_for"] for c in staging["cards"] if c["id"] == ids["late"]] == ["prep"]


def test_a_decision_on_a_queued_review_takes_it_out_of_the_queue(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    ids = in_prep_full(uow, catalog)
    approve(uow, ids["late"])
    rework = DecisionRequest(ids["late"], DecisionKind.REJECT, OPS, "redo the network scan")
    assert decide(uow(), rework).to_phase == "staging"
    assert queue_of(uow())["prep"] == []
    walk(uow, ids["a"], "delivery")
    assert pull_queue(uow(), utcnow()) == []  # nothing waits: the place stays free


def test_a_scheduled_review_whose_date_came_waits_for_a_place_in_staging(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    ids = [qbr(uow, catalog, f"Elm {n}", 20 + n) for n in range(4)]  # staging's limit is 4
    directory.add_client(uow(), "Fir Dental", "quarterly", "qbr", "America/New_York", catalog)
    meeting = (utcnow() + timedelta(days=12)).strftime("%Y-%m-%dT10:00")
    waiting = start_review(uow(), "Fir Dental", catalog, "qbr", meeting)
    walk(uow, waiting, "scheduled")
    wake_at = review_view(uow(), waiting).to_json()["wake_at"]
    assert wake_at is not None
    later = utcnow() + timedelta(days=30)  # its staging date has come
    assert wake_due(uow(), later) == []
    assert queue_of(uow())["staging"] == [waiting]
    assert wake_due(uow(), later) == []  # the queue has it now
    walk(uow, ids[0], "prep")
    assert pull_queue(uow(), later) == [waiting]
    assert review_view(uow(), waiting).to_json()["status"] == "staging"


@pytest.mark.parametrize("racers", [2, 3])  # staging holds 4
def test_reviews_racing_for_the_last_place_take_it_once(
    uow: UowFactory, catalog: dict[str, Template], racers: int
) -> None:
    first = qbr(uow, catalog, "Alder Dental", 10)
    walk(uow, first, "prep")  # one place left in prep
    ids = [qbr(uow, catalog, f"Racer {n}", 12 + n) for n in range(racers)]
    for review_id in ids:  # their staging tasks done: only the decision is left
        close_tasks(uow, review_id)
    results: list[Any] = []
    barrier = threading.Barrier(len(ids))

    def approve_now(review_id: int) -> None:
        approver = approver_of(uow, review_id)
        barrier.wait()
        try:
            results.append(
                decide(uow(), DecisionRequest(review_id, DecisionKind.APPROVE, approver))
            )
        except Exception as error:  # kept for the assertion
            results.append(error)

    threads = [threading.Thread(target=approve_now, args=(rid,)) for rid in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(r.to_phase for r in results) == ["prep"] + ["staging"] * (racers - 1)
    with uow() as work:
        in_prep = work.session.scalars(select(Review.id).where(Review.status == "prep")).all()
        queued = work.session.scalars(
            select(AuditEntry.review_id).where(AuditEntry.trigger == "queued")
        ).all()
    assert len(in_prep) == 2
    assert sorted(queued) == sorted(r.review_id for r in results if r.to_phase == "staging")
