"""The store on both databases: starting reviews (tasks, assignees, due dates), hours worked,
and bad input that is refused with the right error and no partial write."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from deploy import cli
from states import directory
from states.calendar.business_days import Anchor
from states.calendar.opening import start_review
from states.errors import (
    AlreadyDecided,
    IllegalTrigger,
    InvalidInput,
    NotFound,
    Refused,
    XbrError,
)
from states.lifecycle.decisions import (
    DecisionKind,
    DecisionRequest,
    complete_task,
    decide,
    skip_task,
)
from states.store import db
from states.store.models import Base, Person, Review, ReviewTask
from states.templates.schema import Template
from tests.conftest import STAFF, UowFactory

ANDY = "andy@msp.example"  # account_manager
OLGA = "olga@msp.example"  # ops_manager, exec_assistant: accountable for needed and scheduling
MONDAY = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Task:
    """A task row as read inside its unit of work (rows expire when the unit ends)."""

    key: str
    phase: str
    title: str
    role: str
    kind: str
    required: bool
    status: str
    assignee: str | None
    due_at: datetime | None
    hours: float


def review_tasks(uow: UowFactory, review_id: int) -> list[Task]:
    with uow() as work:
        review = work.session.get(Review, review_id)
        assert review is not None
        return [
            Task(
                t.key,
                t.phase,
                t.title,
                t.role,
                t.kind,
                t.required,
                t.status,
                t.assignee.email if t.assignee else None,
                t.due_at,
                t.hours,
            )
            for t in review.tasks
        ]


def holders() -> dict[str, set[str]]:
    """Role -> emails of everyone on the staff holding it."""
    found: dict[str, set[str]] = {}
    for _, email, roles in STAFF:
        for role in roles:
            found.setdefault(role, set()).add(email)
    return found


def emails_by_key(uow: UowFactory, review_id: int) -> dict[str, str | None]:
    return {t.key: t.assignee for t in review_tasks(uow, review_id)}


def test_people_are_listed_with_their_roles(uow: UowFactory) -> None:
    people = directory.list_people(uow())

    listed = {(p.name, p.email, tuple(p.roles)) for p in people}
    assert listed == {(name, email, tuple(sorted(roles))) for name, email, roles in STAFF}


def test_start_review_instantiates_every_template_task(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    staff = holders()
    for name, template in catalog.items():
        review_id = start_review(uow(), f"Client {name}", catalog, name, now=MONDAY)
        specs = [(phase.value, spec) for phase, spec in template.tasks()]
        tasks = review_tasks(uow, review_id)
        assignee = {t.key: t.assignee for t in tasks}

        assert [t.key for t in tasks] == [spec.key for _, spec in specs], name
        for task, (phase, spec) in zip(tasks, specs, strict=True):
            assert (task.phase, task.title, task.role) == (phase, spec.title, spec.role.value)
            assert (task.kind, task.required, task.status) == (spec.kind, spec.required, "open")
            # the first of the task's roles that anybody may take decides who gets it;
            # nobody verifies a task they were given themselves
            avoid = {assignee[key] for key in spec.verifies}
            candidates = next(
                staff[r.value] - avoid for r in spec.roles if staff.get(r.value, set()) - avoid
            )
            assert task.assignee in candidates, f"{name}/{task.key}"
            # without a meeting only the start-relative dates are known
            starts = spec.due is not None and spec.due.anchor is Anchor.START
            assert (task.due_at is not None) == starts, f"{name}/{task.key}"


def test_due_dates_follow_the_meeting_in_the_clients_zone(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    # Client qbr is in America/New_York; daylight saving starts there on 2026-03-08.
    review_id = start_review(
        uow(), "Client qbr", catalog, "qbr", meeting="2026-04-15T14:00", now=MONDAY
    )
    due = {t.key: t.due_at for t in review_tasks(uow, review_id)}

    def at(day: str, hour: int) -> datetime:
        return datetime.fromisoformat(f"{day}T{hour:02}:00").replace(tzinfo=UTC)

    assert all(due.values()), [k for k, v in due.items() if v is None]
    assert due["confirm-qbr-scope"] == at("2026-03-04", 22)  # start + 2 business days, EST
    assert due["schedule-qbr"] == at("2026-03-09", 21)  # start + 5, EDT
    assert due["ticket-sla-csat-report"] == at("2026-04-06", 21)  # 5 before the prep meeting
    assert due["review-quarter-metrics"] == at("2026-04-13", 21)  # prep: 2 before the meeting
    assert due["deliver-qbr"] == at("2026-04-15", 21)  # the meeting day
    assert due["create-qbr-follow-ups"] == at("2026-04-17", 21)  # post-meeting + 1
    assert due["email-qbr-summary"] == at("2026-04-20", 21)  # post-meeting + 2, over a weekend
    with uow() as work:
        review = work.session.get(Review, review_id)
        assert review is not None
        assert review.meeting_at == at("2026-04-15", 18)


def test_work_goes_to_the_least_loaded_holder_of_the_role(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    # ad-hoc's gather-context is for a support engineer: Sam and Tina (Sam was added first).
    def engineer_of_new_review() -> str | None:
        review_id = start_review(uow(), "Client ad-hoc", catalog, "ad-hoc")
        return emails_by_key(uow, review_id)["gather-context"]

    first = start_review(uow(), "Client ad-hoc", catalog, "ad-hoc")
    assert emails_by_key(uow, first)["gather-context"] == "sam@msp.example"
    assert engineer_of_new_review() == "tina@msp.example"
    assert engineer_of_new_review() == "sam@msp.example"  # even again: first added wins a tie
    assert engineer_of_new_review() == "tina@msp.example"
    # closed work no longer counts: once Sam's first task is skipped, Sam has the least
    skip_task(uow(), first, "gather-context", "sam@msp.example", reason="nothing to gather")
    assert engineer_of_new_review() == "sam@msp.example"


@pytest.fixture
def small_team(engine: Engine, catalog: dict[str, Template]) -> UowFactory:
    """Nobody is an exec assistant; Lee leads the team; two support engineers."""

    def uow() -> db.UnitOfWork:
        return db.UnitOfWork(engine)

    for name, email, roles in [
        ("Andy Account", ANDY, ["account_manager"]),
        ("Olga Ops", OLGA, ["ops_manager"]),
        ("Lee Lead", "lee@msp.example", ["team_lead"]),
        ("Sam Support", "sam@msp.example", ["support_engineer"]),
        ("Tina Tech", "tina@msp.example", ["support_engineer"]),
    ]:
        directory.add_person(uow(), name, email, roles)
    directory.add_client(uow(), "Client qbr", "quarterly", "qbr", "America/New_York", catalog)
    return uow


def test_a_backup_role_steps_in_when_nobody_holds_the_role(
    small_team: UowFactory, catalog: dict[str, Template]
) -> None:
    review_id = start_review(small_team(), "Client qbr", catalog, "qbr")
    assignee = emails_by_key(small_team, review_id)

    assert assignee["schedule-qbr"] == "lee@msp.example"  # exec_assistant, backup team_lead
    assert assignee["ask-client-for-topics"] == "lee@msp.example"
    assert assignee["create-qbr-follow-ups"] is None  # exec_assistant only: left for a person
    assert assignee["confirm-qbr-scope"] == ANDY


def test_the_client_own_role_holder_comes_first(
    small_team: UowFactory, catalog: dict[str, Template]
) -> None:
    directory.assign_role(small_team(), "Client qbr", "support_engineer", "tina@msp.example")
    review_id = start_review(small_team(), "Client qbr", catalog, "qbr")
    assignee = emails_by_key(small_team, review_id)

    support = ["ticket-sla-csat-report", "security-report", "patch-av-reports", "check-warranties"]
    assert {assignee[key] for key in support} == {"tina@msp.example"}


def test_a_verification_goes_to_someone_else(uow: UowFactory, catalog: dict[str, Template]) -> None:
    review_id = start_review(uow(), "Client xbr-sop", catalog, "xbr-sop")
    assignee = emails_by_key(uow, review_id)
    verifiers = [spec for _, spec in catalog["xbr-sop"].tasks() if spec.verifies]

    assert {spec.key for spec in verifiers} == {"verify-lci-tabs", "verify-reports"}
    for spec in verifiers:
        checked = {assignee[key] for key in spec.verifies}
        assert assignee[spec.key] is not None
        assert assignee[spec.key] not in checked, (spec.key, checked)
    # both interns uploaded reports, so the reports fall to the backup role
    uploaders = {assignee[key] for key in catalog["xbr-sop"].phase("prep").verifies}
    assert uploaders == {"ivan@msp.example", "tina@msp.example"}
    assert assignee["verify-reports"] == "sam@msp.example"


def test_hours_worked_add_up_on_the_review(
    engine: Engine,
    uow: UowFactory,
    catalog: dict[str, Template],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    review_id = start_review(uow(), "Client qbr", catalog, "qbr")
    complete_task(uow(), review_id, "confirm-qbr-scope", ANDY, note="in scope", hours=1.5)
    decide(uow(), DecisionRequest(review_id, DecisionKind.APPROVE, OLGA, phase="needed"))
    complete_task(uow(), review_id, "schedule-qbr", OLGA, hours=0.25)

    monkeypatch.setenv("XBR_DATABASE_URL", engine.url.render_as_string(hide_password=False))
    argv = ["task", "done", str(review_id), "ask-client-for-topics", "--as", OLGA]
    code = cli.run([*argv, "--hours", "2"])  # it closes the database it opened
    assert code == 0, capsys.readouterr().err

    with uow() as work:
        review = work.session.get(Review, review_id)
        assert review is not None
        hours = {t.key: t.hours for t in review.tasks if t.status == "done"}
        assert review.actual_hours == pytest.approx(3.75)
    assert hours == {"confirm-qbr-scope": 1.5, "schedule-qbr": 0.25, "ask-client-for-topics": 2}


def dump(uow: UowFactory) -> dict[str, Any]:
    """Everything a refused call could have touched: row counts and the reviews' state."""
    with uow() as work:
        s = work.session
        return {
            "rows": {
                table.name: s.scalar(select(func.count()).select_from(table))
                for table in Base.metadata.sorted_tables
            },
            "reviews": s.execute(
                select(
                    Review.id,
                    Review.version,
                    Review.status,
                    Review.round,
                    Review.meeting_at,
                    Review.actual_hours,
                ).order_by(Review.id)
            ).all(),
            "tasks": s.execute(
                select(
                    ReviewTask.id,
                    ReviewTask.status,
                    ReviewTask.completed_by_id,
                    ReviewTask.hours,
                    ReviewTask.due_at,
                ).order_by(ReviewTask.id)
            ).all(),
            "people": s.scalars(select(Person.email).order_by(Person.id)).all(),
        }


