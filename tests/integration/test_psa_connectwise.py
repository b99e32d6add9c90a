"""A client's work mirrored in ConnectWise Manage, against a local server that speaks its REST
API: the review's ticket on the BTR board through every phase, follow-up tickets and the
opportunity of an approved initiative made exactly once (a lost answer, a crash between send
and record, a replay), the PSA's changes pulled back, and its rate limit kept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from notifications import links
from notifications.outbox import deliver_due, retry
from psa.connection import BTR_STATUSES, Connection, save
from psa.connectors import open_connector
from psa.pull import pull
from states.calendar.opening import start_review
from states.lifecycle.machine import OPEN_PHASES
from states.plans.fiscal import FiscalQuarter
from states.plans.initiatives import Cost, Draft, Move, add_initiative, move_initiative
from states.psa.companies import map_client
from states.read.views import review_view
from states.settings import Settings
from states.staging.assessment import Severity
from states.store.models import AuditEntry, FollowUpTicket, OutboxMessage, PsaLink, Review
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.follow_ups import raise_follow_up
from tests.integration.conftest import serving
from tests.psa_servers.common import Request, Response
from tests.psa_servers.connectwise import ConnectWiseServer
from tests.team import walk
from tests.web_session import signed_in

ROOT = Path(__file__).resolve().parents[2]
CLIENT, COMPANY = "Client btr", "Client BTR Ltd"
BOARD = [(s, s == "Closed") for s in dict.fromkeys(BTR_STATUSES.values())]
URGENT, NORMAL = "Priority 1 - Emergency Response", "Priority 3 - Normal Response"
VERA, ANDY = "vera@msp.example", "andy@msp.example"


@pytest.fixture
def cw() -> Iterator[ConnectWiseServer]:
    """ConnectWise with the BTR board of a lean BTR process, a help desk and the BTR source."""
    with ConnectWiseServer() as server:
        server.add_board("BTR", BOARD)
        server.add_board("Help Desk", [("New", False), ("In Progress", False), ("Closed", True)])
        server.add_source("BTR")
        yield server
        assert server.errors == []  # the local server's own faults would hide ours


def connect(cw: ConnectWiseServer, home: Path, rate: float = 0) -> Connection:
    connection = Connection(
        kind="connectwise", url=cw.api_url, company_id=cw.company_id,
        public_key=cw.public_key, private_key=cw.private_key, client_id=cw.client_id,  # type: ignore[arg-type]
        ticket_board="Help Desk", priorities={"red": URGENT, "amber": NORMAL}, rate=rate,
    )  # fmt: skip
    save(home, connection)
    return connection


@pytest.fixture
def settings(uow: UowFactory, cw: ConnectWiseServer, tmp_path: Path) -> Settings:
    """xbr connected to the local ConnectWise, with the BTR client mapped to its company."""
    connect(cw, tmp_path / "home")
    company = cw.add_company(COMPANY, "ClientBTR")
    map_client(uow(), CLIENT, str(company), COMPANY)
    return Settings(home=tmp_path / "home")


def mirror(uow: UowFactory, settings: Settings) -> list[str]:
    """Deliver what is due; the statuses of the PSA messages delivered."""
    return [d.status for d in deliver_due(uow(), settings) if d.kind.startswith("psa.")]


def due_now(uow: UowFactory) -> None:
    """The backoff of failed messages has passed."""
    with uow() as work:
        work.session.execute(update(OutboxMessage).values(next_attempt_at=None))
        work.commit()


def psa_messages(uow: UowFactory) -> list[OutboxMessage]:
    with uow() as work:
        found = work.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind.startswith("psa."))
        )
        return list(found)


def test_a_review_is_mirrored_on_the_btr_board_from_needed_to_closed(
    uow: UowFactory, catalog: dict[str, Template], cw: ConnectWiseServer, settings: Settings
) -> None:
    review_id = start_review(uow(), CLIENT, catalog, meeting="2027-03-10T10:00")
    assert mirror(uow, settings) == ["sent"]
    (ticket,) = cw.tickets()
    assert ticket["board"]["name"] == "BTR"
    assert ticket["status"]["name"] == "BTR Needed"
    assert ticket["company"]["name"] == COMPANY
    assert ticket["externalXRef"].startswith("xbr-")
    assert ticket["externalXRef"].endswith(f"-review-{review_id}")
    assert ticket["requiredDate"] == "2027-03-10T15:00:00Z"  # 10:00 in New York
    seen = [ticket["status"]["name"]]
    for phase in [p.value for p in OPEN_PHASES[1:]] + ["closed"]:
        walk(uow, review_id, phase)
        assert set(mirror(uow, settings)) <= {"sent"}
        (ticket,) = cw.tickets()
        status = review_view(uow(), review_id).status
        assert ticket["status"]["name"] == BTR_STATUSES[status], phase
        seen.append(ticket["status"]["name"])
    assert seen[-1] == "Closed"
    assert ticket["closedFlag"] is True
    assert len(set(seen)) >= 8  # each phase's status in turn (one may be passed through)
    review = review_view(uow(), review_id)
    tasks = cw.tasks(ticket["id"])
    assert sorted(t["notes"] for t in tasks) == sorted(t.title for t in review.tasks)
    assert all(t["closedFlag"] for t in tasks)
    assert ticket["budgetHours"] == review.budget_hours
    assert ticket["actualHours"] == review.actual_hours
    # a message per step and per task, each delivered once: no PATCH repeats a status
    assert all(m.status == "sent" for m in psa_messages(uow))
    posts = [r for r in cw.requests if r[0] == "POST" and r[1].endswith("/service/tickets")]
    assert len(posts) == 1


def test_creates_whose_answer_was_lost_are_made_once(
    uow: UowFactory, catalog: dict[str, Template], cw: ConnectWiseServer, settings: Settings
) -> None:
    cw.drop_response("POST", r"/service/tickets$")
    review_id = start_review(uow(), CLIENT, catalog)
    assert mirror(uow, settings) == ["failed"]  # the ticket was made, its answer lost
    assert len(cw.tickets()) == 1
    due_now(uow)
    assert mirror(uow, settings) == ["sent"]  # found by its stamp, not made again
    (ticket,) = cw.tickets()
    assert ticket["status"]["name"] == "BTR Needed"
    assert len(cw.tasks(ticket["id"])) == len(
        [t for t in review_view(uow(), review_id).tasks if t.phase == "needed"]
    )

    # a follow-up ticket and an approved initiative's opportunity, their answers lost too
    follow_up_id = raise_follow_up(uow, review_id, "Patching")
    cw.drop_response("POST", r"/service/tickets$")
    cw.drop_response("POST", r"/sales/opportunities$")
    cw.drop_response("POST", r"/forecast$")
    quarter = FiscalQuarter(2027, 2)
    initiative = add_initiative(uow(), CLIENT, Draft(
        "EDR rollout", "3 devices unprotected", priority="high",
        costs=(Cost("one_time", Decimal("4800"), quarter),
               Cost("recurring", Decimal("150"), quarter)),
        quarter=quarter,
    ), VERA)  # fmt: skip
    move_initiative(uow(), initiative, Move.APPROVE, ANDY, "approved in the QBR")
    for _ in range(4):  # each lost answer costs one try
        mirror(uow, settings)
        due_now(uow)
    assert set(mirror(uow, settings)) <= {"sent"}
    assert all(m.status == "sent" for m in psa_messages(uow))
    follow_ups = [t for t in cw.tickets() if t["summary"].startswith("BTR Follow-up - ")]
    assert sorted(t["summary"] for t in follow_ups) == [
        "BTR Follow-up - EDR rollout: first step", "BTR Follow-up - Patching",
    ]  # fmt: skip
    patching = next(t for t in follow_ups if t["summary"] == "BTR Follow-up - Patching")
    assert patching["source"]["name"] == "BTR"
    assert patching["priority"]["name"] == URGENT
    assert patching["board"]["name"] == "Help Desk"
    assert patching["company"]["id"] == cw.tickets()[0]["company"]["id"]
    (opportunity,) = cw.opportunities()
    assert opportunity["name"] == "EDR rollout"
    assert opportunity["expectedCloseDate"].startswith("2027-")
    (revenue,) = cw.forecast_items(opportunity["id"])
    assert revenue["revenue"] == 4800 + 12 * 150
    assert follow_up_id


class SlowAnswers(ConnectWiseServer):
    """ConnectWise whose answer to a new ticket comes a minute after it made the ticket: a
    deliverer killed in that minute has sent the create and never recorded its answer."""

    made = threading.Event()

    def serve(self, request: Request) -> Response | None:
        answer = super().serve(request)
        if request.method == "POST" and request.path.endswith("/service/tickets"):
            self.made.set()
            threading.Event().wait(60)
        return answer


def test_a_deliverer_killed_between_send_and_record_makes_the_ticket_once(
    uow: UowFactory, catalog: dict[str, Template], database_url: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    with SlowAnswers() as cw:
        cw.add_board("BTR", BOARD)
        company = cw.add_company(COMPANY)
        connect(cw, home)
        map_client(uow(), CLIENT, str(company), COMPANY)
        start_review(uow(), CLIENT, catalog)
        script = (
            "from notifications.outbox import deliver_due\n"
            "from states.settings import Settings\n"
            "from states.store.db import UnitOfWork, make_engine\n"
            f"engine = make_engine({database_url!r})\n"
            f"deliver_due(UnitOfWork(engine), Settings(home={str(home)!r}))\n"
        )
        deliverer = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT,
                                     env={**os.environ, "XBR_HOME": str(home)})  # fmt: skip
        try:
            assert SlowAnswers.made.wait(120), "the deliverer never sent the ticket"
        finally:
            os.kill(deliverer.pid, signal.SIGKILL)
            deliverer.wait()
        (message,) = psa_messages(uow)
        assert message.status == "sending"  # claimed, never recorded
        with uow() as work:
            (link,) = work.session.scalars(select(PsaLink).where(PsaLink.object == "review"))
            assert link.create_sent_at is not None
            assert link.remote_id is None
        retry(uow(), message.id)  # as `xbr outbox retry` (or its lease running out) does
        SlowAnswers.made.clear()
        assert mirror(uow, Settings(home=home)) == ["sent"]
        assert len(cw.tickets()) == 1
        posts = [r for r in cw.requests if r[0] == "POST" and r[1].endswith("/service/tickets")]
        assert len(posts) == 1
        # a replayed delivery of the same message changes nothing in the PSA
        with uow() as work:
            work.session.execute(update(OutboxMessage).values(status="pending"))
            work.commit()
        before = len(cw.requests)
        assert mirror(uow, Settings(home=home)) == ["sent"]
        assert len(cw.tickets()) == 1
        writes = [r for r in cw.requests[before:] if r[0] in ("POST", "PATCH")]
        assert writes == []


def test_a_ticket_closed_in_the_psa_closes_xbrs_and_a_moved_review_is_noted(
    uow: UowFactory, catalog: dict[str, Template], cw: ConnectWiseServer, settings: Settings
) -> None:
    review_id = start_review(uow(), CLIENT, catalog)
    ticket_id = raise_follow_up(uow, review_id, "Backups", Severity.AMBER)
    assert set(mirror(uow, settings)) == {"sent"}
    follow_up = next(t for t in cw.tickets() if t["summary"] == "BTR Follow-up - Backups")
    review_ticket = next(t for t in cw.tickets() if t["board"]["name"] == "BTR")
    connection = connect(cw, settings.home)
    connector = open_connector(connection)
    try:
        assert pull(uow(), connection, connector).closed == []  # nothing changed there yet
        cw.close_ticket(follow_up["id"])
        cw.set_ticket(review_ticket["id"], status="Scheduled")
        done = pull(uow(), connection, connector)
        assert done.closed == [ticket_id]
        assert done.noted == [review_id]
        again = pull(uow(), connection, connector)  # the overlap reads them again: no-ops
        assert (again.closed, again.noted) == ([], [])
    finally:
        connector.close()
    with uow() as work:
        closed = work.session.get(FollowUpTicket, ticket_id)
        assert closed is not None
        assert closed.status == "closed"
        assert "Closed in ConnectWise (pub)" in (closed.detail or "")
        note = work.session.scalar(select(AuditEntry).where(AuditEntry.trigger == "psa_status"))
        assert note is not None
        assert "'Scheduled'" in note.comment
        assert work.session.get(Review, review_id).status == "needed"  # type: ignore[union-attr]
        told = work.session.scalars(
            select(OutboxMessage.recipient).where(OutboxMessage.kind == "notice.psa")
        )
        assert "role:ops_manager" in set(told)
    before = len(cw.requests)
    assert set(mirror(uow, settings)) <= {"sent"}  # xbr's "closed" goes nowhere: it is closed
    assert [r for r in cw.requests[before:] if r[0] == "PATCH"] == []


def test_the_rate_limit_is_waited_out_as_retry_after_says(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    home = tmp_path / "home"
    with ConnectWiseServer(rate_per_second=4) as cw:
        cw.add_board("BTR", BOARD)
        company = cw.add_company(COMPANY)
        connect(cw, home, rate=1000)  # xbr told to go fast: the PSA's 429s slow it down
        map_client(uow(), CLIENT, str(company), COMPANY)
        review_id = start_review(uow(), CLIENT, catalog)
        walk(uow, review_id, "scheduling")
        assert set(mirror(uow, Settings(home=home))) == {"sent"}
        assert cw.refused > 0
        (ticket,) = cw.tickets()
        assert ticket["status"]["name"] == "Scheduling"
    with ConnectWiseServer(rate_per_second=4) as paced:  # at its own pace: never refused
        paced.add_board("BTR", BOARD)
        company = paced.add_company(COMPANY)
        connect(paced, home, rate=4)
        map_client(uow(), "Client qbr", str(company), COMPANY)
        start_review(uow(), "Client qbr", catalog)
        assert set(mirror(uow, Settings(home=home))) == {"sent"}
        assert paced.refused == 0


def test_the_review_page_names_the_reviews_ticket_in_the_psa(
    uow: UowFactory, catalog: dict[str, Template], cw: ConnectWiseServer, settings: Settings,
    database_url: str,
) -> None:  # fmt: skip
    review_id = start_review(uow(), CLIENT, catalog)
    other_id = start_review(uow(), "Client qbr", catalog)  # a client not mirrored
    with serving(settings.home, database_url, uow) as (served, _):
        key = links.load_key(served.home, None)
        with signed_in(uow, key, served.page_url, VERA) as vera:
            before = vera.get(f"/reviews/{review_id}").text
            assert mirror(uow, settings) == ["sent"]
            (ticket,) = cw.tickets()
            after = vera.get(f"/reviews/{review_id}").text
            other = vera.get(f"/reviews/{other_id}").text
    assert "PSA" not in before  # not made yet
    assert f"On the PSA's board: ConnectWise ticket {ticket['id']}" in after
    assert "PSA" not in other
