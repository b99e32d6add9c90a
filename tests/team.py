"""The simulated team: closes each phase's tasks and approves, as the people of an MSP would."""

from __future__ import annotations

from collections.abc import Callable

from states.errors import Refused
from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.read.views import review_view
from states.store.db import UnitOfWork


def walk(uow: Callable[[], UnitOfWork], review_id: int, until: str) -> None:
    """Each assignee closes the phase's open tasks and an eligible person approves the gate,
    phase after phase, until the review is in `until`; a gate nobody can pass is an error."""
    while (review := review_view(uow(), review_id)).status != until:
        for task in review.tasks:
            if task.phase == review.status and task.status == "open":
                complete_task(uow(), review_id, task.key, task.assignee)
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
