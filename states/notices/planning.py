"""Who hears what, and when: notices written to the outbox in the transaction of the change.

A notice names one recipient (an email, or `role:<role>` for a role's shared channels) and what
to tell them; the text is rendered when it is delivered. Its dedupe key makes planning the same
notice twice (a replayed flow, a second sweep) a no-op.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.orm import Session

from states.calendar.business_days import (
    WorkingCalendar,
    add_business_days,
    local_date,
    working_calendar,
)
from states.calendar.meetings import internal_meetings
from states.directory import people_for
from states.lifecycle.machine import OPEN_PHASES, Phase
from states.lifecycle.schedule import review_template
from states.plans.initiatives import TO_DECIDE
from states.standards.answers import AnswerSource, questionnaire
from states.store.db import UnitOfWork, read_unread
from states.store.models import TASK_IS_OPEN, Initiative, OutboxMessage, Review, ReviewTask
from states.templates.schema import Template

PLANNED = "planned_notices"  # session.info: review id -> dedupe keys of its notices
NOTICE = "notice."  # outbox kinds of notices start with it; other kinds are internal events
# what asks its reader to act now: their tasks, a decision, the assessment's answers, the
# client's plan, a phase pulled in, what is (nearly) late. Delivered before what only tells
# (informed, consulted, invitations, digests): a decision's next phase hears first.
ACT_NOW = ("approval", "tasks", "assess", "plan", "pulled", "reminder", "overdue", "escalation")
# the people a meeting invitation goes to, besides the client's contacts
ATTENDEE_ROLES = ("vcio", "account_manager")


def _add(
    session: Session, review: Review, kind: str, recipient: str, key: str, **payload: Any
) -> int:
    """Plan one notice unless it was planned already; returns how many were added (0 or 1)."""
    dedupe_key = f"notice:{review.id}:{key}:{kind}:{recipient}"[:200]
    planned = _planned(session, review.id)
    if dedupe_key in planned:
        return 0
    planned.add(dedupe_key)
    message = OutboxMessage(
        dedupe_key=dedupe_key,
        kind=NOTICE + kind,
        review_id=review.id,
        recipient=recipient,
        payload={"kind": kind, "review_id": review.id, "round": review.round, **payload},
        status="pending",  # set, as folding may set it: a change's rows go in one INSERT
    )
    if not recipient.startswith("role:"):
        _fold(session, review.id, message)
    session.add(message)
    return 1


FOLDED = "folded"  # a notice said by another to the same person: kept, never sent
TO_PERSON = "notices_to_person"  # session.info: (review id, email) -> this change's notices
# what one message says for another to the same person in the same change: the step they are
# informed of rides on whatever else tells them something; the assessment's request on their
# tasks
_CARRIED = {"informed": "step", "assess": "assess"}
_CARRIERS = {"informed": {"tasks", "consult", "assess", "approval", "invite", "plan", "pulled"},
             "assess": {"tasks"}}  # fmt: skip


def _fold(session: Session, review_id: int, message: OutboxMessage) -> None:
    """One message per person and change: `message` folds into one planned to its person in
    this change that can carry it, or one planned before it folds into `message`. A folded
    notice is kept, never sent (its dedupe key still stops it from being planned again)."""
    mine: list[OutboxMessage] = session.info.setdefault(TO_PERSON, {}).setdefault(
        (review_id, message.recipient), []
    )
    kind = message.payload["kind"]
    for other in mine:
        if kind in _CARRIED and other.payload["kind"] in _CARRIERS[kind]:
            other.payload = {**other.payload, _CARRIED[kind]: _news(message.payload)}
            message.status = FOLDED
            return
    for other in list(mine):
        carried = other.payload["kind"]
        if carried in _CARRIED and kind in _CARRIERS[carried]:
            message.payload = {**message.payload, _CARRIED[carried]: _news(other.payload)}
            other.status = FOLDED
            mine.remove(other)
    mine.append(message)


def _news(payload: dict[str, Any]) -> Any:
    """What a folded notice tells: the step of an `informed` one, the assessment's request."""
    if payload["kind"] == "informed":
        return payload["step"]
    return {k: payload[k] for k in ("items", "open_required", "carried", "standards")}


def _planned(session: Session, review_id: int) -> set[str]:
    """The dedupe keys of the review's notices, read once per transaction and kept up to date
    by _add: one query for all of a step's notices, and one flush that inserts them."""
    return read_planned(session, [review_id])[review_id]


def nothing_planned(session: Session, review_id: int) -> None:
    """A review opened in this transaction: it has no notices to read."""
    read_unread(session, PLANNED, [review_id], set, lambda unread, planned: None)


