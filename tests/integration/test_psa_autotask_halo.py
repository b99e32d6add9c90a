"""Autotask and HaloPSA, each against a local server that speaks its REST API: a review's
ticket through every phase with its checklist, follow-up tickets and the opportunity of an
approved initiative made once under dropped answers, a ticket closed there closing xbr's,
and wrong credentials as one line naming the PSA and the setting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select, update

from notifications.outbox import deliver_due
from psa.autotask import zone_url
from psa.connection import BTR_STATUSES, Connection, save
from psa.connectors import open_connector
from psa.http import Refused
from psa.pull import pull
from states.calendar.opening import start_review
from states.lifecycle.machine import OPEN_PHASES
from states.plans.fiscal import FiscalQuarter
from states.plans.initiatives import Cost, Draft, Move, add_initiative, move_initiative
from states.psa.companies import map_client
from states.read.views import review_view
from states.settings import Settings
from states.store.models import FollowUpTicket, OutboxMessage
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.follow_ups import raise_follow_up
from tests.psa_servers.autotask import AutotaskServer
from tests.psa_servers.common import PsaServer
from tests.psa_servers.halo import HaloServer
from tests.team import walk

CLIENT, COMPANY = "Client btr", "Client BTR Ltd"
LABELS = list(dict.fromkeys(BTR_STATUSES.values()))
# the tests' PSAs take any pace; Autotask's usual (2 a second) is kept in production


@dataclass
class Vendor:
    """One PSA's local server, how xbr connects to it, and how its records read."""

    server: PsaServer
    connection: Connection
    company: int
    status: Callable[[dict[str, Any]], str]
    summary: str
    closed: Callable[[dict[str, Any]], bool]
    task_done: str
    ticket_path: str
    opportunity_path: str


def autotask(home: Path) -> Iterator[Vendor]:
    with AutotaskServer() as server:
        labels = {10 + n: label for n, label in enumerate(LABELS) if label != "Closed"}
        for value, label in labels.items():
            server.add_status(value, label)
        server.add_queue(29682833, "BTR")
        server.add_queue(29682834, "Help Desk")
        server.add_source(7, "BTR")
        owner = server.add_resource("vera@msp.example")
        zones = f"{server.url}/atservicesrest/v1.0/zoneInformation"
        connection = Connection(
            kind="autotask", url=zone_url(server.username, zones), username=server.username,
            secret=server.secret, integration_code=server.integration_code,  # type: ignore[arg-type]
            statuses={"closed": "Complete", "cancelled": "Complete"},
            ticket_board="Help Desk", opportunity_owner=str(owner), rate=200,
        )  # fmt: skip
        names = {**labels, 1: "New", 5: "Complete", 8: "In Progress"}
        yield Vendor(server, connection, server.add_company(COMPANY),
                     lambda t: names[t["status"]], "title", lambda t: t["status"] == 5,
                     "isCompleted", r"/Tickets$", r"/Opportunities$")  # fmt: skip


def halo(home: Path) -> Iterator[Vendor]:
    with HaloServer() as server:
        names = {20 + n: label for n, label in enumerate(LABELS)}
        for status_id, name in names.items():
            server.add_status(status_id, name, name == "Closed")
        connection = Connection(
            kind="halo", url=server.url, client_id=server.client_id,
            client_secret=server.client_secret, tenant=server.tenant,  # type: ignore[arg-type]
            priorities={"red": "1", "amber": "3"}, board="BTR Team", rate=200,
        )  # fmt: skip
        names.update({1: "New", 2: "In Progress", 9: "Closed"})
        yield Vendor(server, connection, server.add_client(COMPANY),
                     lambda t: names[t["status_id"]], "summary",
                     lambda t: bool(t["hasbeenclosed"]), "done", r"/api/Tickets$",
                     r"/api/Opportunities$")  # fmt: skip


@pytest.fixture(params=["autotask", "halo"])
def vendor(
    request: pytest.FixtureRequest, sqlite_uow: UowFactory, tmp_path: Path
) -> Iterator[Vendor]:
    """The PSA, connected, with the BTR client mapped to its company."""
    home = tmp_path / "home"
    for found in {"autotask": autotask, "halo": halo}[request.param](home):
        save(home, found.connection)
        map_client(sqlite_uow(), CLIENT, str(found.company), COMPANY)
        yield found
        assert getattr(found.server, "errors", []) == []


def mirror(uow: UowFactory, vendor: Vendor, tmp_path: Path) -> list[str]:
    settings = Settings(home=tmp_path / "home")
    return [d.status for d in deliver_due(uow(), settings) if d.kind.startswith("psa.")]


