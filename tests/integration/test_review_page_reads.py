"""The review page's one transaction, on real databases: it shows what the page's parts show
when each reads on its own (the review, the report's data, the phase's evidence, the assessment
and the plan, for each person), and a report's ticket volume follows the export imported last."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from deploy import assessment_page, plan_editing
from states import directory
from states.read.gate_evidence import gate_evidence
from states.read.review_page import read_review_page
from states.read.scorecards import report_data
from states.read.views import review_view
from states.staging.intake import import_files
from states.standards.answering import answer_items, confirm_carried
from states.standards.schema import Answer
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.integration.test_assessment import (
    CLIENT,
    KNOWN,
    NOW,
    OLGA,
    SAM,
    TINA,
    open_review,
    stage,
)
from tests.integration.test_staging import write
from tests.team import walk

VERA = "vera@msp.example"
PEOPLE = (SAM, TINA, OLGA, VERA, "andy@msp.example", "carl@client.example")
CURRENCY = "EUR"


def tickets(folder: Path, months: list[str]) -> Path:
    """A PSA export: one ticket opened on the 3rd of each month, closed on the 20th."""
    rows = [f"T{n},{month}-03,{month}-20,high" for n, month in enumerate(months)]
    return write(folder, "tickets.csv", "id,opened,closed,priority", rows)


def apart(uow: UowFactory, review_id: int, email: str, data: dict[str, Any]) -> dict[str, Any]:
    """What the page's parts show of the review to `email`, each read on its own."""
    return {
        "view": review_view(uow(), review_id),
        "data": _undated(report_data(uow(), review_id, currency=CURRENCY)),
        "evidence": gate_evidence(uow(), review_id, email, CURRENCY, data),
        "assessment": assessment_page.assessment(uow(), review_id, email),
        "plan": plan_editing.section(uow(), review_id, email),
    }


def together(uow: UowFactory, review_id: int, email: str) -> tuple[dict[str, Any], Any]:
    """What the page shows of the review to `email`, read in its one transaction."""
    read = read_review_page(uow(), review_id, email, CURRENCY)
    shown = {
        "view": read.view,
        "data": _undated(read.data),
        "evidence": read.evidence,
        "assessment": assessment_page.assessment_of(read.questionnaire, read.access),
        "plan": plan_editing.section_of(read.plan),
    }
    return shown, read.data


def _undated(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k != "generated_at"}


@pytest.fixture
def mini(uow: UowFactory, catalog: dict[str, Template]) -> UowFactory:
    directory.set_standards(uow(), catalog, KNOWN, CLIENT, add=["mini"])
    return uow


def test_the_page_shows_what_its_parts_show_read_apart(
    mini: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    uow = mini
    first = open_review(uow, catalog, NOW)
    stage(uow, first, tmp_path / "q1", unpatched=5, now=NOW)
    import_files(uow(), first, [tickets(tmp_path / "t1", ["2026-09", "2026-10"])], SAM)
    given = {"G-1": (Answer.MET, "signed"), "G-2": (Answer.PARTIAL, ""),
             "G-3": (Answer.NOT_MET, "none"), "P-1": (Answer.PARTIAL, "")}  # fmt: skip
    answer_items(uow(), first, given, SAM)
    walk(uow, first, "closed")
    later = NOW + timedelta(days=100)
    second = open_review(uow, catalog, later)
    stage(uow, second, tmp_path / "q2", unpatched=0, now=later)
    import_files(uow(), second, [tickets(tmp_path / "t2", ["2026-12", "2027-01"])], SAM)
    confirm_carried(uow(), second, TINA)
    answer_items(uow(), second, {"G-3": (Answer.MET, "asset list kept in the RMM")}, TINA)
    seen = {}
    for phase in ("staging", "prep", "delivery", "follow_up"):
        walk(uow, second, phase)
        for email in PEOPLE:
            shown, data = together(uow, second, email)
            assert shown == apart(uow, second, email, data), (phase, email)
            seen[phase, email] = shown
    assert seen["staging", TINA]["assessment"].editable
    assert seen["staging", OLGA]["evidence"].unmet is not None
    assert seen["prep", VERA]["plan"] is not None
    assert seen["prep", VERA]["evidence"].report is not None
    assert seen["follow_up", SAM]["evidence"].tickets is not None
    data = seen["follow_up", SAM]["data"]
    assert [m["month"] for m in data["ticket_volume"]] == ["2026-12", "2027-01"]
    assert [r["review_id"] for r in data["history"]] == [first, second]


def test_a_reports_ticket_volume_follows_the_export_imported_last(
    mini: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> None:
    uow = mini
    review_id = open_review(uow, catalog, NOW)
    autumn, winter = ["2026-09", "2026-10", "2026-10"], ["2026-12", "2027-01"]

    def months() -> list[tuple[str, int]]:
        return [(m["month"], m["opened"]) for m in report_data(uow(), review_id)["ticket_volume"]]

    assert months() == []
    for folder, exported in (("a", autumn), ("b", winter), ("c", autumn)):
        import_files(uow(), review_id, [tickets(tmp_path / folder, exported)], SAM)
        assert months() == [(m, exported.count(m)) for m in sorted(set(exported))]
        assert months() == [(m, exported.count(m)) for m in sorted(set(exported))]
