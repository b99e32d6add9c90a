"""An approved initiative becomes work, on real databases: `initiative.approved` reaches the PSA's
webhook once (replayed deliveries and an outage included, with its Idempotency-Key), its first
step is a follow-up ticket, and its status follows its tickets to done."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from deploy.stack import free_port
from notifications.outbox import deliver_due
from states.calendar.opening import start_review
from states.errors import IllegalTrigger
from states.plans.initiatives import Draft, Move, add_initiative, move_initiative
from states.read.plans import roadmap
from states.settings import Settings
from states.staging.tickets import close_ticket
from states.store.models import FollowUpTicket, OutboxMessage
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.receivers import JsonReceiver

CLIENT = "Client qbr"
VERA, ANDY, SAM = "vera@msp.example", "andy@msp.example", "sam@msp.example"


def test_an_approved_initiative_reaches_the_psa_once_and_its_tickets_finish_it(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    start_review(uow(), CLIENT, catalog)  # the review its first step's ticket hangs on
    initiative = add_initiative(
        uow(), CLIENT, Draft("EDR rollout", "3 devices unprotected", priority="high"), VERA
    )
    move_initiative(uow(), initiative, Move.APPROVE, ANDY, "approved in the QBR")
    # the PSA is down: the event waits and is tried again, never lost
    nobody = f"http://127.0.0.1:{free_port()}/psa/hook"
    down = deliver_due(uow(), Settings(home=tmp_path / "home", psa_webhook_url=nobody))
    assert [d.status for d in down if d.kind == "ticket.initiative"] == ["failed"]
    receiver = JsonReceiver()
    url = f"http://127.0.0.1:{receiver.port}/psa/hook"
    settings = Settings(home=tmp_path / "home", psa_webhook_url=url)
    with receiver:
        with uow() as work:  # its backoff has passed
            work.session.execute(update(OutboxMessage).values(next_attempt_at=None))
            work.commit()
        sent = deliver_due(uow(), settings)
        again = deliver_due(uow(), settings)  # a replay finds nothing left
    assert [d.status for d in sent if d.kind == "ticket.initiative"] == ["sent"]
    assert not [d for d in again if d.kind == "ticket.initiative"]
    events = [body for path, body in receiver.posts if body.get("event") == "initiative.approved"]
    assert len(events) == 1
    assert events[0]["initiative"]["title"] == "EDR rollout"
    assert events[0]["initiative"]["status"] == "in_progress"
    keys = [h["Idempotency-Key"] for h in receiver.headers]
    assert f"initiative:{initiative}:approved:webhook" in keys

    with uow() as work:
        ticket = work.session.scalar(
            select(FollowUpTicket).where(FollowUpTicket.initiative_id == initiative)
        )
        assert ticket is not None
        assert ticket.title == "Follow-up - EDR rollout: first step"
        assert (ticket.severity, ticket.status) == ("red", "open")
        ticket_id = ticket.id
    assert roadmap(uow(), CLIENT).initiatives[0].status == "in_progress"
    close_ticket(uow(), ticket_id, SAM)
    assert roadmap(uow(), CLIENT).initiatives[0].status == "done"


def test_a_replayed_approval_adds_no_second_event_or_ticket(
    uow: UowFactory, catalog: dict[str, Template]
) -> None:
    start_review(uow(), CLIENT, catalog, now=datetime.now(UTC) - timedelta(days=1))
    initiative = add_initiative(uow(), CLIENT, Draft("Backups"), VERA)
    move_initiative(uow(), initiative, Move.APPROVE, ANDY)
    with pytest.raises(IllegalTrigger, match="is in_progress"):  # its work began
        move_initiative(uow(), initiative, Move.APPROVE, ANDY)
    with uow() as work:
        events = work.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "ticket.initiative")
        ).all()
        tickets = work.session.scalars(
            select(FollowUpTicket).where(FollowUpTicket.initiative_id == initiative)
        ).all()
    assert (len(events), len(tickets)) == (1, 1)
