"""A client's plan on real databases: initiatives added, edited, merged, dropped and decided
(each step audited, by a planner only), the roadmap and the budget by fiscal quarter with exact
decimal sums, and the command line's JSON contract and refusals."""

from __future__ import annotations

import csv
import threading
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from states import directory
from states.errors import AlreadyDecided, IllegalTrigger, InvalidInput, Refused, XbrError
from states.plans.fiscal import FiscalQuarter
from states.plans.initiatives import (
    Cost,
    Draft,
    Move,
    add_initiative,
    edit_initiative,
    merge_initiatives,
    move_initiative,
)
from states.read.plans import budget, roadmap
from states.store.models import AuditEntry
from tests.conftest import UowFactory
from tests.integration.conftest import Xbr

CLIENT = "Client qbr"
VERA, ANDY, SAM = "vera@msp.example", "andy@msp.example", "sam@msp.example"
TODAY = date(2026, 12, 6)
JULY = 7
NOW_Q = FiscalQuarter.of(TODAY, JULY)  # FY2027-Q2 (October to December 2026)


def quarter(n: int) -> FiscalQuarter:
    return NOW_Q.next(n) if n else NOW_Q


@pytest.fixture
def july(uow: UowFactory) -> UowFactory:
    directory.set_fiscal_year_start(uow(), CLIENT, JULY)
    return uow


def test_a_fiscal_year_from_july_places_the_quarters(july: UowFactory) -> None:
    assert NOW_Q.label == "FY2027-Q2"
    edr = add_initiative(
        july(), CLIENT,
        Draft("EDR rollout", "Three devices have no endpoint protection.", "endpoint_protection",
              "high", "vcio", quarter(1),
              (Cost("one_time", Decimal("1000.10"), quarter(1)),
               Cost("recurring", Decimal("100.05"), quarter(1), quarter(2)))),
        VERA,
    )  # fmt: skip
    shown = roadmap(july(), CLIENT).to_json()
    assert shown["fiscal_year_start"] == JULY
    item = shown["initiatives"][0]
    assert list(item) == [
        "id", "title", "category", "priority", "status", "quarter", "one_time", "monthly",
        "findings", "items", "assets", "review_id", "why", "owner_role", "actual",
    ]  # fmt: skip
    assert (item["id"], item["quarter"], item["one_time"], item["monthly"]) == (
        edr, "FY2027-Q3", "1000.10", "100.05",
    )  # fmt: skip
    with july() as work:
        row = work.session.get(type_of_initiative(), edr)
        assert row is not None
        assert row.quarter_start == date(2027, 1, 1)  # FY2027-Q3 of a July year


def type_of_initiative() -> type:
    from states.store.models import Initiative

    return Initiative


