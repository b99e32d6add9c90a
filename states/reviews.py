"""Starting a review: the template's tasks with assignees and due dates, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from states.calendar import parse_moment, zone
from states.db import UnitOfWork
from states.directory import client_by_name, open_task_load, people_for
from states.errors import InvalidInput
from states.lifecycle import SLOT_PHASES, Phase
from states.models import Client, Person, Review, ReviewTask, utcnow
from states.notices import invite
from states.progress import SYSTEM_ACTOR, record_step, settle
from states.schedule import set_due_dates
from states.templates import Cadence, TaskSpec, Template, pick


def period_of(cadence: Cadence, day: datetime) -> str:
    """The period a review covers, for its name: 2026-q4, 2026-11, 2026-h2, 2026."""
    if cadence is Cadence.MONTHLY:
        return f"{day:%Y-%m}"
    if cadence is Cadence.QUARTERLY:
        return f"{day.year}-q{(day.month - 1) // 3 + 1}"
    if cadence is Cadence.SEMIANNUAL:
        return f"{day.year}-h{1 if day.month <= 6 else 2}"
    if cadence is Cadence.ANNUAL:
        return f"{day.year}"
    return f"{day:%Y-%m-%d}"


def _assign(
    covering: Callable[[str], list[Person]],
    spec: TaskSpec,
    load: dict[int, int],
    avoid: set[int],
) -> int | None:
    """The least loaded person covering the task's role (then its backups), not in `avoid`."""
    for role in spec.roles:
        people = [p for p in covering(role) if p.id not in avoid]
        if people:
            chosen = min(people, key=lambda p: (load.get(p.id, 0), p.id))
            load[chosen.id] = load.get(chosen.id, 0) + 1
            return chosen.id
    return None


def _instantiate_tasks(
    session: Session, review: Review, template: Template, load: dict[int, int]
) -> None:
    people: dict[str, list[Person]] = {}

    def covering(role: str) -> list[Person]:
        if role not in people:
            people[role] = people_for(session, review.client.id, role)
        return people[role]

    assignee_of: dict[str, int | None] = {}
    for position, (phase, spec) in enumerate(template.tasks()):
        # second set of eyes: whoever does a verified task is not asked to verify it
        avoid = {assignee_of[k] for k in spec.verifies if assignee_of.get(k) is not None}
        assignee = _assign(covering, spec, load, avoid)  # type: ignore[arg-type]
        assignee_of[spec.key] = assignee
        review.tasks.append(
            ReviewTask(
                key=spec.key,
                position=position,
                phase=phase.value,
                title=spec.title,
                role=spec.role.value,
                kind=spec.kind.value,
                required=spec.required,
                assignee_id=assignee,
                status="open",
            )
        )


def start_review(
    uow: UnitOfWork,
    client_name: str,
    catalog: dict[str, Template],
    template_name: str | None = None,
    meeting: str | None = None,
    actor: str = SYSTEM_ACTOR,
    now: datetime | None = None,
    note: str = "",
    period_day: date | None = None,
    load: dict[int, int] | None = None,
) -> int:
    """Open a review of a client from a template; returns its id. `note` says why (audit);
    `period_day` names its period when no meeting is set yet (the calendar's due date);
    `load` is each person's open tasks, when the caller opens many reviews (it is updated)."""
    now = now or utcnow()
    with uow:
        session = uow.session
        client = client_by_name(session, client_name)
        template = pick(catalog, template_name or client.template)
        tz = zone(client.timezone)
        meeting_at = parse_moment(meeting, tz) if meeting else None
        if meeting_at is not None and meeting_at <= now:
            raise InvalidInput(f"--meeting {meeting} is in the past; give a future date")
        _refuse_second_open_review(session, client, template)
        when = meeting_at.astimezone(tz) if meeting_at else now.astimezone(tz)
        if meeting_at is None and period_day is not None:
            when = datetime.combine(period_day, when.timetz())
        review = Review(
            client=client,
            type=template.review_type,
            template=template.name,
            template_snapshot=template.model_dump(mode="json"),
            period=period_of(template.cadence, when),
            status=Phase.NEEDED.value,
            round=0,
            meeting_at=meeting_at,
            phase_entered_at=now,
            created_at=now,
            budget_hours=template.budget_hours,
            actual_hours=0,
        )
        session.add(review)
        _instantiate_tasks(
            session, review, template, open_task_load(session) if load is None else load
        )
        set_due_dates(review, template)
        try:
            session.flush()
        except IntegrityError:
            raise InvalidInput(
                f"{client.name} already has an open {template.review_type} review; "
                "close or cancel it first"
            ) from None
        record_step(
            session,
            review,
            template,
            "start",
            None,
            Phase.NEEDED,
            actor,
            "; ".join(filter(None, (f"from {template.name}", note))),
        )
        settle(session, review, template, now)
        invite(session, review)
        uow.commit()
        return review.id


def _refuse_second_open_review(session: Session, client: Client, template: Template) -> None:
    if template.review_type == "ad-hoc":
        return
    existing = session.scalar(
        select(Review.id).where(
            Review.client_id == client.id,
            Review.type == template.review_type,
            Review.status.in_([p.value for p in SLOT_PHASES]),
        )
    )
    if existing is not None:
        raise InvalidInput(
            f"{client.name} already has open {template.review_type} review {existing}; "
            f"close or cancel it first (`xbr cancel {existing} --comment ...`)"
        )
