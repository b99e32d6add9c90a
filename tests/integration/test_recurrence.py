"""The account calendar on real databases: first reviews, next reviews by cadence and lead time,
follow-up's next review, and overlapping passes that create nothing twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from states.calendar.recurrence import calendar_pass, ensure_next_review
from states.lifecycle.decisions import DecisionKind, DecisionRequest, decide
from states.store.models import Review
from states.templates.schema import Template
from tests.conftest import UowFactory, staffed
from tests.team import walk

NOW = datetime(2026, 11, 16, 15, tzinfo=UTC)
CLIENT = "Client qbr"


def open_reviews(uow: UowFactory) -> dict[str, int]:
    with uow() as work:
        rows = work.session.execute(
            select(Review.client_id, func.count())
            .where(Review.status.not_in(["follow_up", "qa_review", "closed", "cancelled"]))
            .group_by(Review.client_id)
        )
        return {str(client): count for client, count in rows}


def test_every_client_with_a_cadence_gets_its_first_review_once(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    first = calendar_pass(uow(), catalog, NOW)
    opened = [p for p in first if p.review_id]
    assert opened
    assert {p.reason for p in opened} == {"first review"}
    assert set(open_reviews(uow).values()) == {1}
    assert [p.reason for p in first if not p.review_id] == ["ad hoc"]  # asked for when needed
    # every client has its review now, and the ad hoc one is not read again
    assert calendar_pass(uow(), catalog, NOW) == []


def test_overlapping_passes_create_nothing_twice(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    results: list[Any] = []

    def one_pass() -> None:
        try:
            results.append(calendar_pass(uow(), catalog, NOW))
        except Exception as error:  # kept for the assertion
            results.append(error)

    threads = [threading.Thread(target=one_pass) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not [r for r in results if isinstance(r, Exception)], results
    assert set(open_reviews(uow).values()) == {1}


def test_follow_up_opens_the_next_review_and_the_calendar_waits_for_its_window(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    meeting = (NOW + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    from states.calendar.opening import start_review

    review_id = start_review(uow(), CLIENT, catalog, "qbr", meeting, now=NOW)
    assert ensure_next_review(uow(), catalog, CLIENT, NOW).reason.startswith("exists")
    walk(uow, review_id, "qa_review")

    # the QBR met; its next one is due a quarter later, opened 8 weeks before that
    plan = ensure_next_review(uow(), catalog, CLIENT, NOW)
    assert plan.reason == "not yet"
    assert plan.meeting_due is not None
    early = ensure_next_review(uow(), catalog, CLIENT, NOW, early=True)  # follow-up's last step
    assert early.review_id is not None
    from states.read.views import review_view

    # named after the quarter its meeting is due in, not the day it was opened
    due_quarter = f"{plan.meeting_due.year}-q{(plan.meeting_due.month - 1) // 3 + 1}"
    assert review_view(uow(), early.review_id).to_json()["period"] == due_quarter
    assert ensure_next_review(uow(), catalog, CLIENT, NOW, early=True).review_id is None
    decide(uow(), DecisionRequest(early.review_id, DecisionKind.CANCEL, "olga@msp.example", "x"))

    due = datetime.combine(plan.meeting_due - timedelta(weeks=8), NOW.timetz())
    assert ensure_next_review(uow(), catalog, CLIENT, due - timedelta(days=1)).reason == "not yet"
    assert ensure_next_review(uow(), catalog, CLIENT, due).review_id is not None


def test_the_calendar_looks_at_a_client_again_only_when_its_next_review_opens(
    sqlite_uow: UowFactory, catalog: dict[str, Template]
) -> None:
    from states.calendar.opening import start_review
    from states.calendar.recurrence import clients_without_next_review

    meeting = (NOW + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    review_id = start_review(sqlite_uow(), CLIENT, catalog, "qbr", meeting, now=NOW)
    walk(sqlite_uow, review_id, "qa_review")
    plan = ensure_next_review(sqlite_uow(), catalog, CLIENT, NOW)
    assert plan.reason == "not yet"
    assert plan.meeting_due is not None
    opens = plan.meeting_due - timedelta(weeks=8)

    def waiting(day: datetime) -> set[str]:
        with sqlite_uow() as work:
            return {c.name for c in clients_without_next_review(work.session, day.date())}

    assert CLIENT not in waiting(NOW)
    assert CLIENT in waiting(datetime.combine(opens, NOW.timetz()))


def test_a_calendar_pass_racing_follow_up_opens_one_next_review(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    from states.calendar.opening import start_review

    meeting = (NOW + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    review_id = start_review(uow(), CLIENT, catalog, "qbr", meeting, now=NOW)
    walk(uow, review_id, "qa_review")
    with uow() as work:  # it met long ago: its next review is due now
        work.session.get(Review, review_id).meeting_at = NOW - timedelta(weeks=20)  # type: ignore[union-attr]
        work.commit()
    results: list[Any] = []

    def calendar() -> None:
        results.append(calendar_pass(uow(), catalog, NOW))

    def follow_up() -> None:
        results.append(ensure_next_review(uow(), catalog, CLIENT, NOW, early=True))

    threads = [threading.Thread(target=t) for t in (calendar, follow_up) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with uow() as work:
        opened = work.session.scalar(
            select(func.count()).where(
                Review.client_id == Review.client_id,
                Review.status == "needed",
                Review.type == "qbr",
            )
        )
    assert opened == 1


def test_a_review_opened_while_a_batch_is_read_leaves_the_rest_of_the_batch_opened(
    postgres_url: str, catalog: dict[str, Template]
) -> None:
    """A batch's reviews are inserted together. When a coordinator opens one of them between
    the pass's list and its insert, the database refuses the batch, the pass does it again
    client by client, and that client keeps the coordinator's review."""
    from sqlalchemy import event

    from states.calendar.opening import start_review
    from states.store import db

    engine = db.make_engine(postgres_url)
    db.upgrade(engine)
    uow = staffed(engine, catalog)
    raced: list[int] = []

    def coordinator_first(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not raced and "clients.id IN" in statement:  # the batch reads its clients
            raced.append(start_review(uow(), CLIENT, catalog, "qbr", now=NOW))

    event.listen(engine, "before_cursor_execute", coordinator_first)
    try:
        plans = calendar_pass(uow(), catalog, NOW)
    finally:
        event.remove(engine, "before_cursor_execute", coordinator_first)
    by_client = {p.client: p for p in plans}
    assert raced
    assert by_client[CLIENT].review_id is None
    assert by_client[CLIENT].reason.startswith("exists")
    others = [p for p in plans if p.client != CLIENT and p.reason == "first review"]
    assert others
    assert all(p.review_id for p in others)
    assert set(open_reviews(uow).values()) == {1}
    engine.dispose()
