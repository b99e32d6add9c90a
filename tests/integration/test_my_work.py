"""My work on real databases: each person sees the gates they decide (a client's own holder of
a role before everyone holding it; a client's contact only for their clients), their open
tasks overdue first, the reviews they work or decide past the status-age warning, and what
others did on their reviews since their last look."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import update

from states import directory
from states.calendar.opening import start_review
from states.errors import NotFound
from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.read import work_lists
from states.read.my_work import MyWork, my_work
from states.read.views import review_view
from states.store.models import Review, ReviewTask, utcnow
from states.templates.schema import Template
from tests.conftest import UowFactory

OPS = "olga@msp.example"  # ops_manager: accountable for needed, everywhere
ACCOUNT = "andy@msp.example"  # account_manager: the needed tasks are theirs
VCIO = "vera@msp.example"  # vcio and ceo
SUPPORT = "sam@msp.example"
CONTACT = "carl@client.example"  # client_contact


def mine(
    uow: UowFactory,
    email: str,
    now: datetime | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> MyWork:
    with uow() as work:
        person_id = directory.person_by_email(work.session, email).id
    return my_work(uow(), person_id, now or utcnow(), since, limit)


def start(
    uow: UowFactory,
    catalog: dict[str, Template],
    client: str,
    days: int = 60,
    template: str | None = None,
    now: datetime | None = None,
) -> int:
    """A review of `client` with its meeting `days` from now."""
    meeting = (utcnow() + timedelta(days=days)).strftime("%Y-%m-%dT10:00")
    return start_review(uow(), client, catalog, template, meeting, now=now)


def close_phase(uow: UowFactory, review_id: int, now: datetime | None = None) -> None:
    """Each assignee closes the open tasks of the review's phase."""
    review = review_view(uow(), review_id)
    for task in review.tasks:
        if task.phase == review.status and task.status == "open":
            complete_task(uow(), review_id, task.key, task.assignee or OPS, now=now)


def gate_ids(work: MyWork) -> list[int]:
    return [gate.review_id for gate in work.gates]


