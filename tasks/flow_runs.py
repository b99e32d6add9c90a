"""Creating, resuming and checking review flow runs through the Prefect API."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from prefect.client.orchestration import SyncPrefectClient, get_client
from prefect.client.schemas.filters import (
    DeploymentFilter,
    DeploymentFilterName,
    FlowRunFilter,
    FlowRunFilterId,
    FlowRunFilterState,
    FlowRunFilterStateType,
)
from prefect.client.schemas.objects import State, StateType
from prefect.client.schemas.responses import SetStateStatus
from prefect.context import SyncClientContext
from prefect.exceptions import ObjectNotFound
from prefect.settings import PREFECT_API_URL
from prefect.states import Crashed, Scheduled, Suspended

from bootstrap import root
from states.lifecycle.machine import OPEN_PHASES
from states.lifecycle.run_records import attach_run, gate_key
from states.read import views
from states.read.views import ReviewSummary, ReviewView, RunFacts
from states.settings import Settings
from states.store.db import UnitOfWork

DEPLOYMENT = "business-review/business-review"
# The flow has work to do when it arrives in these phases (staging reads the client's exports,
# QA opens the next review): a run made for a review there starts at once, never suspended.
ARRIVAL_WORK = {"staging", "qa_review"}
# A run in these states is alive: it is waiting at a gate or about to run the flow.
LIVE = {StateType.PAUSED, StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING}
_BUSY = {StateType.SCHEDULED, StateType.PENDING, StateType.RUNNING}


def run_name(review: ReviewSummary) -> str:
    """<client>-<type>-<period>, the review's own name."""
    return review.name


def run_tags(review: ReviewSummary) -> list[str]:
    """Tags to find a client's reviews and a type's reviews in the Prefect UI."""
    return [f"client:{review.client_slug}", f"type:{review.type}", "xbr"]


def create_review_run(review: RunFacts, generation: int) -> str:
    """The flow run of a review (`views.run_facts`); the idempotency key makes a retried call
    return the same run.

    With XBR_START_SUSPENDED the run is made suspended at the review's gate: no process starts
    until the gate is decided, when it runs from the top to the next one.
    """
    client = prefect_client()
    arguments: dict[str, Any] = {
        "parameters": {"review_id": review.id},
        "name": run_name(review),
        "tags": run_tags(review),
        "idempotency_key": f"xbr-{review.installation}-review-{review.id}-g{generation}",
        "state": first_state(review, root().settings),
    }
    try:
        run = client.create_flow_run_from_deployment(_deployment_id(client), **arguments)
    except ObjectNotFound:  # deployed again under a new id since it was looked up
        _DEPLOYMENT_IDS.clear()
        run = client.create_flow_run_from_deployment(_deployment_id(client), **arguments)
    return str(run.id)


def attach_new_run(uow: Callable[[], UnitOfWork], review_id: int, generation: int = 0) -> str:
    """Create the review's flow run of this generation and record it on the review.

    A call repeated after a crash gets the same run back (its idempotency key), so a review
    never has two runs of one generation.
    """
    run_id = create_review_run(views.run_facts(uow(), review_id), generation)
    attach_run(uow(), review_id, run_id, generation)
    return run_id


# One client per process and API, shared by its threads: a new one costs some 18 ms of CPU
# (httpx builds its TLS context), more than the call it makes, and a burst of new reviews or a
# sweep makes many calls. It is never closed: it lives as long as the process.
_CLIENTS: dict[str, SyncPrefectClient] = {}
_CLIENTS_LOCK = threading.Lock()


def prefect_client() -> SyncPrefectClient:
    """The flow run's own client inside a flow run; else this process's open client of the
    Prefect API it is set to."""
    context = SyncClientContext.get()
    if context is not None and context.client is not None:
        return context.client
    api = str(PREFECT_API_URL.value() or "")
    with _CLIENTS_LOCK:
        if api not in _CLIENTS:
            _CLIENTS[api] = get_client(sync_client=True).__enter__()
        return _CLIENTS[api]


