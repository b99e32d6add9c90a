"""The business-review flow's work at a gate: find the run's review, publish what the gate
shows, apply a decision from the Resume form, and give a review the flow opened its own run."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime

from prefect.runtime import flow_run

from bootstrap import root
from states.calendar.opening import start_review
from states.errors import RESUME_FORM, AlreadyDecided, XbrError
from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.lifecycle.run_records import attach_run, record_refusal, review_of_run
from states.read import views
from states.read.scorecards import report_data
from tasks import artifacts
from tasks.decision_form import PhaseDecision
from tasks.flow_runs import attach_new_run
from tasks.runtime import xbr_task


@xbr_task(retries=3, retry_delay_seconds=2)
def publish_gate(review_id: int) -> None:
    """Checklist, progress and summary artifacts for the review's current gate; once staging
    has assessed it, its findings, scorecard, agenda and client summary draft."""
    artifacts.publish(root().uow(), views.review_view(root().uow(), review_id))
    data = report_data(root().uow(), review_id)
    if data["assessed"]:
        artifacts.publish_assessment(data)


@xbr_task(retries=3, retry_delay_seconds=2)
def apply_decision(review_id: int, phase: str, round_: int, decision: PhaseDecision) -> str:
    """Validate and apply a decision from the Resume form; a refusal goes to the audit log."""
    try:
        for key in decision.tasks_completed:
            with suppress(AlreadyDecided):  # done already, e.g. when this decision is replayed
                complete_task(root().uow(), review_id, key, decision.approver_email)
        meeting = decision.new_meeting_date.isoformat() if decision.new_meeting_date else None
        result = decide(
            root().uow(),
            DecisionRequest(
                review_id, DecisionKind(decision.decision), decision.approver_email,
                decision.comment, meeting, phase=phase, round=round_,
            ),
        )  # fmt: skip
    except XbrError as refusal:
        reason = refusal.worded(RESUME_FORM)  # shown at the top of the form it was sent from
        record_refusal(root().uow(), review_id, decision.decision, decision.approver_email, reason)
        return f"refused: {reason}"
    return result.describe()


@xbr_task(retries=3, retry_delay_seconds=2)
def start_run(review_id: int) -> str:
    """The flow run of a review this run opened; its idempotency key makes a retry a no-op."""
    return attach_new_run(root().uow, review_id)


def review_for_this_run(
    review_id: int | None, client: str | None, review_type: str | None, meeting: datetime | None
) -> int:
    """The review this run drives; a run started from the deployment's form starts it."""
    run_id = str(flow_run.id)
    if review_id is not None:
        return review_id
    existing = review_of_run(root().uow(), run_id)
    if existing is not None:
        return existing
    if not client:
        raise ValueError("give either review_id, or client (and review_type) to start a review")
    catalog = root().catalog()
    started = start_review(
        root().uow(),
        client,
        catalog,
        review_type,
        meeting.isoformat() if meeting else None,
        "prefect-ui",
    )
    attach_run(root().uow(), started, run_id, 0)
    return started