def test_gates_wait_for_the_accountable_person_ready_ones_first(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    soon = start(uow, catalog, "Client qbr", days=40)
    later = start(uow, catalog, "Client btr", days=80)
    close_phase(uow, later)  # ready: its needed tasks are done; `soon` still has one open

    olga = mine(uow, OPS)
    assert gate_ids(olga) == [later, soon]  # ready first, though its meeting is later
    assert olga.gates_total == 2
    ready, waiting = olga.gates
    assert (ready.ready, ready.open_required) == (True, 0)
    assert (waiting.ready, waiting.open_required) == (False, 1)
    assert waiting.review_name == review_view(uow(), soon).name
    assert (waiting.client, waiting.phase, waiting.zone) == (
        "Client qbr",
        "needed",
        "America/New_York",
    )
    assert waiting.meeting_at == review_view(uow(), soon).meeting_at
    for other in (ACCOUNT, VCIO, SUPPORT, CONTACT):  # none of them decides needed
        assert mine(uow, other).gates == ()

    first = mine(uow, OPS, limit=1)
    assert (gate_ids(first), first.gates_total) == ([later], 2)

    # approved into a full phase, a review waits in its queue: nobody is asked again
    with uow() as work:
        work.session.execute(
            update(Review).where(Review.id == later).values(queued_for="scheduling")
        )
        work.commit()
    olga = mine(uow, OPS)
    assert (gate_ids(olga), olga.gates_total) == ([soon], 1)

    with pytest.raises(NotFound, match="unknown person"):
        my_work(uow(), 10**6, utcnow(), None)


def test_a_clients_own_holder_of_a_role_decides_instead_of_everyone_holding_it(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    directory.assign_role(uow(), "Client trs", "ops_manager", VCIO)
    own = start(uow, catalog, "Client trs")
    shared = start(uow, catalog, "Client qbr")

    assert gate_ids(mine(uow, OPS)) == [shared]  # not trs: it has its own ops manager
    vera = mine(uow, VCIO)
    assert (gate_ids(vera), vera.gates_total) == ([own], 1)  # and no other client's


def test_a_client_contact_decides_only_for_their_own_clients(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    """A template whose needed gate the client's contact decides, beside others' reviews in
    needed that the ops manager decides: each sees only their own."""
    data = catalog["qbr"].model_dump(mode="json")
    data["name"] = "qbr-contact"
    data["phases"]["needed"]["raci"]["accountable"] = "client_contact"
    catalog = {**catalog, "qbr-contact": Template.model_validate(data)}
    directory.assign_role(uow(), "Client qbr", "client_contact", CONTACT)
    theirs = start(uow, catalog, "Client qbr", template="qbr-contact")
    another_clients = start(uow, catalog, "Client btr", template="qbr-contact")
    ops = start(uow, catalog, "Client btr")  # btr's own template: the ops manager decides

    carl = mine(uow, CONTACT)
    assert (gate_ids(carl), carl.gates_total) == ([theirs], 1)
    olga = mine(uow, OPS)
    assert (gate_ids(olga), olga.gates_total) == ([ops], 1)
    assert another_clients not in gate_ids(mine(uow, VCIO))


def test_each_review_is_judged_by_its_own_snapshot(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    """qbr edited between two starts: the ceo decides needed in the newer review only."""
    old = start(uow, catalog, "Client qbr")
    data = catalog["qbr"].model_dump(mode="json")
    data["phases"]["needed"]["raci"]["accountable"] = "ceo"
    edited = {**catalog, "qbr": Template.model_validate(data)}
    new = start(uow, edited, "Client btr", template="qbr")

    assert gate_ids(mine(uow, OPS)) == [old]
    assert gate_ids(mine(uow, VCIO)) == [new]


def test_open_tasks_overdue_first_then_by_due_date(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    now = utcnow()
    qbr = start(uow, catalog, "Client qbr")
    btr = start(uow, catalog, "Client btr")
    ended = start(uow, catalog, "Client trs")
    decide(uow(), DecisionRequest(ended, DecisionKind.CANCEL, OPS, "the client left"))
    due = {
        (btr, "check-agreement"): now - timedelta(days=2),
        (qbr, "confirm-qbr-scope"): now - timedelta(days=1),
        (btr, "set-staging-due-date"): now + timedelta(days=1),
    }
    with uow() as work:  # only these have a due date
        work.session.execute(update(ReviewTask).values(due_at=None))
        for (review_id, key), at in due.items():
            work.session.execute(
                update(ReviewTask)
                .where(ReviewTask.review_id == review_id, ReviewTask.key == key)
                .values(due_at=at)
            )
        work.commit()

    andy = mine(uow, ACCOUNT, now=now)
    assert [(t.review_id, t.key) for t in andy.tasks[:3]] == list(due)
    assert [t.overdue for t in andy.tasks[:4]] == [True, True, False, False]
    assert andy.tasks[0].due_at == due[btr, "check-agreement"]
    assert all(t.due_at is None for t in andy.tasks[3:])
    assert ended not in {t.review_id for t in andy.tasks}  # cancelled: nobody's work now
    assert (andy.tasks_total, andy.tasks_overdue) == (len(andy.tasks), 2)
    by_key = {t.key: t for t in andy.tasks}
    assert (by_key["confirm-qbr-scope"].current, by_key["finalise-agenda"].current) == (True, False)
    assert by_key["confirm-qbr-scope"].phase == "needed"
    assert (by_key["confirm-qbr-scope"].client, by_key["confirm-qbr-scope"].zone) == (
        "Client qbr",
        "America/New_York",
    )
    assert mine(uow, VCIO, now=now).tasks == ()

    first = mine(uow, ACCOUNT, now=now, limit=2)
    assert [t.key for t in first.tasks] == ["check-agreement", "confirm-qbr-scope"]
    assert first.tasks_total == andy.tasks_total


def test_stale_reviews_show_to_whoever_works_or_decides_their_phase(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    started = utcnow()
    review_id = start(uow, catalog, "Client qbr", days=120, now=started)
    later = started + timedelta(days=31)  # needed warns after 30 days

    for email in (OPS, ACCOUNT):  # accountable, responsible
        stale = mine(uow, email, now=later)
        assert [s.review_id for s in stale.stale] == [review_id]
        assert stale.stale_total == 1
        assert stale.stale[0].days_in_phase == 31.0
        assert (stale.stale[0].phase, stale.stale[0].client) == ("needed", "Client qbr")
    assert mine(uow, SUPPORT, now=later).stale == ()
    assert mine(uow, OPS, now=started + timedelta(days=29)).stale == ()


@pytest.fixture(params=["through each review", "newest first"])
def read_changes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Both ways of reading what changed: through the reviews' own audit rows (few reviews)
    and the trail newest first, from a first row found by probing two ids a round (the
    thresholds set low, rather than reviews and audit rows made by the hundred)."""
    if request.param == "newest first":
        monkeypatch.setattr(work_lists, "FEW_REVIEWS", 0)
        monkeypatch.setattr(work_lists, "PROBES", 2)


@pytest.mark.usefixtures("read_changes")
def test_what_changed_since_the_last_look_leaves_out_ones_own_and_older_steps(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    started = utcnow()
    review_id = start(uow, catalog, "Client qbr", now=started)
    other = start(uow, catalog, "Client btr", now=started)  # Andy's too, not Olga's own step
    complete_task(
        uow(),
        review_id,
        "confirm-qbr-scope",
        ACCOUNT,
        "scope agreed",
        now=started + timedelta(hours=1),
    )
    approval = DecisionRequest(review_id, DecisionKind.APPROVE, OPS, "go")
    decide(uow(), approval, now=started + timedelta(hours=2))
    now = started + timedelta(hours=3)

    olga = mine(uow, OPS, now=now, since=started + timedelta(minutes=30))
    assert [(c.review_id, c.trigger, c.actor) for c in olga.changes] == [
        (review_id, "task_done", "Andy Account")  # her own approval is not news to her
    ]
    step = olga.changes[0]
    assert (step.from_state, step.to_state) == ("needed", "needed")
    assert step.comment == "confirm-qbr-scope: scope agreed"
    assert step.review_name == review_view(uow(), review_id).name
    assert step.at == started + timedelta(hours=1)
    assert step.to_json()["from"] == "needed"

    andy = mine(uow, ACCOUNT, now=now, since=started + timedelta(minutes=30))
    assert [(c.review_id, c.trigger, c.actor) for c in andy.changes] == [
        (review_id, "begin_scheduling", "Olga Ops")  # he holds tasks of its later phases
    ]
    assert mine(uow, OPS, now=now, since=started + timedelta(minutes=90)).changes == ()

    week = mine(uow, OPS, now=now, since=None)  # never seen: the last 7 days
    assert week.since == now - timedelta(days=7)
    assert [(c.review_id, c.trigger) for c in week.changes] == [
        (review_id, "task_done"),
        (other, "start"),
        (review_id, "start"),
    ]
    assert week.changes[-1].actor == "xbr"  # no person: as the trail names it
    assert mine(uow, SUPPORT, now=now, since=started - timedelta(hours=1)).changes != ()
    assert mine(uow, CONTACT, now=now, since=None).changes == ()