def test_the_budget_sums_each_quarter_exactly(july: UowFactory) -> None:
    cents = Decimal("0.01")
    approved = add_initiative(
        july(), CLIENT,
        Draft("Backup remediation", category="backup_recovery", quarter=quarter(1),
              costs=(Cost("one_time", Decimal("1000.10"), quarter(1)),
                     Cost("one_time", Decimal("0.20"), quarter(1)),
                     Cost("recurring", Decimal("100.05"), quarter(1), quarter(2)))),
        VERA,
    )  # fmt: skip
    add_initiative(
        july(), CLIENT,
        Draft("Laptop refresh", category="asset_lifecycle", quarter=quarter(2),
              costs=(Cost("one_time", Decimal("1250.00"), quarter(2), hardware=True),
                     Cost("recurring", cents, quarter(2)))),
        VERA,
    )  # fmt: skip
    declined = add_initiative(
        july(), CLIENT,
        Draft("Nice to have", costs=(Cost("one_time", Decimal("999"), quarter(1)),)),
        VERA,
    )  # fmt: skip
    move_initiative(july(), approved, Move.APPROVE, ANDY, "yes")
    move_initiative(july(), declined, Move.DECLINE, ANDY, "not this year")

    plan = budget(july(), CLIENT, "USD", years=1, today=TODAY).to_json()
    quarters = {q["quarter"]: q for q in plan["quarters"]}
    assert list(quarters) == ["FY2027-Q2", "FY2027-Q3", "FY2027-Q4", "FY2028-Q1"]
    q3, q4, next_q1 = quarters["FY2027-Q3"], quarters["FY2027-Q4"], quarters["FY2028-Q1"]
    assert q3["start"] == "2027-01-01"
    assert q3["one_time"] == {"approved": "1000.30", "proposed": "0.00"}  # declined: nothing
    assert q3["recurring"] == {"approved": "300.15", "proposed": "0.00"}  # 3 months x 100.05
    assert q4["recurring"] == {"approved": "300.15", "proposed": "0.03"}  # until Q4; 1 cent x 3
    assert q4["hardware"] == {"approved": "0.00", "proposed": "1250.00"}
    assert q4["one_time"] == {"approved": "0.00", "proposed": "0.00"}  # hardware apart
    assert next_q1["recurring"] == {"approved": "0.00", "proposed": "0.03"}  # runs on

    move_initiative(july(), approved, Move.FINISH, ANDY, actual=Decimal("1180.45"))
    done = budget(july(), CLIENT, "USD", years=1, today=TODAY).to_json()["quarters"]
    assert sum(Decimal(q["actual"]) for q in done) == Decimal("1180.45")


def test_every_step_is_a_planners_and_is_audited(july: UowFactory) -> None:
    first = add_initiative(
        july(), CLIENT, Draft("MFA everywhere", category="identity_access"), VERA
    )
    second = add_initiative(july(), CLIENT, Draft("Conditional access"), VERA)
    with pytest.raises(Refused, match="not Client qbr's vCIO or account manager"):
        add_initiative(july(), CLIENT, Draft("Sam's idea"), SAM)
    with pytest.raises(Refused):
        move_initiative(july(), first, Move.APPROVE, SAM)
    edit_initiative(july(), first, VERA, Draft("MFA for every account", quarter=quarter(2)),
                    ["title", "quarter"])  # fmt: skip
    merge_initiatives(july(), first, [second], VERA)
    with pytest.raises(IllegalTrigger, match="is cancelled"):
        move_initiative(july(), second, Move.APPROVE, ANDY)
    with pytest.raises(InvalidInput, match="needs the quarter"):
        move_initiative(july(), first, Move.DEFER, ANDY)
    move_initiative(july(), first, Move.DEFER, ANDY, "after the budget meeting", quarter(3))
    move_initiative(july(), first, Move.APPROVE, ANDY, "approved in the QBR")
    with july() as work:
        rows = list(work.session.scalars(
            select(AuditEntry).where(AuditEntry.initiative_id == first).order_by(AuditEntry.id)
        ))  # fmt: skip
    assert [(r.trigger, r.from_state, r.to_state, r.actor) for r in rows] == [
        ("initiative_added", None, "proposed", VERA),
        ("initiative_edited", "proposed", "proposed", VERA),
        ("initiative_merged", "proposed", "proposed", VERA),
        ("initiative_defer", "proposed", "deferred", ANDY),
        ("initiative_approve", "deferred", "approved", ANDY),
    ]
    assert "recorded by staff for the client" in rows[-1].comment
    assert all(r.review_id is None for r in rows)
    shown = {i.id: i for i in roadmap(july(), CLIENT).initiatives}
    assert (shown[first].title, shown[first].quarter, shown[first].status) == (
        "MFA for every account", quarter(3).label, "approved",
    )  # fmt: skip
    assert shown[second].status == "cancelled"


