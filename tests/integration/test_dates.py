"""Dates that make sense: due dates skip the client's holidays, delivery waits for the meeting,
and a review started without a run is left without one until asked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from states.calendar.client_edit import ClientEdit, edit_client
from states.calendar.opening import start_review
from states.errors import IllegalTrigger, InvalidInput, Refused
from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.lifecycle.run_records import open_review_runs, release_run
from states.read.views import review_view
from states.store.models import Review
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.integration.conftest import snapshot
from tests.team import walk

# A Monday: staging of a QBR counts business days back from it, across New Year and Epiphany
MEETING = "2027-01-11T10:00"
START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)


def _due(uow: UowFactory, review_id: int) -> dict[str, datetime]:
    return {t.key: t.due for t in review_view(uow(), review_id).tasks if t.due}


def test_a_clients_holidays_move_its_due_dates_and_wake(
    sqlite_uow: UowFactory, catalog: dict[str, Template]
) -> None:
    """The same review's dates skip Bavaria's holidays once the client is in Bavaria, and
    fall back when it is moved to Berlin."""
    uow = sqlite_uow
    review_id = start_review(uow(), "Client qbr", catalog, meeting=MEETING, now=START)
    plain = _due(uow, review_id)
    client, moved = edit_client(uow(), catalog, "Client qbr", ClientEdit("de", "by"))
    assert (client.country, client.subdivision, moved) == ("DE", "BY", 1)
    bavaria = _due(uow, review_id)
    assert bavaria != plain
    days = {d.astimezone(UTC).date() for d in bavaria.values()}
    assert not days & {datetime(2027, 1, 1).date(), datetime(2027, 1, 6).date()}
    edit_client(uow(), catalog, "Client qbr", ClientEdit(subdivision="BE"))
    assert _due(uow, review_id) != bavaria  # Epiphany is a working day in Berlin


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (ClientEdit(country="ZZ"), "unknown country 'ZZ'"),
        (ClientEdit(country="DE", subdivision="NY"), "country DE has no subdivision 'NY'"),
        (ClientEdit(timezone="Mars/Base"), "unknown time zone"),
    ],
)
def test_an_unknown_place_changes_nothing(
    database_url: str, uow: UowFactory, catalog: dict[str, Template], edit: ClientEdit, message: str
) -> None:
    """One clear error, and no change."""
    start_review(uow(), "Client qbr", catalog, meeting=MEETING, now=START)
    before = snapshot(database_url)
    with pytest.raises(InvalidInput, match=message):
        edit_client(uow(), catalog, "Client qbr", edit)
    assert snapshot(database_url) == before


def test_delivery_is_refused_before_the_meeting_and_nothing_changes(
    database_url: str, uow: UowFactory, catalog: dict[str, Template]
) -> None:
    """Approving delivery an hour before the meeting is refused, naming the meeting in the
    client's zone; once it has started, the same approval goes through."""
    meeting = (datetime.now(UTC) + timedelta(weeks=6)).replace(microsecond=0)
    review_id = start_review(
        uow(), "Client qbr", catalog, meeting=meeting.strftime("%Y-%m-%dT%H:%M+00:00")
    )
    walk(uow, review_id, "delivery")
    for task in review_view(uow(), review_id).tasks:
        if task.phase == "delivery" and task.status == "open":
            complete_task(uow(), review_id, task.key, task.assignee or "")
    meeting_at = review_view(uow(), review_id).meeting_at
    assert meeting_at is not None
    assert meeting_at > datetime.now(UTC)
    before = snapshot(database_url)
    approver = review_view(uow(), review_id).gate.eligible_approvers[0]  # type: ignore[union-attr]
    request = DecisionRequest(review_id, DecisionKind.APPROVE, approver)
    with pytest.raises(Refused, match="delivery cannot be approved before the client meeting"):
        decide(uow(), request, now=meeting_at - timedelta(hours=1))
    assert snapshot(database_url) == before
    result = decide(uow(), request, now=meeting_at + timedelta(minutes=1))
    assert result.to_phase == "follow_up"


def _runs_wanted(uow: UowFactory, now: datetime) -> set[int]:
    return {r.review_id for r in open_review_runs(uow(), now)}


def test_a_review_held_without_a_run_is_left_alone_until_released(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    """Two sweeps past the grace period ask for no run for a review started with --no-flow;
    releasing it (`xbr review run`) makes the next sweep give it one. An ended one is refused."""
    held = start_review(uow(), "Client qbr", catalog, meeting=MEETING, held=True)
    free = start_review(uow(), "Client btr", catalog, meeting=MEETING)
    later = datetime.now(UTC) + timedelta(minutes=10)
    for sweep in (later, later + timedelta(hours=25)):
        wanted = _runs_wanted(uow, sweep)
        assert held not in wanted
        assert free in wanted
    assert release_run(uow(), held) == (None, 0)
    assert held in _runs_wanted(uow, later)
    with uow() as work:
        row = work.session.get(Review, held)
        assert row is not None
        assert not row.run_held
        row.status = "cancelled"
        work.commit()
    with pytest.raises(IllegalTrigger, match=f"review {held} is cancelled; an ended review"):
        release_run(uow(), held)


def test_a_second_review_for_the_same_period_gets_its_own_name(
    sqlite_uow: UowFactory, catalog: dict[str, Template]
) -> None:
    """A meeting moved within one quarter must not give two of a client's reviews one name
    (their runs, reports and links are named by it)."""
    uow = sqlite_uow
    first = start_review(uow(), "Client qbr", catalog, meeting=MEETING, now=START)
    decide(uow(), DecisionRequest(first, DecisionKind.CANCEL, "olga@msp.example", "moved"))
    second = start_review(uow(), "Client qbr", catalog, meeting="2027-02-15T10:00", now=START)
    third_meeting = "2027-03-01T10:00"
    decide(uow(), DecisionRequest(second, DecisionKind.CANCEL, "olga@msp.example", "again"))
    third = start_review(uow(), "Client qbr", catalog, meeting=third_meeting, now=START)
    names = [review_view(uow(), r).name for r in (first, second, third)]
    assert names == [
        "client-qbr-qbr-2027-q1",
        "client-qbr-qbr-2027-q1-2",
        "client-qbr-qbr-2027-q1-3",
    ]
    other = start_review(uow(), "Client btr", catalog, meeting=MEETING, now=START)
    assert review_view(uow(), other).name.endswith("-2027-q1")  # another client's is its own
