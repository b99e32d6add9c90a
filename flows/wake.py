"""What every entry point does after a person changed a review: wake its run so that it
follows, and make sure the notices the change planned go out now."""

from __future__ import annotations

from sqlalchemy import func, select

from bootstrap import prefect_env
from states.errors import XbrError
from states.lifecycle.machine import OPEN_PHASES
from states.lifecycle.run_records import REFUSED, gate_key
from states.settings import Settings
from states.store.db import UnitOfWork
from states.store.models import AuditEntry, Review


def follow_up(
    uow: UnitOfWork,
    settings: Settings,
    review_id: int,
    round_before: int,
    run_input: dict[str, object],
    deliver: bool = True,
) -> str:
    """Wake the review's suspended run if the review moved (the notifier of the `xbr up` that
    runs it sends the notices); otherwise send them from here, unless `deliver` is False (the
    web app, whose notifier sends them). Returns a note for the person, "" when all went well."""
    woken, note = _wake_run(uow, settings, review_id, round_before, run_input)
    return note if woken or not deliver else note + _deliver_here(uow, settings, review_id)


def _wake_run(
    uow: UnitOfWork,
    settings: Settings,
    review_id: int,
    round_before: int,
    run_input: dict[str, object],
) -> tuple[bool, str]:
    flow_run_id, round_, gate = _position(uow, review_id)
    if not flow_run_id or round_ == round_before:
        return False, ""
    try:
        prefect_env.use_prefect(settings)
    except XbrError as exc:
        return False, f" (flow run not woken: {exc}; the sweeper catches it up)"
    from tasks.flow_runs import resume_review_run

    if resume_review_run(flow_run_id, run_input, gate=gate):
        return True, ""
    return False, " (its flow run was not waiting; the sweeper catches it up)"


def _position(uow: UnitOfWork, review_id: int) -> tuple[str | None, int, str | None]:
    """The review's flow run, its round and the pause key of its gate (None once it ended),
    read in two small queries."""
    with uow:
        run_id, round_, status = uow.session.execute(
            select(Review.flow_run_id, Review.round, Review.status).where(Review.id == review_id)
        ).one()
        if not run_id or status not in OPEN_PHASES:  # nothing to wake, or no gate to wait at
            return run_id, round_, None
        refused = (AuditEntry.review_id == review_id) & (AuditEntry.trigger == REFUSED)
        refusals = uow.session.scalar(select(func.count()).where(refused)) or 0
        return run_id, round_, gate_key(review_id, status, round_, refusals)


def _deliver_here(uow: UnitOfWork, settings: Settings, review_id: int) -> str:
    from notifications.outbox import FAILED, deliver_due

    try:
        deliveries = deliver_due(uow, settings, review_id)
    except XbrError as exc:
        return f" (notices not sent: {exc})"
    waiting = sum(d.status == FAILED for d in deliveries)
    return f" ({waiting} notices wait for a retry: see `xbr outbox list`)" if waiting else ""
