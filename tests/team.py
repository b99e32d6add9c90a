"""The simulated team: closes each phase's tasks and approves, as the people of an MSP would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from states.errors import Refused
from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.read.views import TaskView, review_view
from states.standards.answering import answer_items
from states.standards.answers import review_questionnaire
from states.standards.schema import Answer
from states.store.db import UnitOfWork
from states.store.models import Review, utcnow


def hold_meeting(
    uow: Callable[[], UnitOfWork], review_id: int, now: datetime | None = None
) -> None:
    """The client meeting takes place: its date moves to an hour before `now`, as if the
    weeks until it had passed (delivery is approved only once the meeting has started)."""
    with uow() as work:
        review = work.session.get(Review, review_id)
        assert review is not None
        review.meeting_at = (now or utcnow()) - timedelta(hours=1)
        work.commit()


def answer_assessment(
    uow: Callable[[], UnitOfWork], review_id: int, person: str | None, answer: str = "met"
) -> None:
    """`person` answers every required item of the review's assessment still open."""
    items = review_questionnaire(uow(), review_id).items
    wanted = {s.key: (Answer(answer), "") for s in items if s.open_required}
    if wanted and person:
        answer_items(uow(), review_id, wanted, person)


def staging_person(tasks: list[TaskView]) -> str | None:
    """Someone who works staging: the assignee of its first task."""
    return next((t.assignee for t in tasks if t.phase == "staging" and t.assignee), None)


def walk(uow: Callable[[], UnitOfWork], review_id: int, until: str) -> None:
    """Each assignee closes the phase's open tasks and an eligible person approves the gate,
    phase after phase, until the review is in `until`; a gate nobody can pass is an error."""
    while (review := review_view(uow(), review_id)).status != until:
        for task in review.tasks:
            if task.phase == review.status and task.status == "open":
                complete_task(uow(), review_id, task.key, task.assignee)
        if review.status == "staging":
            answer_assessment(uow, review_id, staging_person(review.tasks))
        if review.status == "delivery":
            hold_meeting(uow, review_id)
        review = review_view(uow(), review_id)
        if review.status == until or review.gate is None or not review.gate.approval:
            continue
        refusals = []
        for approver in review.gate.eligible_approvers:
            try:
                decide(uow(), DecisionRequest(review_id, DecisionKind.APPROVE, approver))
                break
            except Refused as refused:
                refusals.append(str(refused))  # four-eyes: someone else must approve
        else:
            raise RuntimeError(f"review {review_id} is stuck at {review.status}: {refusals}")
