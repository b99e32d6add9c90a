"""What every entry point does after a person changed a review: wake its run so that it
follows, and make sure the notices the change planned go out now."""

from __future__ import annotations

from bootstrap import prefect_env
from states.errors import XbrError
from states.read import views
from states.settings import Settings
from states.store.db import UnitOfWork


def follow_up(
    uow: UnitOfWork,
    settings: Settings,
    review_id: int,
    round_before: int,
    run_input: dict[str, object],
) -> str:
    """Wake the review's suspended run if the review moved (the notifier of the `xbr up` that
    runs it sends the notices); otherwise send them from here. Returns a note for the person,
    "" when all went well."""
    woken, note = _wake_run(uow, settings, review_id, round_before, run_input)
    return note if woken else note + _deliver_here(uow, settings, review_id)


def _wake_run(
    uow: UnitOfWork,
    settings: Settings,
    review_id: int,
    round_before: int,
    run_input: dict[str, object],
) -> tuple[bool, str]:
    data = views.review_view(uow, review_id)
    if not data.flow_run_id or data.round == round_before:
        return False, ""
    try:
        prefect_env.use_prefect(settings)
    except XbrError as exc:
        return False, f" (flow run not woken: {exc}; the sweeper catches it up)"
    from tasks.flow_runs import current_gate_key, resume_review_run

    if resume_review_run(data.flow_run_id, run_input, gate=current_gate_key(data)):
        return True, ""
    return False, " (its flow run was not waiting; the sweeper catches it up)"


def _deliver_here(uow: UnitOfWork, settings: Settings, review_id: int) -> str:
    from notifications.outbox import FAILED, deliver_due

    try:
        deliveries = deliver_due(uow, settings, review_id)
    except XbrError as exc:
        return f" (notices not sent: {exc})"
    waiting = sum(d.status == FAILED for d in deliveries)
    return f" ({waiting} notices wait for a retry: see `xbr outbox list`)" if waiting else ""
