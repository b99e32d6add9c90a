"""Twenty people deciding the same gate at once: exactly one decision lands, on both databases.

The racers are threads with a unit of work each (released together by a barrier) and separate
`xbr approve` processes, so that both the ORM's version check and the database's own locking
are exercised, on SQLite (BEGIN IMMEDIATE) and on PostgreSQL (row locks, READ COMMITTED).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import ColumnElement, Engine, func, select

from states.calendar.opening import start_review
from states.errors import AlreadyDecided, XbrError
from states.lifecycle.decisions import (
    DecisionKind,
    DecisionRequest,
    complete_task,
    decide,
    skip_task,
)
from states.store.models import AuditEntry, Decision, OutboxMessage, Review, ReviewTask
from states.templates.schema import Template
from tests.conftest import UowFactory

RACERS = 20
OLGA = "olga@msp.example"  # ops_manager: accountable for qbr's needed gate
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Trail:
    """What one review has left behind: its row and everything written about it."""

    status: str
    round: int
    version: int
    audit: int
    decisions: int
    outbox: int  # the step events; notices are counted apart
    notices: int
    begin_scheduling_audit: int
    begin_scheduling_outbox: int


def trail(uow: UowFactory, review_id: int) -> Trail:
    with uow() as work:
        s = work.session
        review = s.get(Review, review_id)
        assert review is not None

        def count(
            model: type[AuditEntry | Decision | OutboxMessage], *where: ColumnElement[bool]
        ) -> int:
            query = select(func.count()).select_from(model).where(model.review_id == review_id)
            return s.scalar(query.where(*where)) or 0

        return Trail(
            status=review.status,
            round=review.round,
            version=review.version,
            audit=count(AuditEntry),
            decisions=count(Decision),
            outbox=count(OutboxMessage, OutboxMessage.kind == "review.step"),
            notices=count(OutboxMessage, OutboxMessage.kind.startswith("notice.")),
            begin_scheduling_audit=count(AuditEntry, AuditEntry.trigger == "begin_scheduling"),
            begin_scheduling_outbox=count(
                OutboxMessage, OutboxMessage.dedupe_key.like("%:begin_scheduling")
            ),
        )


def open_qbr(uow: UowFactory, catalog: dict[str, Template]) -> int:
    """A qbr review of "Client qbr", still in needed with its task open."""
    return start_review(uow(), "Client qbr", catalog, "qbr")


def ready_to_approve(uow: UowFactory, catalog: dict[str, Template]) -> int:
    """A qbr review whose needed gate only waits for the approval."""
    review_id = open_qbr(uow, catalog)
    with uow() as work:
        tasks = work.session.scalars(
            select(ReviewTask).where(
                ReviewTask.review_id == review_id, ReviewTask.phase == "needed"
            )
        ).all()
        work_list = [(t.key, t.assignee.email) for t in tasks if t.assignee is not None]
    assert work_list, "qbr's needed phase has a task with an assignee"
    for key, email in work_list:
        complete_task(uow(), review_id, key, email, note="scope checked")
    return review_id


def race(attempt: Callable[[], object]) -> list[BaseException | None]:
    """Run `attempt` in RACERS threads released together; None for a success, else the error.

    Only the errors a person can get (XbrError) count as an outcome; anything else (a locked
    database, an exhausted pool) propagates and fails the test.
    """
    barrier = threading.Barrier(RACERS)

    def one() -> BaseException | None:
        barrier.wait(timeout=30)
        try:
            attempt()
        except XbrError as exc:
            return exc
        return None

    with ThreadPoolExecutor(RACERS) as pool:
        futures = [pool.submit(one) for _ in range(RACERS)]
        return [f.result(timeout=120) for f in futures]


def assert_one_winner(outcomes: list[BaseException | None], loser_says: str) -> None:
    winners = [o for o in outcomes if o is None]
    losers = [o for o in outcomes if o is not None]
    assert len(winners) == 1, f"{len(winners)} of {RACERS} racers succeeded"
    for loser in losers:
        assert isinstance(loser, AlreadyDecided), repr(loser)
        assert loser_says in str(loser)


def assert_approved_once(before: Trail, after: Trail) -> None:
    assert (after.status, after.round) == ("scheduling", 1)
    assert after.version == before.version + 1
    assert after.begin_scheduling_audit == 1
    assert after.begin_scheduling_outbox == 1
    assert after.decisions == 1
    assert after.audit == before.audit + 1
    assert after.outbox == before.outbox + 1
    assert after.notices > before.notices  # what one approval plans; dedupe keys keep it once


def test_threads_approving_one_gate_decide_it_once(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    review_id = ready_to_approve(uow, catalog)
    before = trail(uow, review_id)
    request = DecisionRequest(review_id, DecisionKind.APPROVE, OLGA, phase="needed")

    outcomes = race(lambda: decide(uow(), request))

    assert_one_winner(outcomes, "already decided")
    assert_approved_once(before, trail(uow, review_id))


def test_processes_approving_one_gate_decide_it_once(
    engine: Engine, uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    review_id = ready_to_approve(uow, catalog)
    before = trail(uow, review_id)
    env = {
        **os.environ,
        "XBR_HOME": str(tmp_path / "home"),
        "XBR_DATABASE_URL": engine.url.render_as_string(hide_password=False),
    }
    command = [sys.executable, "-m", "deploy.cli", "approve", str(review_id)]
    command += ["--as", OLGA, "--phase", "needed"]

    racers = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(RACERS)
    ]
    outputs = [p.communicate(timeout=120) for p in racers]
    results = [(p.returncode, out, err) for p, (out, err) in zip(racers, outputs, strict=True)]

    codes = sorted(code for code, _, _ in results)
    assert codes == [0] + [2] * (RACERS - 1), results
    for code, out, err in results:
        if code == 0:
            assert "needed -> scheduling" in out
        else:
            assert err.startswith("error: "), err
            assert "already decided" in err, err
            assert err.count("\n") == 1, f"one line on stderr, got {err!r}"
    assert_approved_once(before, trail(uow, review_id))


CLOSE_THE_TASK = {
    "done-with-hours": lambda uow, review_id: complete_task(
        uow(), review_id, "confirm-qbr-scope", "andy@msp.example", hours=1.5
    ),
    # without hours the review row itself is not written, so its version cannot pick a winner
    "done-without-hours": lambda uow, review_id: complete_task(
        uow(), review_id, "confirm-qbr-scope", "andy@msp.example"
    ),
    "skipped": lambda uow, review_id: skip_task(
        uow(), review_id, "confirm-qbr-scope", "andy@msp.example", reason="covered last month"
    ),
}


@pytest.mark.parametrize("how", list(CLOSE_THE_TASK))
def test_threads_closing_one_task_close_it_once(
    uow: UowFactory, catalog: dict[str, Template], how: str
) -> None:
    review_id = open_qbr(uow, catalog)
    before = trail(uow, review_id)

    outcomes = race(lambda: CLOSE_THE_TASK[how](uow, review_id))

    assert_one_winner(outcomes, "already")
    trigger = "task_skipped" if how == "skipped" else "task_done"
    with uow() as work:
        review = work.session.get(Review, review_id)
        assert review is not None
        task = next(t for t in review.tasks if t.key == "confirm-qbr-scope")
        assert task.status == ("skipped" if how == "skipped" else "done")
        assert review.actual_hours == (1.5 if how == "done-with-hours" else 0)
        closing_rows = work.session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.review_id == review_id, AuditEntry.trigger == trigger)
        )
    assert closing_rows == 1
    assert trail(uow, review_id).audit == before.audit + 1
