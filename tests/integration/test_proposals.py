"""Staging's end proposes the plan, on real databases: findings and unmet items become initiatives
priced by the template's price book, a recurring finding attaches to the open initiative (one over
three reviews), and hardware is budgeted in the fiscal quarter it falls due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from states import directory
from states.calendar.opening import start_review
from states.errors import InvalidInput
from states.plans.fiscal import FiscalQuarter
from states.plans.initiatives import Draft, Move, add_initiative, move_initiative
from states.read.plans import budget, roadmap
from states.staging.intake import import_files
from states.staging.record import assess
from states.standards.answering import answer_item
from states.standards.schema import Answer
from states.store.models import AuditEntry
from states.templates.catalog import load_template_file
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.integration.test_assessment import KNOWN, MINI, SAM
from tests.integration.test_staging import quarter, write
from tests.team import walk

CLIENT = "Client xbr-sop"
NOW = datetime(2026, 11, 16, 15, tzinfo=UTC)


def staged_review(
    uow: UowFactory, catalog: dict[str, Template], folder: Path, now: datetime, **exports: int
) -> int:
    """A review walked into staging, its exports imported and assessed."""
    meeting = (now + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
    review_id = start_review(uow(), CLIENT, catalog, "xbr-sop", meeting, now=now, standards=KNOWN)
    walk(uow, review_id, "staging")
    day = now.date().isoformat()
    files = quarter(folder, exports.get("unpatched", 0), exports.get("failed", 0), ["alice"], day)
    import_files(uow(), review_id, [*files, *exports_extra(folder)], SAM)
    assess(uow(), review_id, now)
    return review_id


def exports_extra(folder: Path) -> list[Path]:
    found = folder / "warranty.csv"
    return [found] if found.exists() else []


def test_findings_become_priced_initiatives_and_recur_into_the_same_one(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    reviews = []
    for n in range(3):
        now = NOW + timedelta(days=100 * n)
        review_id = staged_review(uow, catalog, tmp_path / f"q{n}", now, unpatched=5, failed=1)
        walk(uow, review_id, "prep" if n == 2 else "closed")
        reviews.append(review_id)
    plan = {i.title: i for i in roadmap(uow(), CLIENT).initiatives}
    patch = plan["Patch remediation"]
    # 5 unpatched devices x 0.5 hours x 150 an hour
    assert (patch.one_time, patch.monthly, patch.priority) == (Decimal("375.00"), 0, "high")
    assert patch.findings == ["patch-compliance"]
    assert patch.review_id == reviews[0]
    backup = plan["Backup remediation and restore test"]
    assert backup.one_time == Decimal("600.00")  # 4 hours x 150
    titles = [i.title for i in roadmap(uow(), CLIENT).initiatives]
    assert titles.count("Patch remediation") == 1  # three reviews, one initiative
    with uow() as work:
        recurred = work.session.scalars(
            select(AuditEntry.comment).where(
                AuditEntry.initiative_id == patch.id, AuditEntry.trigger == "initiative_recurred"
            )
        ).all()
    assert [c.rsplit(" ", 1)[-1] for c in recurred] == [str(r) for r in reviews[1:]]


def test_an_item_answered_not_met_is_proposed_once(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    directory.set_standards(uow(), catalog, KNOWN, CLIENT, add=["mini"])
    first = staged_review(uow, catalog, tmp_path / "q1", NOW)
    answer_item(uow(), first, "G-1", Answer.NOT_MET, SAM, "no written policy")
    walk(uow, first, "closed")
    second = staged_review(uow, catalog, tmp_path / "q2", NOW + timedelta(days=100))
    answer_item(uow(), second, "G-1", Answer.NOT_MET, SAM, "still none")
    walk(uow, second, "prep")
    mine = [i for i in roadmap(uow(), CLIENT).initiatives if i.items == ["mini:G-1"]]
    assert len(mine) == 1
    initiative = mine[0]
    assert initiative.title == f"G-1: {MINI.item('G-1').question}"  # type: ignore[union-attr]
    assert initiative.priority == "high"  # the item's severity is red
    assert initiative.one_time == Decimal("600.00")  # item:* = 4 hours x 150
    assert "no written policy" in initiative.why


def test_hardware_is_budgeted_in_the_fiscal_quarter_it_falls_due(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    directory.set_fiscal_year_start(uow(), CLIENT, 7)
    today = date.today()
    current = FiscalQuarter.of(today, 7)
    soon = current.next(2).start(7) + timedelta(days=20)  # warranty ends two quarters on
    aged = date(today.year - 5, today.month, 1)  # five years old: due now
    write(tmp_path / "q1", "warranty.csv", "asset,model,purchase_date,warranty_end,type", [
        f"LAPTOP-1,XPS,{today.year - 2}-01-10,{soon.isoformat()},Laptop",
        f"SRV-1,R740,{aged.isoformat()},,server",
        f"PC-9,Opti,{today.year - 1}-03-01,{today.year + 4}-03-01,kiosk",
        f"OLD-1,Opti,{today.year - 9}-03-01,{today.year - 4}-03-01,",
    ])  # fmt: skip
    review_id = staged_review(uow, catalog, tmp_path / "q1", NOW)
    walk(uow, review_id, "prep")
    hardware = next(
        i
        for i in roadmap(uow(), CLIENT).initiatives
        if i.title == "Hardware lifecycle replacements"
    )
    assert hardware.assets == ["LAPTOP-1", "SRV-1", "OLD-1"]  # PC-9 falls due after 3 years
    plan = budget(uow(), CLIENT, "USD", years=3, today=today).to_json()
    by_quarter = {q["quarter"]: q["hardware"]["proposed"] for q in plan["quarters"]}
    assert by_quarter[current.label] == "10200.00"  # the server (9000) and the old PC (1200)
    assert by_quarter[current.next(2).label] == "1400.00"  # the laptop's warranty ends then
    assert sum(Decimal(v) for v in by_quarter.values()) == Decimal("11600.00")
    assert all(q["one_time"]["proposed"] == "0.00" for q in plan["quarters"])  # hardware apart


def test_a_price_book_error_names_the_file_and_the_field(tmp_path: Path) -> None:
    shipped = Path(__file__).parents[2] / "states" / "templates" / "catalog" / "qbr.yaml"
    data = yaml.safe_load(shipped.read_text())
    data["plan"] = {"rules": [{"when": "finding:patch-compliance", "owner_role": "client_contact"}]}
    bad = tmp_path / "qbr.yaml"
    bad.write_text(yaml.safe_dump(data))
    with pytest.raises(InvalidInput, match=r"qbr\.yaml.*plan\.rules\[0\]\.owner_role"):
        load_template_file(bad)
    for plan, said in [
        ({"rules": [{"when": "finding:"}]}, r"plan\.rules\[0\]\.when: 'finding:' is not a rule"),
        ({"hardware": {"laptop": 1400}}, r"plan\.hardware: names no `default` cost"),
        ({"labor_rate": -1}, r"plan\.labor_rate: Input should be greater"),
    ]:
        bad.write_text(yaml.safe_dump({**data, "plan": plan}))
        with pytest.raises(InvalidInput, match=rf"qbr\.yaml: {said}"):
            load_template_file(bad)


def test_a_deferred_initiative_comes_back_as_a_proposal_in_its_quarter(
    uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    now_q = FiscalQuarter.of(date.today(), 1)
    later = add_initiative(uow(), CLIENT, Draft("Firewall upgrade"), "vera@msp.example")
    move_initiative(uow(), later, Move.DEFER, "andy@msp.example", "next year", now_q.next(4))
    due = add_initiative(uow(), CLIENT, Draft("Wi-Fi refresh"), "vera@msp.example")
    move_initiative(uow(), due, Move.DEFER, "andy@msp.example", "after the move", now_q)
    review_id = staged_review(uow, catalog, tmp_path / "q1", NOW)
    walk(uow, review_id, "prep")
    status = {i.title: i.status for i in roadmap(uow(), CLIENT).initiatives}
    assert (status["Wi-Fi refresh"], status["Firewall upgrade"]) == ("proposed", "deferred")