def tickets(vendor: Vendor) -> list[dict[str, Any]]:
    return vendor.server.tickets()  # type: ignore[attr-defined, no-any-return]


def test_a_review_is_mirrored_through_every_phase(
    sqlite_uow: UowFactory, catalog: dict[str, Template], vendor: Vendor, tmp_path: Path
) -> None:
    uow = sqlite_uow
    review_id = start_review(uow(), CLIENT, catalog, meeting="2027-03-10T10:00")
    assert mirror(uow, vendor, tmp_path) == ["sent"]
    seen = []
    for phase in [p.value for p in OPEN_PHASES[1:]] + ["closed"]:
        (ticket,) = tickets(vendor)
        wanted = vendor.connection.statuses[review_view(uow(), review_id).status]
        assert vendor.status(ticket) == wanted
        seen.append(vendor.status(ticket))
        walk(uow, review_id, phase)
        assert set(mirror(uow, vendor, tmp_path)) <= {"sent"}
    (ticket,) = tickets(vendor)
    assert vendor.status(ticket) == vendor.connection.statuses["closed"]
    assert vendor.closed(ticket)
    assert len(set(seen)) >= 7
    review = review_view(uow(), review_id)
    tasks = vendor.server.tasks(ticket["id"])  # type: ignore[attr-defined]
    assert len(tasks) == len(review.tasks)
    assert all(t[vendor.task_done] for t in tasks)


def test_follow_ups_and_an_opportunity_are_made_once_under_dropped_answers(
    sqlite_uow: UowFactory, catalog: dict[str, Template], vendor: Vendor, tmp_path: Path
) -> None:
    uow = sqlite_uow
    review_id = start_review(uow(), CLIENT, catalog)
    ticket_id = raise_follow_up(uow, review_id, "Patching")
    quarter = FiscalQuarter(2027, 2)
    initiative = add_initiative(uow(), CLIENT, Draft(
        "EDR rollout", "3 devices unprotected", priority="high", quarter=quarter,
        costs=(Cost("one_time", Decimal("4800"), quarter),),
    ), "vera@msp.example")  # fmt: skip
    move_initiative(uow(), initiative, Move.APPROVE, "andy@msp.example", "approved in the QBR")
    vendor.server.drop_response("POST", vendor.ticket_path, times=3)
    vendor.server.drop_response("POST", vendor.opportunity_path)
    for _ in range(5):
        mirror(uow, vendor, tmp_path)
        with uow() as work:  # the backoff has passed
            work.session.execute(update(OutboxMessage).values(next_attempt_at=None))
            work.commit()
    with uow() as work:
        waiting = work.session.scalars(
            select(OutboxMessage.status).where(OutboxMessage.kind.startswith("psa."))
        )
        assert set(waiting) == {"sent"}
    summaries = sorted(t[vendor.summary] for t in tickets(vendor))
    assert summaries.count("BTR Follow-up - Patching") == 1
    assert summaries.count("BTR Follow-up - EDR rollout: first step") == 1
    assert len(summaries) == 3  # and the review's own
    (opportunity,) = vendor.server.opportunities()  # type: ignore[attr-defined]
    amount = opportunity.get("amount", opportunity.get("oppvalue"))
    assert Decimal(str(amount)) == Decimal("4800")

    # closed in the PSA: closed in xbr at the next pull
    follow_up = next(t for t in tickets(vendor) if t[vendor.summary] == "BTR Follow-up - Patching")
    vendor.server.close_ticket(follow_up["id"])  # type: ignore[attr-defined]
    connector = open_connector(vendor.connection)
    try:
        assert pull(uow(), vendor.connection, connector).closed == [ticket_id]
    finally:
        connector.close()
    with uow() as work:
        closed = work.session.get(FollowUpTicket, ticket_id)
        assert closed is not None
        assert closed.status == "closed"


def test_wrong_credentials_name_the_psa_and_the_settings(vendor: Vendor) -> None:
    field = "secret" if vendor.connection.kind == "autotask" else "client_secret"
    wrong = vendor.connection.model_copy(update={field: SecretStr("wrong")})
    connector = open_connector(wrong)
    try:
        with pytest.raises(Refused) as refused:
            connector.check()
    finally:
        connector.close()
    line = str(refused.value)
    assert "\n" not in line
    assert line.startswith(f"{vendor.connection.name} refused xbr's")
    assert f"--{field.replace('_', '-')}" in line