Call = Callable[[UowFactory, dict[str, Template], dict[str, int]], object]


def _approve(actor: str, review: str = "needed", **extra: Any) -> Call:
    def call(uow: UowFactory, _: dict[str, Template], ids: dict[str, int]) -> object:
        request = DecisionRequest(ids[review], DecisionKind.APPROVE, actor, **extra)
        return decide(uow(), request)

    return call


BAD_INPUT: dict[str, tuple[Call, type[XbrError], str]] = {
    "unknown client": (
        lambda uow, cat, _: start_review(uow(), "Nobody Ltd", cat),
        NotFound,
        "unknown client 'Nobody Ltd'",
    ),
    "unknown template": (
        lambda uow, cat, _: start_review(uow(), "Client btr", cat, "nope"),
        NotFound,
        "unknown template 'nope'",
    ),
    "unknown person closing a task": (
        lambda uow, _, ids: complete_task(
            uow(), ids["needed"], "confirm-qbr-scope", "nobody@msp.example"
        ),
        NotFound,
        "unknown person 'nobody@msp.example'",
    ),
    "unknown person deciding": (_approve("nobody@msp.example"), NotFound, "unknown person"),
    "unknown review": (
        lambda uow, _, ids: decide(uow(), DecisionRequest(9999, DecisionKind.APPROVE, OLGA)),
        NotFound,
        "unknown review 9999",
    ),
    "unknown task": (
        lambda uow, _, ids: complete_task(uow(), ids["needed"], "no-such-task", ANDY),
        NotFound,
        "has no task 'no-such-task'",
    ),
    "approver without the role": (_approve(ANDY), Refused, "not accountable for the needed gate"),
    "open required tasks": (_approve(OLGA), Refused, "required tasks still open in needed"),
    "meeting in the past at start": (
        lambda uow, cat, _: start_review(uow(), "Client btr", cat, meeting="2020-01-06T10:00"),
        InvalidInput,
        "in the past",
    ),
    "meeting in the past at scheduling": (
        _approve(OLGA, review="scheduling", meeting="2020-01-06T10:00"),
        Refused,
        "in the past",
    ),
    "no meeting at scheduling": (
        _approve(OLGA, review="scheduling"),
        Refused,
        "no meeting date is set",
    ),
    "meeting that is not a date": (
        _approve(OLGA, review="scheduling", meeting="next tuesday"),
        InvalidInput,
        "not an ISO date-time",
    ),
    "second open review of a type": (
        lambda uow, cat, _: start_review(uow(), "Client qbr", cat, "qbr"),
        InvalidInput,
        "already has open qbr review",
    ),
    "hours out of range": (
        lambda uow, _, ids: complete_task(
            uow(), ids["needed"], "confirm-qbr-scope", ANDY, hours=5000
        ),
        InvalidInput,
        "--hours 5000",
    ),
    "skip without a reason": (
        lambda uow, _, ids: skip_task(uow(), ids["needed"], "confirm-qbr-scope", ANDY, " "),
        InvalidInput,
        "needs a reason",
    ),
    "task of a later phase": (
        lambda uow, _, ids: complete_task(uow(), ids["needed"], "deliver-qbr", ANDY),
        Refused,
        "approve the gates before it first",
    ),
    "someone else's task": (
        lambda uow, _, ids: complete_task(
            uow(), ids["needed"], "confirm-qbr-scope", "ivan@msp.example"
        ),
        Refused,
        "may not close task confirm-qbr-scope",
    ),
    "task already done": (
        lambda uow, _, ids: complete_task(uow(), ids["scheduling"], "capture-request", ANDY),
        AlreadyDecided,
        "already done by andy@msp.example",
    ),
    "trigger not possible here": (
        lambda uow, _, ids: decide(
            uow(), DecisionRequest(ids["needed"], DecisionKind.REOPEN, OLGA, comment="again")
        ),
        IllegalTrigger,
        "reopen is not possible in needed",
    ),
    "cancel without a reason": (
        lambda uow, _, ids: decide(
            uow(), DecisionRequest(ids["needed"], DecisionKind.CANCEL, OLGA)
        ),
        Refused,
        "needs a reason",
    ),
    "gate already left": (
        _approve(OLGA, review="scheduling", phase="needed", meeting="2036-01-07T10:00"),
        AlreadyDecided,
        "it left needed and is in scheduling",
    ),
}