# Looked up once per process and API: a burst of new reviews makes one call each, not two.
_DEPLOYMENT_IDS: dict[str, UUID] = {}


def _deployment_id(client: Any) -> UUID:
    api = str(client.api_url)
    if api not in _DEPLOYMENT_IDS:
        _DEPLOYMENT_IDS[api] = client.read_deployment_by_name(DEPLOYMENT).id
    return _DEPLOYMENT_IDS[api]


def first_state(review: RunFacts, settings: Settings) -> State:
    """Scheduled, to run now; or, with XBR_START_SUSPENDED, suspended at the review's gate
    with a key of its own (the flow's own pause at that gate, with its form, comes after)."""
    key, status = current_gate_key(review), review.status
    waits = key is not None and status in OPEN_PHASES and status not in ARRIVAL_WORK
    if key is None or not (waits and settings.start_suspended):
        return Scheduled()
    return Suspended(
        timeout_seconds=None,
        pause_key=f"{key}-new",
        message="waits for its first decision (xbr approve or the approval link); "
        "Resume runs it to its gate's form",
    )


def current_gate_key(review: ReviewView | RunFacts) -> str | None:
    """The pause key of the review's current gate, without the run-count suffix; None when
    the review has no gate (it ended)."""
    if review.gate is None:
        return None
    return gate_key(review.id, review.gate.phase, review.gate.round, review.refusals)


def resume_review_run(
    flow_run_id: str,
    run_input: dict[str, Any],
    wait_seconds: float = 30,
    gate: str | None = None,
) -> bool:
    """Wake a suspended review run; False when it is not waiting (it re-reads the database).

    Only called after the database has moved on, so a run that will not take the input in
    time (its form's schema not saved, the server asking to wait) is rescheduled without it:
    it re-executes from the top and suspends at the review's new gate. A run that already
    waits at `gate` (the review's current gate key: another wake-up got there first) is left
    alone: the input was meant for the gate before, and that run would take it as this gate's.
    """
    deadline = time.monotonic() + wait_seconds
    run_id = UUID(flow_run_id)
    client = prefect_client()
    while True:
        state = client.read_flow_run(run_id).state
        delay = 0.25
        if state is not None and state.is_paused():
            key = state.state_details.pause_key or ""
            if gate is not None and key.startswith(gate + "-"):
                return True  # it caught up already
            result = client.resume_flow_run(run_id, run_input=run_input)
            if result.status == SetStateStatus.ACCEPT:
                return True
            if result.status == SetStateStatus.ABORT:  # someone else resumed it
                return False
            delay = float(getattr(result.details, "delay_seconds", 0) or delay)
        elif state is None or state.type not in _BUSY:
            return False
        if time.monotonic() > deadline:
            if state is not None and state.is_paused():
                client.set_flow_run_state(run_id, Scheduled(name="Resuming"), force=True)
                return True
            return False
        # a run between two gates suspends in a moment: wait for it, then wake it
        time.sleep(min(delay, 2))


def read_states(flow_run_ids: list[str]) -> dict[str, State | None]:
    """The current state of each of these flow runs; a run Prefect does not know maps to None."""
    found: dict[str, State | None] = dict.fromkeys(flow_run_ids)
    client = prefect_client()
    for start in range(0, len(flow_run_ids), 200):
        chunk = [UUID(i) for i in flow_run_ids[start : start + 200]]
        runs = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=chunk)), limit=len(chunk)
        )
        found.update({str(run.id): run.state for run in runs})
    return found


def crash_orphaned_runs() -> list[str]:
    """Mark review runs left Running or Pending by a runner that died as Crashed.

    Only the embedded stack calls this, at start-up, when no other runner can be executing
    them; the sweeper then gives their reviews new runs.
    """
    client = prefect_client()
    runs = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(
            state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.RUNNING, StateType.PENDING])
            )
        ),
        deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=["business-review"])),
    )
    for run in runs:
        client.set_flow_run_state(run.id, Crashed(message="its runner stopped"), force=True)
    return [str(run.id) for run in runs]