def read_planned(session: Session, review_ids: Iterable[int]) -> dict[int, set[str]]:
    """The planned notices of these reviews (those not read yet read in one query)."""

    def fill(unread: list[int], planned: dict[int, set[str]]) -> None:
        rows = session.execute(
            select(OutboxMessage.review_id, OutboxMessage.dedupe_key).where(
                OutboxMessage.review_id.in_(unread), OutboxMessage.kind.startswith(NOTICE)
            )
        )
        for review_id, key in rows:
            planned[review_id].add(key)

    return read_unread(session, PLANNED, review_ids, set, fill)


def _to_roles(
    session: Session,
    review: Review,
    kind: str,
    key: str,
    roles: list[str],
    skip: Iterable[str] = (),
    **payload: Any,
) -> None:
    """One notice to everyone covering `roles` for the client but the people in `skip`, and
    one to each role's own channels (recipient `role:<role>`)."""
    skipped = set(skip)
    for email, role in _emails(session, review, roles).items():
        if email not in skipped:
            _add(session, review, kind, email, key, role=role, **payload)
    for role in roles:
        _add(session, review, kind, f"role:{role}", key, role=role, **payload)


def _emails(session: Session, review: Review, roles: Iterable[str]) -> dict[str, str]:
    """email -> the role it is reached in, for everyone covering `roles` for the client."""
    found: dict[str, str] = {}
    for role in roles:
        for person in people_for(session, review.client_id, str(role)):
            found.setdefault(person.email, str(role))
    return found


def _task_owners(session: Session, review: Review, tasks: list[ReviewTask]) -> dict[str, list[str]]:
    """email -> keys of the tasks they should do: the assignee, else whoever holds the role."""
    owners: dict[str, list[str]] = {}
    for task in tasks:
        assignee = [task.assignee] if task.assignee else []
        for person in assignee or people_for(session, review.client_id, task.role):
            owners.setdefault(person.email, []).append(task.key)
    return owners


def announce(session: Session, review: Review, template: Template) -> None:
    """Notices for the phase the review is in now: tasks to their people, consulted roles
    asked for input, staging's people asked to answer its assessment, in delivery the client's
    contacts asked to decide its plan, and the approval request once no required task or
    assessment item is open.

    One message per person where one says it all: the people who decide the gate are not
    asked for input on it, and an approval request planned with someone's tasks stands for
    them (its link opens their checklist)."""
    if review.status not in OPEN_PHASES:
        return
    spec, phase, key = template.phase(review.status), review.status, f"r{review.round}"
    open_tasks = [t for t in review.tasks if t.phase == phase and t.status == "open"]
    unanswered = _ask_for_answers(session, review, template, key)
    _ask_for_decisions(session, review)
    accountable = [spec.raci.accountable.value]
    approvers = set(_emails(session, review, accountable))
    asking = spec.approval and not any(t.required for t in open_tasks) and not unanswered
    for email, keys in _task_owners(session, review, open_tasks).items():
        if not (asking and email in approvers):
            _add(session, review, "tasks", email, key, phase=phase, tasks=keys)
    consulted = [r.value for r in spec.raci.consulted]
    _to_roles(session, review, "consult", key, consulted, skip=approvers, phase=phase)
    if asking:
        _to_roles(session, review, "approval", key, accountable, phase=phase)


def _ask_for_answers(session: Session, review: Review, template: Template, key: str) -> int:
    """In staging, staging's responsible people hear that the assessment wants their answers
    (or their confirmation of the carried ones); returns the required items still open."""
    if review.status != Phase.STAGING or not review.standards:
        return 0
    items = questionnaire(session, review)
    unanswered = sum(s.open_required for s in items)
    carried = sum(s.source is AnswerSource.CARRIED for s in items)
    if unanswered or carried:
        roles = list(dict.fromkeys(r.value for r in template.phase(Phase.STAGING).raci.responsible))
        _to_roles(
            session, review, "assess", key, roles, phase=review.status, items=len(items),
            open_required=unanswered, carried=carried,
            standards=list(dict.fromkeys(s.standard.name for s in items)),
        )  # fmt: skip
    return unanswered