@pytest.fixture
def two_reviews(uow: UowFactory, catalog: dict[str, Template]) -> dict[str, int]:
    """A qbr waiting in needed on its open task; an ad-hoc waiting in scheduling for a date."""
    needed = start_review(uow(), "Client qbr", catalog, "qbr")
    scheduling = start_review(uow(), "Client ad-hoc", catalog, "ad-hoc")
    complete_task(uow(), scheduling, "capture-request", ANDY, hours=0.5)
    decide(uow(), DecisionRequest(scheduling, DecisionKind.APPROVE, OLGA, phase="needed"))
    complete_task(uow(), scheduling, "schedule-session", OLGA)
    return {"needed": needed, "scheduling": scheduling}


def test_bad_input_is_refused_and_changes_nothing(
    uow: UowFactory,
    catalog: dict[str, Template],
    two_reviews: dict[str, int],
    subtests: pytest.Subtests,
) -> None:
    # One database for all the cases (a fresh one each would cost more than the cases): each
    # refusal must leave it exactly as it found it, so the next case starts from the same state.
    before = dump(uow)
    for case, (call, error, message) in BAD_INPUT.items():
        with subtests.test(case):
            with pytest.raises(error) as raised:
                call(uow, catalog, two_reviews)
            assert message in str(raised.value)
            assert "\n" not in str(raised.value)
            assert dump(uow) == before
