"""The business-review flow's work at a gate: find the run's review, publish what the gate
shows, apply a decision from the Resume form, and give a review the flow opened its own run."""

from __future__ import annotations

import difflib
from contextlib import suppress
from uuid import UUID

from prefect.runtime import flow_run

from bootstrap import root
from notifications import links
from reports.run_pages import gate_description
from states import directory
from states.calendar.opening import start_review
from states.errors import RESUME_FORM, AlreadyDecided, InvalidInput, NotFound, Refused, XbrError
from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.lifecycle.run_records import (
    attach_run,
    client_zone,
    record_refusal,
    review_of_run,
    run_finished,
)
from states.read import views
from states.read.scorecards import report_data
from states.read.views import ReviewSummary, ReviewView
from states.store.db import UnitOfWork
from states.store.models import utcnow
from tasks import artifacts
from tasks.decision_form import PhaseDecision
from tasks.flow_runs import attach_new_run, prefect_client, run_name, run_tags
from tasks.runtime import xbr_task


@xbr_task(retries=3, retry_delay_seconds=2)
def publish_gate(review_id: int) -> None:
    """The review's artifacts on this run for its current gate, each updated in place:
    checklist, progress and summary (with any refusal and the questionnaire's progress); once
    staging has assessed it, its findings, scorecard, agenda and client summary draft; the
    client's plan when it has initiatives."""
    run = artifacts.RunArtifacts(root().uow, review_id, str(flow_run.id))
    review = views.review_view(root().uow(), review_id)
    data = report_data(root().uow(), review_id, currency=root().settings.currency)
    artifacts.publish(run, review, data)


def gate_form_description(review: ReviewView) -> str:
    """The Resume form's description, with dates in the client's time zone."""
    return gate_description(review, client_zone(root().uow(), review.id))


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
        meeting = decision.new_meeting_date.strip() or None  # in the client's zone, checked
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


# How the Run form's fields are named in a message about them
RUN_FORM = {"meeting": "meeting_date", "comment": "comment", "reason": "reason"}


def review_for_this_run(review_id: int, client: str, review_type: str, meeting: str) -> int:
    """The review this run drives; a run started from the deployment's Run form starts it
    and takes its name and tags. An unknown client or review type is an XbrError naming the
    closest known one."""
    run_id = str(flow_run.id)
    if review_id:
        return review_id
    existing = review_of_run(root().uow(), run_id)
    if existing is not None:
        return existing
    if not client.strip():
        raise InvalidInput("give a client (and a review type), or the id of a review to drive")
    catalog = root().catalog()
    _known("client", client, [c.name for c in directory.list_clients(root().uow())],
           "xbr client list")  # fmt: skip
    if review_type.strip():
        _known("review type", review_type, list(catalog), "xbr template list")
    try:
        started = start_review(
            root().uow(), client, catalog, review_type.strip() or None, meeting.strip() or None,
            "prefect-ui", standards=root().standards(),
        )  # fmt: skip
    except XbrError as error:
        raise type(error)(error.worded(RUN_FORM)) from None
    attach_run(root().uow(), started, run_id, 0)
    name_run(run_id, views.run_facts(root().uow(), started))
    return started


def _known(what: str, given: str, names: list[str], listing: str) -> None:
    """Nothing, when `given` names one of `names` (case aside); else a NotFound naming the
    closest."""
    lowered = {n.lower(): n for n in names}
    if given.strip().lower() in lowered:
        return
    close = difflib.get_close_matches(given.strip().lower(), list(lowered), n=1, cutoff=0.5)
    hint = f"did you mean {lowered[close[0]]!r}? " if close else ""
    raise NotFound(f"unknown {what} {given.strip()!r}; {hint}({listing})")


def name_run(run_id: str, review: ReviewSummary) -> None:
    """Give a run started from the Run form the name and tags `xbr review start` gives."""
    tags = [*dict.fromkeys([*flow_run.tags, *run_tags(review)])]
    prefect_client().update_flow_run(UUID(run_id), name=run_name(review), tags=tags)
