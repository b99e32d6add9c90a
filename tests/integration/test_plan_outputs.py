"""What a review shows of the client's plan, on real databases: the next review's agenda opens
with how the last review's approved initiatives fared (status, cost against budget, their
category's score since), the report draws the roadmap and the budget as inline SVG (in Chromium
too), and a hostile initiative title stays text in Markdown and HTML."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from reports.documents import agenda_markdown, report_html
from states.calendar.opening import start_review
from states.lifecycle.decisions import DecisionKind, DecisionRequest, decide
from states.plans.fiscal import FiscalQuarter
from states.plans.initiatives import Cost, Draft, Move, add_initiative, move_initiative
from states.read.scorecards import report_data
from states.standards.answering import answer_items
from states.standards.answers import ItemState, review_questionnaire
from states.standards.schema import Answer
from states.store.models import utcnow
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.e2e.test_prefect_ui import CHROMIUM_ARGS, chromium  # noqa: F401
from tests.team import walk

CLIENT = "Client qbr"
VERA, ANDY, SAM = "vera@msp.example", "andy@msp.example", "sam@msp.example"
HOSTILE = "<script>alert(1)</script> **EDR** | [x](javascript:alert(1))"
SCREENSHOT = Path("/tmp/report-plan.png")


def _assessed(
    uow: UowFactory, catalog: dict[str, Template], n: int, answering: Callable[[ItemState], str]
) -> int:
    """The client's `n`th review, half a year after the one before, assessed with
    `answering`, in prep."""
    meeting = datetime.now(UTC) + timedelta(weeks=6 + 26 * n)
    review_id = start_review(uow(), CLIENT, catalog, None, f"{meeting:%Y-%m-%dT10:00}")
    walk(uow, review_id, "staging")
    items = review_questionnaire(uow(), review_id).items
    answer_items(uow(), review_id, {s.key: (Answer(answering(s)), "") for s in items}, SAM)
    walk(uow, review_id, "prep")
    return review_id


def _category(uow: UowFactory, review_id: int) -> str:
    """A category the review's questionnaire asks about."""
    return next(s.item.category for s in review_questionnaire(uow(), review_id).items)


def _quarter(months: int = 0) -> FiscalQuarter:
    today = utcnow().date()
    return FiscalQuarter.of(today, 1).next(months)


@pytest.fixture
def two_reviews(uow: UowFactory, catalog: dict[str, Template]) -> tuple[int, int, str]:
    """A first review with one category not met whose plan approved an initiative for it, done
    at a cost; and the next review with that category met."""
    probe = start_review(uow(), CLIENT, catalog)
    category = _category(uow, probe)
    decide(uow(), DecisionRequest(probe, DecisionKind.CANCEL, "olga@msp.example", "probe"))
    first = _assessed(
        uow, catalog, 0, lambda s: "not_met" if s.item.category == category else "met"
    )
    costs = (
        Cost("one_time", Decimal("4800.00"), _quarter()),
        Cost("recurring", Decimal("150.00"), _quarter()),
    )
    draft = Draft("EDR rollout", "3 devices unprotected", category, "high", quarter=_quarter(),
                  costs=costs)  # fmt: skip
    initiative = add_initiative(uow(), CLIENT, draft, VERA, review_id=first)
    move_initiative(uow(), initiative, Move.APPROVE, ANDY)
    move_initiative(uow(), initiative, Move.FINISH, ANDY, actual=Decimal("5200.00"))
    firewall = Cost("one_time", Decimal("9000.00"), _quarter(2), hardware=True)
    later = Draft("Firewall refresh", category=category, quarter=_quarter(2), costs=(firewall,))
    add_initiative(uow(), CLIENT, later, VERA, review_id=first)
    decide(uow(), DecisionRequest(first, DecisionKind.CANCEL, VERA, "next"))
    second = _assessed(uow, catalog, 1, lambda s: "met")
    return first, second, category


def test_the_next_agenda_opens_with_the_last_plans_progress(
    uow: UowFactory, two_reviews: tuple[int, int, str]
) -> None:
    first, second, category = two_reviews
    data = report_data(uow(), second, currency="EUR")

    [done] = data["last_plan"]
    assert (done["title"], done["status"], done["review_id"]) == ("EDR rollout", "done", first)
    assert (done["one_time"], done["monthly"], done["actual"]) == ("4800.00", "150.00", "5200.00")
    assert done["score_now"] > done["score_then"]
    label = done["category_label"]
    assert done["progress"] == (
        f"{label} {done['score_then']} → {done['score_now']} since EDR rollout was done"
    )
    titles = [i["title"] for i in data["roadmap"]]  # the open ones (and staging's proposals)
    assert "Firewall refresh" in titles
    assert "EDR rollout" not in titles
    assert data["budget"]["currency"] == "EUR"
    assert len(data["budget"]["quarters"]) == 12

    agenda = agenda_markdown(data)
    section = agenda[agenda.index("## 1. Since the last review") : agenda.index("## 2.")]
    assert section.index("**Last review's plan:**") < section.index("| Category |")
    assert "- **EDR rollout** — done, " in section
    assert "spent EUR 5,200.00 of EUR 4,800.00 + EUR 150.00 a month budgeted" in section
    assert f"{label} {done['score_then']} → {done['score_now']} since EDR rollout was done" in (
        section
    )
    assert len(re.findall(r"^## ", agenda, re.MULTILINE)) == 6
    # the first review had no plan before it
    assert report_data(uow(), first)["last_plan"] == []
    assert "Last review's plan" not in agenda_markdown(report_data(uow(), first))


def test_the_report_draws_the_roadmap_and_the_budget(
    uow: UowFactory,
    two_reviews: tuple[int, int, str],
    chromium: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    data = report_data(uow(), two_reviews[1])
    html = report_html(data)

    roadmap = html[html.index('<svg class="chart roadmap-chart"') :]
    roadmap = roadmap[: roadmap.index("</svg>")]
    assert roadmap.count('<g class="roadmap-row">') == len(data["roadmap"]) > 1
    assert "<title>Firewall refresh: Proposed, FY" in roadmap
    budget = html[html.index('<svg class="chart budget-chart"') :]
    budget = budget[: budget.index("</svg>")]
    assert "budget-hardware budget-proposed" in budget
    assert "USD 9,000.00" in budget
    assert 'class="last-plan-row"' in html
    assert "USD 5,200.00" in html

    report = tmp_path / "report.html"
    report.write_text(html, encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.goto(report.as_uri(), wait_until="load")
            for chart in ("svg.roadmap-chart", "svg.budget-chart"):
                box = page.locator(chart).bounding_box()
                assert box, chart
                assert box["width"] > 600, (chart, box)
            page.locator("#plan").screenshot(path=str(SCREENSHOT))
        finally:
            browser.close()


def test_a_hostile_initiative_title_stays_text(
    uow: UowFactory, two_reviews: tuple[int, int, str]
) -> None:
    first, second, category = two_reviews
    hostile = add_initiative(
        uow(), CLIENT, Draft(HOSTILE, category=category, quarter=_quarter()), VERA, review_id=first
    )
    move_initiative(uow(), hostile, Move.APPROVE, ANDY)
    data = report_data(uow(), second)

    agenda = agenda_markdown(data)
    assert "<script>" not in agenda
    assert r"\<script\>alert(1)\</script\> \*\*EDR\*\* \| \[x\](javascript:alert(1))" in agenda
    html = report_html(data)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; **EDR**" in html