def test_two_decisions_on_one_initiative_one_wins(july: UowFactory) -> None:
    initiative = add_initiative(july(), CLIENT, Draft("Firewall"), VERA)
    outcomes: list[str] = []

    def decide(move: Move, who: str) -> None:
        try:
            move_initiative(july(), initiative, move, who)
            outcomes.append(move.value)
        except (AlreadyDecided, IllegalTrigger) as refused:
            outcomes.append(type(refused).__name__)

    threads = [
        threading.Thread(target=decide, args=(m, w))
        for m, w in ((Move.APPROVE, ANDY), (Move.DECLINE, VERA)) * 2
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = [o for o in outcomes if o in ("approve", "decline")]
    assert len(won) == 1
    assert len(outcomes) == 4
    assert roadmap(july(), CLIENT).initiatives[0].status == f"{won[0]}d"


def test_the_plan_on_the_command_line(xbr: Xbr, tmp_path: Path) -> None:
    assert xbr.json("client", "fiscal-year", CLIENT, "--start", "7")["fiscal_year_start"] == 7
    q = FiscalQuarter.of(date.today(), 7).next(1).label
    added = xbr.json(
        "initiative", "add", CLIENT, "--title", "EDR rollout", "--why", "3 devices unprotected",
        "--category", "endpoint_protection", "--priority", "high", "--quarter", q,
        "--one-time", f"4,800.50@{q}", "--monthly", f"12.5@{q}", "--finding", "endpoint-missing",
        "--as", VERA,
    )  # fmt: skip
    assert (added["status"], added["one_time"], added["monthly"]) == (
        "proposed",
        "4800.50",
        "12.50",
    )
    decided = xbr.json("initiative", "decide", str(added["id"]), "--approve", "--as", ANDY)
    assert decided["status"] == "approved"
    plan = xbr.json("budget", CLIENT, "--years", "1", "--csv", str(tmp_path / "budget.csv"))
    assert plan["currency"] == "USD"
    row = next(r for r in plan["quarters"] if r["quarter"] == q)
    assert (row["one_time"]["approved"], row["recurring"]["approved"]) == ("4800.50", "37.50")
    with (tmp_path / "budget.csv").open(encoding="utf-8") as file:
        lines = list(csv.DictReader(file))
    assert next(r for r in lines if r["quarter"] == q)["one_time_approved"] == "4800.50"
    assert xbr.json("roadmap", CLIENT)["initiatives"][0]["findings"] == ["endpoint-missing"]
    for argv, said in [
        (("add", CLIENT, "--title", "x", "--one-time", "12.345@FY2027-Q1", "--as", VERA), "12.345"),
        (("add", CLIENT, "--title", "x", "--one-time", "10@Q9", "--as", VERA), "fiscal quarter"),
        (("add", CLIENT, "--title", "x", "--one-time", "-5@FY2027-Q1", "--as", VERA), "-5"),
        (
            ("add", CLIENT, "--title", "x", "--monthly", f"5@{q}..FY2001-Q1", "--as", VERA),
            "ends before",
        ),
        (("add", CLIENT, "--title", "x", "--priority", "urgent", "--as", VERA), "high, medium"),
        (("add", CLIENT, "--title", "x", "--as", SAM), "vCIO or account manager"),
        (("decide", str(added["id"]), "--as", ANDY), "give one of"),
        (("decide", str(added["id"]), "--decline", "--as", ANDY), "is approved"),
        (("edit", str(added["id"]), "--as", VERA), "nothing to change"),
    ]:
        code, _, err = xbr("initiative", *argv, ok=False)
        assert (code, said in err, len(err.strip().splitlines())) == (2, True, 1), err
    code, _, err = xbr("client", "fiscal-year", CLIENT, "--start", "13", ok=False)
    assert (code, "1 to 12" in err) == (2, True)


def test_refusals_change_nothing(july: UowFactory) -> None:
    before = roadmap(july(), CLIENT).to_json()
    for bad in (
        Draft("x" * 201),
        Draft("ok", category="nope"),
        Draft("ok", owner_role="client_contact"),
        Draft("ok", findings=("a\x1b[31m",)),
    ):
        with pytest.raises(XbrError):
            add_initiative(july(), CLIENT, bad, VERA)
    assert roadmap(july(), CLIENT).to_json() == before
