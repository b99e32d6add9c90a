"""What every entry point does after a person changed a review: wake its run, deliver notices."""

from __future__ import annotations

from deploy import stack
from states import views
from states.db import UnitOfWork
from states.errors import XbrError
from states.settings import Settings


def wake_run(
    uow: UnitOfWork,
    settings: Settings,
    review_id: int,
    round_before: int,
    run_input: dict[str, object],
) -> str:
    """After a change that moved the review, wake its suspended run so it follows; returns a
    note for the person when that could not be done now (the sweeper catches the run up)."""
    data = views.review_view(uow, review_id)
    if not data["flow_run_id"] or data["round"] == round_before:
        return ""
    try:
        stack.use_prefect(settings)
    except XbrError as exc:
        return f" (flow run not woken: {exc}; the sweeper catches it up)"
    from flows.runs import resume_review_run

    woken = resume_review_run(data["flow_run_id"], run_input)
    return "" if woken else " (its flow run was not waiting; the sweeper catches it up)"