def _ask_for_decisions(session: Session, review: Review) -> None:
    """In delivery, the client's contacts hear that its plan has initiatives for them to
    approve, decline or defer (once per review: the plan page shows the rest)."""
    if review.status != Phase.DELIVERY:
        return
    to_decide = session.scalar(
        select(func.count())
        .select_from(Initiative)
        .where(
            Initiative.client_id == review.client_id,
            Initiative.status.in_([s.value for s in TO_DECIDE]),
        )
    )
    if not to_decide:
        return
    for email in _emails(session, review, ["client_contact"]):
        _add(
            session, review, "plan", email, "plan",
            role="client_contact", phase=review.status, to_decide=to_decide,
        )  # fmt: skip


def inform(session: Session, review: Review, template: Template, step: dict[str, Any]) -> None:
    """One message to the informed roles of the phase a step left (or stayed in); the person
    who took the step is not told of it."""
    source = step.get("from")
    if source not in {p.value for p in OPEN_PHASES}:
        return
    informed = [r.value for r in template.phase(source).raci.informed]
    actor = [step["actor"]] if step.get("actor") else []
    _to_roles(
        session, review, "informed", f"r{review.round}", informed, skip=actor, phase=source,
        step=step,
    )  # fmt: skip


def pulled_in(
    session: Session, review: Review, template: Template, phase: str, approved: str
) -> None:
    """The phase's accountable role hears that a queued review was pulled into it."""
    accountable = [template.phase(phase).raci.accountable.value]
    _to_roles(
        session, review, "pulled", f"r{review.round}", accountable, phase=phase, approved=approved
    )


def invite(session: Session, review: Review, cancelled: bool = False) -> None:
    """The meeting invitation (or its cancellation) to the client's contacts and the attendees,
    and the staff's invitations to the internal prep and post meetings (never the client's);
    every change is a new SEQUENCE of the same events."""
    if review.meeting_at is None or (cancelled and review.invite_sequence < 0):
        return
    review.invite_sequence += 1
    sequence = review.invite_sequence
    people = _emails(session, review, ["client_contact", *ATTENDEE_ROLES])
    _invite_each(session, review, people, f"s{sequence}", sequence=sequence, cancelled=cancelled,
                 meeting_at=review.meeting_at.isoformat())  # fmt: skip
    template = review_template(review)
    staff = _emails(session, review, _staff_roles(template))
    for meeting in internal_meetings(session, review, template):
        _invite_each(
            session, review, staff, f"s{sequence}:{meeting.name}", sequence=sequence,
            cancelled=cancelled, meeting=meeting.name, meeting_at=meeting.start.isoformat(),
            hours=meeting.duration.total_seconds() / 3600,
        )  # fmt: skip


def _invite_each(
    session: Session, review: Review, people: dict[str, str], key: str, **payload: Any
) -> None:
    for email, role in people.items():
        _add(session, review, "invite", email, key, role=role, attendees=sorted(people), **payload)


def _staff_roles(template: Template) -> list[str]:
    """Who meets before and after the client meeting: the vCIO and the account manager, and the
    prep phase's responsible, accountable and consulted roles; the client's contacts never."""
    raci = template.phase(Phase.PREP).raci
    roles = [*ATTENDEE_ROLES, *raci.responsible, raci.accountable, *raci.consulted]
    return [r for r in dict.fromkeys(str(role) for role in roles) if r != "client_contact"]


def remind(
    session: Session, review: Review, template: Template, now: datetime, tasks: list[ReviewTask]
) -> int:
    """Reminders a day before tasks are due and once they are overdue; escalation of a phase
    older than its warning: to the accountable role, then at twice the age to ops_manager.
    Returns how many notices are new."""
    if review.status not in OPEN_PHASES:
        return 0
    added = 0
    cal = working_calendar(session, review.client)
    tz = cal.tz
    today = local_date(now, tz)
    due = [t for t in tasks if t.phase == review.status and t.status == "open" and t.due_at]
    for task in due:
        assert task.due_at is not None
        kind = "overdue" if task.due_at <= now else "reminder"
        if kind == "reminder" and add_business_days(today, 1, cal) < local_date(task.due_at, tz):
            continue
        for email in _task_owners(session, review, [task]):
            # keyed on the due date too: a task that got a new date is reminded again
            key = f"task:{task.key}:{task.due_at:%Y%m%dT%H%M}"
            added += _add(session, review, kind, email, key, phase=review.status, tasks=[task.key])
        if kind == "overdue":  # said once per due date: reminders need not look again
            task.reminded_for = task.due_at
    return added + _escalate(session, review, template, now, cal)


def set_age_warning(review: Review, template: Template) -> None:
    """When the review's current phase grows older than its warning (the board's flag), and
    its first escalation."""
    warning = (
        template.phase(review.status).age_warning_days if review.status in OPEN_PHASES else None
    )
    review.age_warning_at = (
        review.phase_entered_at + timedelta(days=warning) if warning is not None else None
    )
    review.escalate_at = review.age_warning_at


