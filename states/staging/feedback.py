"""The client's answers to the SOP's follow-up questions, captured at delivery."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import datetime

from states.directory import person_by_email
from states.errors import AlreadyDecided, IllegalTrigger, InvalidInput, Refused
from states.lifecycle import audit
from states.lifecycle.decisions import complete_task, load_review
from states.lifecycle.machine import Phase
from states.store.db import UnitOfWork
from states.store.models import utcnow

FEEDBACK_PHASES = (Phase.DELIVERY, Phase.FOLLOW_UP)
REVIEW_REQUEST = ("yes", "no", "later")
# the delivery task the answers complete, where the template has it
QUESTIONS_TASK = "ask-follow-up-questions"


@dataclass(frozen=True)
class Feedback:
    """What can we do better, when to meet again, who else would benefit, a review request."""

    better: str = ""
    next_meeting: str = ""
    referrals: str = ""
    review_request: str = ""


def record_feedback(
    uow: UnitOfWork, review_id: int, answers: Feedback, actor: str, now: datetime | None = None
) -> dict[str, str]:
    """Keep the client's answers on the review (again replaces them) and close the task."""
    now = now or utcnow()
    if answers.review_request and answers.review_request not in REVIEW_REQUEST:
        raise InvalidInput(f"--review-request {answers.review_request!r}: answer yes, no or later")
    if not any(asdict(answers).values()):
        raise InvalidInput(
            "no answers given; pass --better, --next-meeting, --referrals or --review-request"
        )
    with uow:
        review = load_review(uow.session, review_id, for_update=True)
        if review.status not in FEEDBACK_PHASES:
            raise IllegalTrigger(
                f"review {review_id} is in {review.status}; feedback is asked at delivery "
                "(and can be added during follow-up)"
            )
        person = person_by_email(uow.session, actor)
        stored = {**asdict(answers), "by": person.email, "at": now.isoformat()}
        review.feedback = stored
        said = "; ".join(f"{k}: {v}" for k, v in asdict(answers).items() if v)
        audit.note(uow.session, review, "feedback", person.email, said, now)
        task = next((t for t in review.tasks if t.key == QUESTIONS_TASK), None)
        uow.commit()
    if task is not None and task.status == "open" and task.phase == review.status:
        # the answers stand even when this person may not close the task: its owner still can
        with suppress(Refused, AlreadyDecided):
            complete_task(uow, review_id, QUESTIONS_TASK, actor, "answers recorded", now=now)
    return stored
