"""The `business-review` flow: one long-running run per review, suspended at every gate."""

from contextlib import suppress
from datetime import datetime

from prefect import flow, get_run_logger
from prefect.flow_runs import suspend_flow_run
from prefect.runtime import flow_run

from flows import artifacts
from flows.decision import PhaseDecision
from flows.runs import attach_new_run, current_gate_key
from states import views
from states.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.errors import AlreadyDecided, XbrError
from states.lifecycle import OPEN_PHASES
from states.reviews import start_review
from states.runs import attach_run, record_refusal, review_of_run
from states.scorecards import report_data
from states.settings import Settings
from states.templates import load_catalog
from tasks.recurrence import open_next_review
from tasks.runtime import xbr_task
from tasks.staging import stage_review
from tasks.store import uow


@xbr_task(retries=3, retry_delay_seconds=2)
def publish_gate(review_id: int) -> None:
    """Checklist, progress and summary artifacts for the review's current gate; once staging
    has assessed it, its findings, scorecard, agenda and client summary draft."""
    artifacts.publish(uow(), views.review_view(uow(), review_id))
    data = report_data(uow(), review_id)
    if data["assessed"]:
        artifacts.publish_assessment(data)


@xbr_task(retries=3, retry_delay_seconds=2)
def apply_decision(review_id: int, phase: str, round_: int, decision: PhaseDecision) -> str:
    """Validate and apply a decision from the Resume form; a refusal goes to the audit log."""
    try:
        for key in decision.tasks_completed:
            with suppress(AlreadyDecided):  # done already, e.g. when this decision is replayed
                complete_task(uow(), review_id, key, decision.approver_email)
        meeting = decision.new_meeting_date.isoformat() if decision.new_meeting_date else None
        result = decide(
            uow(),
            DecisionRequest(
                review_id, DecisionKind(decision.decision), decision.approver_email,
                decision.comment, meeting, phase=phase, round=round_,
            ),
        )  # fmt: skip
    except XbrError as refusal:
        record_refusal(uow(), review_id, decision.decision, decision.approver_email, str(refusal))
        return f"refused: {refusal}"
    return result.describe()


@xbr_task(retries=3, retry_delay_seconds=2)
def start_run(review_id: int) -> str:
    """The flow run of a review this run opened; its idempotency key makes a retry a no-op."""
    return attach_new_run(uow, review_id)


def _review_for_this_run(
    review_id: int | None, client: str | None, review_type: str | None, meeting: datetime | None
) -> int:
    """The review this run drives; a run started from the deployment's form starts it."""
    run_id = str(flow_run.id)
    if review_id is not None:
        return review_id
    existing = review_of_run(uow(), run_id)
    if existing is not None:
        return existing
    if not client:
        raise ValueError("give either review_id, or client (and review_type) to start a review")
    catalog = load_catalog([Settings().template_dir])
    started = start_review(
        uow(), client, catalog, review_type, meeting.isoformat() if meeting else None, "prefect-ui"
    )
    attach_run(uow(), started, run_id, 0)
    return started


# The run's result is persisted (PREFECT_LOCAL_STORAGE_PATH or a default storage block, shared
# by the workers); its tasks' are not, so a resumed run never skips one as cached: each reads
# and writes the application database, which is what a resumed run goes on from.
@flow(name="business-review", log_prints=True, persist_result=True)
def business_review(
    review_id: int | None = None,
    client: str | None = None,
    review_type: str | None = None,
    meeting_date: datetime | None = None,
) -> str:
    """One client business review, from needed to closed.

    Start it from the `xbr review start` command, or here with a client, a review type
    (template name, e.g. qbr) and an optional meeting date. At every gate the run publishes
    the checklist and suspends until the accountable person decides (Resume form, approval
    link or `xbr approve`); it holds no process while it waits.
    """
    logger = get_run_logger()
    rid = _review_for_this_run(review_id, client, review_type, meeting_date)
    while True:
        status = views.review_view(uow(), rid)["status"]
        if status == "staging":
            stage_review(rid)  # the client's exports in; findings, tickets and scores out
        elif status in ("qa_review", "closed"):
            opened = open_next_review(rid)  # follow-up's last step: the client's next review
            if opened["review_id"]:
                start_run(opened["review_id"])
        review = views.review_view(uow(), rid)
        publish_gate(rid)
        if review["status"] not in OPEN_PHASES:
            return str(review["status"])
        gate = review["gate"]
        key = current_gate_key(review)
        decision = suspend_flow_run(
            wait_for_input=PhaseDecision.with_initial_data(
                description=artifacts.gate_description(review)
            ),
            # the run count keeps a retried run from reusing an answered key
            key=f"{key}-x{flow_run.run_count}",
            timeout=None,
        )
        after = views.review_view(uow(), rid)
        if (after["status"], after["round"]) != (gate["phase"], gate["round"]):
            continue  # decided elsewhere (command line, approval page, sweeper): it is applied
        logger.info(apply_decision(rid, gate["phase"], gate["round"], decision))