def _escalate(
    session: Session, review: Review, template: Template, now: datetime, cal: WorkingCalendar
) -> int:
    spec = template.phase(review.status)
    set_age_warning(review, template)
    if spec.age_warning_days is None:
        return 0
    age = now - review.phase_entered_at
    threshold = timedelta(days=spec.age_warning_days)
    today = local_date(now, cal.tz)
    if age > threshold and not cal.is_business_day(today):
        # the phase's age counts every day, but nobody is chased on a weekend or holiday:
        # the escalation waits for the start of the client's next business day
        day = add_business_days(today, 0, cal)
        start = datetime.combine(day, time(template.schedule.day_start_hour), tzinfo=cal.tz)
        review.escalate_at = start.astimezone(UTC)
        return 0
    review.escalate_at = None
    levels = [(1, spec.raci.accountable.value), (2, "ops_manager")]
    added = 0
    for level, role in levels:
        if age <= threshold * level:
            review.escalate_at = review.phase_entered_at + threshold * level  # the next one
            break
        for email in _emails(session, review, [role]):
            added += _add(
                session, review, "escalation", email, f"r{review.round}:age{level}",
                phase=review.status, role=role, level=level,
                age_days=round(age.total_seconds() / 86400, 1),
                threshold_days=spec.age_warning_days,
            )  # fmt: skip
    return added


# A reminder goes out from the business day before a task is due: at most a long weekend
# with holidays either side of it (Easter), in any time zone, ahead of now.
REMIND_AHEAD = timedelta(days=7)


def plan_reminders(uow: UnitOfWork, now: datetime) -> int:
    """Reminders and escalations due now; returns how many are new. Only reviews with a task
    of their phase due soon (or overdue and not yet said so) or an escalation due are read:
    the work grows with what is due, not with what is open."""
    with uow:
        session = uow.session
        open_phases = [p.value for p in OPEN_PHASES]
        # two steps, so that the database starts from the few open tasks due soon (a join
        # may be planned from the thousands of open reviews instead)
        tasks_due = session.scalars(
            select(ReviewTask)
            .where(TASK_IS_OPEN, ReviewTask.due_at <= now + REMIND_AHEAD)
            .where(
                or_(
                    ReviewTask.reminded_for.is_(None),
                    ReviewTask.reminded_for != ReviewTask.due_at,
                )
            )
        ).all()
        by_review: dict[int, list[ReviewTask]] = {}
        for task in tasks_due:
            by_review.setdefault(task.review_id, []).append(task)
        # escalate_at is only ever set on open reviews; the status is checked below, so that the
        # query is read through the escalate_at index alone
        stale = select(Review.id).where(Review.escalate_at <= now)
        ids = set(by_review) | set(session.scalars(stale))
        found = session.scalars(select(Review).where(Review.id.in_(ids)).order_by(Review.id))
        reviews = [r for r in found if r.status in open_phases]
        read_planned(session, [r.id for r in reviews])
        added = sum(
            remind(session, review, review_template(review), now, by_review.get(review.id, []))
            for review in reviews
        )
        uow.commit()
        return added


def due(now: datetime, kind: str = NOTICE) -> ColumnElement[bool]:
    """The messages of `kind` (notices by default) to (try to) deliver now: waiting, failed and
    backed off, or whose sender's lease ran out."""
    return and_(
        OutboxMessage.kind.startswith(kind),
        OutboxMessage.status.in_(["pending", "failed", "sending"]),
        or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
    )


def asks_to_act() -> ColumnElement[bool]:
    """The notices whose kind is one of ACT_NOW."""
    return OutboxMessage.kind.in_([NOTICE + kind for kind in ACT_NOW])


def act_first() -> ColumnElement[int]:
    """An ORDER BY key that puts the notices asking someone to act before those that only
    tell (0, then 1)."""
    return case((asks_to_act(), 0), else_=1)


def changed_in_psa(
    session: Session, review: Review, template: Template, psa: str, status: str, by: str
) -> None:
    """The accountable role of the review's phase hears that its PSA ticket was moved to
    another status there (xbr's phase stays as it is)."""
    phase = review.status if review.status in {p.value for p in OPEN_PHASES} else None
    roles = [template.phase(phase).raci.accountable.value] if phase else ["ops_manager"]
    key = f"psa:{status}:{by}"[:60]
    _to_roles(session, review, "psa", key, roles, psa=psa, psa_status=status, by=by,
              phase=review.status)  # fmt: skip
