"""The `business-review` flow: one long-running run per review, suspended at every gate."""

from datetime import datetime

from prefect import flow, get_run_logger
from prefect.flow_runs import suspend_flow_run
from prefect.runtime import flow_run

from bootstrap import root
from reports.run_pages import gate_description
from states.read import views
from tasks.decision_form import PhaseDecision
from tasks.flow_runs import current_gate_key
from tasks.gates import (
    apply_decision,
    finish_run,
    publish_gate,
    review_for_this_run,
    start_run,
)
from tasks.recurrence import open_next_review
from tasks.staging import stage_review


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
    rid = review_for_this_run(review_id, client, review_type, meeting_date)
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
        key = current_gate_key(review)
        decision = suspend_flow_run(
            wait_for_input=PhaseDecision.with_initial_data(description=gate_description(review)),
            # the run count keeps a retried run from reusing an answered key
            key=f"{key}-x{flow_run.run_count}",
            timeout=None,
        )
        after = views.review_view(root().uow(), rid)
        if (after.status, after.round) != (gate.phase, gate.round):
            continue  # decided elsewhere (command line, approval page, sweeper): it is applied
        logger.info(apply_decision(rid, gate.phase, gate.round, decision))
