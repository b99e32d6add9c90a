"""The PSA with the real stack: `xbr up`'s notifier mirrors a review started from the command
line on ConnectWise's BTR board, its next phase follows a decision, and the sweeper's pull
closes in xbr a follow-up ticket closed in ConnectWise."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from states.store.models import FollowUpTicket
from tests.e2e.conftest import Server, Stack, make_stack, run_stack, wait_for
from tests.follow_ups import raise_follow_up
from tests.psa_servers.connectwise import ConnectWiseServer
from tests.team import walk

# a deliverer that could not record what it sent (SQLite busy under a loaded machine) leaves
# the message to its lease, five minutes, before another sends it: the waits allow for one
LEASED = 400
BOARD = [("BTR Needed", False), ("Scheduling", False), ("Scheduled", False), ("Stage", False),
         ("Prep", False), ("Deliver", False), ("Follow up", False), ("Completed", False),
         ("Closed", True)]  # fmt: skip


@pytest.fixture
def cw() -> Iterator[ConnectWiseServer]:
    with ConnectWiseServer(private_key="e2e-private") as server:
        server.add_board("BTR", BOARD)
        server.add_source("BTR")
        yield server


@pytest.fixture
def psa_stack(tmp_path: Path, prefect_server: Server, cw: ConnectWiseServer) -> Iterator[Stack]:
    """An installation connected to the local ConnectWise, Client qbr mapped, runner up."""
    stack = make_stack(tmp_path / "home", prefect_server, {"XBR_PSA_PRIVATE_KEY": "e2e-private"})
    stack.xbr("psa", "connect", "connectwise", "--url", cw.url, "--company-id", cw.company_id,
              "--public-key", cw.public_key, "--client-id", cw.client_id)  # fmt: skip
    company = cw.add_company("Client QBR Inc", "ClientQBR")
    stack.xbr("client", "psa", "Client qbr", "--company", str(company))
    yield from run_stack(stack)


def board_ticket(cw: ConnectWiseServer) -> dict[str, Any] | None:
    """The review's ticket (its stamp names the review)."""
    return next((t for t in cw.tickets() if "-review-" in t.get("externalXRef", "")), None)


def summarised(cw: ConnectWiseServer) -> dict[str, Any] | None:
    """The follow-up ticket of the backups finding."""
    return next((t for t in cw.tickets() if t["summary"] == "BTR Follow-up - Backups"), None)


def status_of(cw: ConnectWiseServer) -> str:
    return str(((board_ticket(cw) or {}).get("status") or {}).get("name", ""))


def test_the_stack_mirrors_a_review_and_pulls_a_ticket_closed_in_the_psa(
    psa_stack: Stack, cw: ConnectWiseServer
) -> None:
    stack = psa_stack
    review_id = json.loads(stack.xbr("review", "start", "Client qbr", "--json").stdout)["id"]
    ticket = wait_for("the review's ticket on the BTR board", lambda: board_ticket(cw), LEASED)
    assert ticket["status"]["name"] == "BTR Needed"
    stack.wait_suspended(review_id)
    walk(stack.uow, review_id, "scheduling")
    scheduling = "the ticket to follow the review into Scheduling"
    wait_for(scheduling, lambda: status_of(cw) == "Scheduling", LEASED)

    ticket_id = raise_follow_up(stack.uow, review_id, "Backups")
    follow_up = wait_for("the follow-up ticket in ConnectWise", lambda: summarised(cw), LEASED)
    cw.close_ticket(follow_up["id"])
    stack.xbr("sweep")  # its pull reads what changed in ConnectWise
    with stack.uow() as work:
        status = work.session.scalar(
            select(FollowUpTicket.status).where(FollowUpTicket.id == ticket_id)
        )
    assert status == "closed"
    assert len([t for t in cw.tickets() if "-review-" in t["externalXRef"]]) == 1
