"""The business-review flow's work at a gate: find the run's review, publish what the gate
shows, apply a decision from the Resume form, and give a review the flow opened its own run."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime

from prefect.runtime import flow_run

from bootstrap import root
from notifications import links
from states.calendar.opening import start_review
from states.errors import RESUME_FORM, AlreadyDecided, Refused, XbrError
from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.lifecycle.run_records import (
    attach_run,
    record_refusal,
    review_of_run,
    run_finished,
)
from states.read import views
from states.read.scorecards import report_data
from states.store.db import UnitOfWork
from states.store.models import utcnow
from tasks import artifacts
from tasks.decision_form import PhaseDecision
from tasks.flow_runs import attach_new_run
from tasks.runtime import xbr_task


@xbr_task(retries=3, retry_delay_seconds=2)
def publish_gate(review_id: int) -> None:
    """Checklist, progress and summary artifacts for the review's current gate, and the
    questionnaire's progress; once staging has assessed it, its findings, scorecard,
    frameworks, agenda and client summary draft; the client's roadmap and budget when it has
    initiatives."""
    artifacts.publish(root().uow(), views.review_view(root().uow(), review_id))
    data = report_data(root().uow(), review_id, currency=root().settings.currency)
    if data["questionnaire"]["items"]:
        artifacts.publish_questionnaire(data)
    if data["assessed"]:
        artifacts.publish_assessment(data)
    if data["roadmap"] or data["last_plan"]:
        artifacts.publish_plan(data)


# How the Resume form's decisions are known in the audit trail
RESUME_FORM_VIA = "Prefect UI Resume form, decision code"
WRONG_CODE = (
    "the decision code is missing, wrong or expired; copy yours for this gate from your "
    "approval email or the approval page into decision_code"
)


@xbr_task(retries=3, retry_delay_seconds=2)
def apply_decision(review_id: int, phase: str, round_: int, decision: PhaseDecision) -> str:
    """Validate and apply a decision from the Resume form: its decision code names the person
    (one of the gate's approvers); a refusal goes to the audit log."""

    def form_uow() -> UnitOfWork:
        return UnitOfWork(root().engine, RESUME_FORM_VIA)

    actor = _code_owner(review_id, round_, decision.decision_code)
    try:
        if actor is None:
            raise Refused(WRONG_CODE)
        for key in decision.tasks_completed:
            with suppress(AlreadyDecided):  # done already, e.g. when this decision is replayed
                complete_task(form_uow(), review_id, key, actor)
        meeting = decision.new_meeting_date.isoformat() if decision.new_meeting_date else None
        result = decide(
            form_uow(),
            DecisionRequest(
                review_id, DecisionKind(decision.decision), actor, decision.comment, meeting,
                phase=phase, round=round_,
            ),
        )  # fmt: skip
    except XbrError as refusal:
        reason = refusal.worded(RESUME_FORM)  # shown at the top of the form it was sent from
        who = actor or "unknown (no valid decision code)"
        record_refusal(form_uow(), review_id, decision.decision, who, reason)
        return f"refused: {reason}"
    return result.describe()


def _code_owner(review_id: int, round_: int, code: str) -> str | None:
    """The gate's approver whose decision code this is, if any."""
    gate = views.review_view(root().uow(), review_id).gate
    if gate is None or not code.strip():
        return None
    settings = root().settings
    key = links.load_key(settings.home, settings.secret_key or None)
    today = utcnow().date()
    return links.code_owner(key, review_id, round_, list(gate.eligible_approvers), code, today)


@xbr_task(retries=3, retry_delay_seconds=2)
def finish_run(review_id: int) -> None:
    """The run of an ended review did its last steps; the sweeper checks it no more."""
    run_finished(root().uow(), review_id, utcnow())


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
        standards=root().standards(),
    )
    attach_run(root().uow(), started, run_id, 0)
    return started
