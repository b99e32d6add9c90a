"""The `business-review` flow: one long-running run per review, suspended at every gate."""

from prefect import flow, get_run_logger
from prefect.client.schemas.objects import State
from prefect.runtime import flow_run
from prefect.states import Failed
from pydantic import Field

from bootstrap import root
from states.errors import XbrError
from states.read import views
from tasks.decision_form import PhaseDecision
from tasks.flow_runs import current_gate_key
from tasks.gate_pause import REFUSED, SUSPENDED, suspend_at_gate
from tasks.gates import (
    apply_decision,
    finish_run,
    gate_form_description,
    publish_gate,
    review_for_this_run,
    start_run,
)
from tasks.recurrence import open_next_review
from tasks.staging import stage_review

# What the deployment's Run form says about each field
CLIENT = "The client's name as `xbr client list` shows it, e.g. Acme Law."
REVIEW_TYPE = "The review's template (`xbr template list`), e.g. qbr; empty: the client's own."
MEETING = (
    "Optional: the meeting in the client's time zone, as YYYY-MM-DDTHH:MM, "
    "e.g. 2026-12-15T14:00; empty: set it at the scheduling gate."
)
REVIEW_ID = "Only for runs xbr makes itself: the review to drive. Leave 0 to start a new one."


# The run's result is persisted (PREFECT_LOCAL_STORAGE_PATH or a default storage block, shared
# by the workers); its tasks' are not, so a resumed run never skips one as cached: each reads
# and writes the application database, which is what a resumed run goes on from.
@flow(name="business-review", log_prints=True, persist_result=True)
def business_review(
    client: str = Field(default="", description=CLIENT, json_schema_extra={"title": "Client"}),
    review_type: str = Field(
        default="", description=REVIEW_TYPE, json_schema_extra={"title": "Review type"}
    ),
    meeting_date: str = Field(
        default="", description=MEETING, json_schema_extra={"title": "Meeting (client's time)"}
    ),
    review_id: int = Field(
        default=0, ge=0, description=REVIEW_ID, json_schema_extra={"title": "Review id (leave 0)"}
    ),
) -> str | State:
    """One client business review, from needed to closed.

    Start it from the `xbr review start` command, or here with a client, a review type
    (template name, e.g. qbr) and an optional meeting date. At every gate the run publishes
    the checklist and suspends until the accountable person decides (Resume form, approval
    link or `xbr approve`); it holds no process while it waits.
    """
    logger = get_run_logger()
    try:
        rid = review_for_this_run(review_id, client, review_type, meeting_date)
    except XbrError as wrong:  # a typo in the Run form: one line, and no retry helps
        return Failed(message=str(wrong))
    while True:
        status = views.review_view(root().uow(), rid).status
        if status == "staging":
            stage_review(rid)  # the client's exports in; findings, tickets and scores out
        elif status in ("qa_review", "closed"):
            opened = open_next_review(rid)  # follow-up's last step: the client's next review
            if opened["review_id"]:
                start_run(opened["review_id"])
        review = views.review_view(root().uow(), rid)
        publish_gate(rid)
        gate = review.gate
        if gate is None:  # closed or cancelled: its last steps are done
            finish_run(rid)
            return review.status
        refused = review.last_refusal is not None
        decision = suspend_at_gate(
            PhaseDecision.with_initial_data(description=gate_form_description(review)),
            # the run count keeps a retried run from reusing an answered key
            key=f"{current_gate_key(review)}-x{flow_run.run_count}",
            name=REFUSED if refused else SUSPENDED,
            message=f"Refused: {review.last_refusal}" if refused else "",
        )
        after = views.review_view(root().uow(), rid)
        if (after.status, after.round) != (gate.phase, gate.round):
            continue  # decided elsewhere (command line, approval page, sweeper): it is applied
        logger.info(apply_decision(rid, gate.phase, gate.round, decision))
