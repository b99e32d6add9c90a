"""What an assessment shows, over three reviews of one client assessed against NIST CSF 2.0 and
HIPAA: `xbr scorecard` with risk, items and frameworks (and its JSON contract), `--history` of
every assessed review, one line and exit 2 for a review and a client mixed up, the report's trend
chart and framework page (in Chromium too), and the agenda leading with what got worse and what
went green since the previous review."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reports.documents import agenda_markdown, report_html
from reports.run_pages import questionnaire_line
from states.calendar.opening import start_review
from states.lifecycle.decisions import DecisionKind, DecisionRequest, decide
from states.read.scorecards import report_data
from states.staging.intake import import_files
from states.staging.record import assess
from states.standards.answering import answer_items
from states.standards.answers import AnswerSource, ItemState, review_questionnaire
from states.standards.schema import Answer
from states.store import db
from states.templates.schema import Template
from tests.e2e.test_prefect_ui import ARTIFACTS, CHROMIUM_ARGS, chromium  # noqa: F401
from tests.integration.conftest import Xbr
from tests.team import walk

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "demo_evidence"
CLIENT = "Client bsrr"  # its template assesses nist-csf-2; the client adds hipaa-security
SAM = "sam@msp.example"  # a support engineer: staging's responsible role
Answering = Callable[[ItemState], str]


def baseline_answers(state: ItemState) -> str:
    return "not_met" if state.item.required else "partial"


def second_answers(state: ItemState) -> str:
    return "partial" if state.item.category == "identity_access" else "met"


def third_answers(state: ItemState) -> str:
    # identity goes green; governance gets worse
    return "not_met" if state.item.category == "governance" else "met"


@pytest.fixture
def three_reviews(xbr: Xbr, database_url: str, catalog: dict[str, Template]) -> Iterator[list[int]]:
    """Three assessed reviews of the client, half a year apart, each cancelled before the
    next one opens: the baseline, one better, one with governance worse and identity green."""
    xbr("client", "standards", CLIENT, "--add", "hipaa-security")
    engine = db.make_engine(database_url)

    def uow() -> db.UnitOfWork:
        return db.UnitOfWork(engine)

    ids = []
    plan: list[tuple[str, Answering]] = [
        ("q1", baseline_answers), ("q2", second_answers), ("q2", third_answers)
    ]  # fmt: skip
    for n, (exports, answering) in enumerate(plan):
        meeting = datetime.now(UTC) + timedelta(weeks=6 + 26 * n)
        review_id = start_review(uow(), CLIENT, catalog, None, f"{meeting:%Y-%m-%dT10:00}")
        walk(uow, review_id, "staging")
        import_files(uow(), review_id, sorted((DEMO / exports).iterdir()), SAM)
        assess(uow(), review_id)
        items = review_questionnaire(uow(), review_id).items
        wanted = {
            s.key: (Answer(answering(s)), "")
            for s in items
            if s.source is not AnswerSource.EVIDENCE
        }
        answer_items(uow(), review_id, wanted, SAM)
        decide(uow(), DecisionRequest(review_id, DecisionKind.CANCEL, "olga@msp.example", "next"))
        ids.append(review_id)
    yield ids
    engine.dispose()


def by_category(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {row["category"]: row for row in rows}


def test_scorecard_json_keeps_its_fields_and_adds_risk_items_and_frameworks(
    xbr: Xbr, three_reviews: list[int]
) -> None:
    first, second, third = three_reviews
    card = xbr.json("scorecard", str(third))

    assert list(card) == [
        "review",
        "baseline",
        "previous",
        "scorecard",
        "frameworks",
        "questionnaire",
    ]
    assert card["baseline"]["review_id"] == first
    assert card["previous"]["review_id"] == second
    rows = by_category(card["scorecard"])
    assert list(rows)[-2:] == ["governance", "compliance"]
    for row in rows.values():
        assert {"score", "color", "baseline", "change", "risk", "items_met", "items_total",
                "change_previous", "why"} <= set(row)  # fmt: skip
        assert row["risk"] in ("satisfactory", "at_risk", "critical", None)
        assert 0 <= row["items_met"] <= row["items_total"]
    governance = rows["governance"]
    assert governance["items_met"] == 0 < governance["items_total"]
    assert governance["risk"] == "critical"
    assert governance["change_previous"] < 0
    assert governance["why"]["previous"]  # each moved answer, one line
    nist, hipaa = card["frameworks"]["nist-csf-2"], card["frameworks"]["hipaa"]
    assert list(nist) == ["GV", "ID", "PR", "DE", "RS", "RC"]
    assert list(hipaa)[:3] == ["administrative", "physical", "technical"]
    for groups in (nist, hipaa):
        for counts in groups.values():
            assert set(counts) == {"met", "total", "score", "baseline", "previous"}
            assert counts["score"] == round(100 * counts["met"] / counts["total"])
    assert nist["GV"]["score"] < nist["GV"]["previous"]  # governance items not met now
    progress = card["questionnaire"]
    assert progress["answered"] == progress["items"] > 106  # the CSF's 106 and HIPAA's
    assert progress["open_required"] == 0

    _, out, _ = xbr("scorecard", str(third))
    assert "risk" in out
    assert "items" in out
    assert "NIST CSF 2.0" in out
    assert "HIPAA Security Rule" in out
    assert "GV Govern" in out
    assert "Administrative safeguards" in out
    assert f"Governance {governance['previous']} -> {governance['score']} since" in out
    assert f"  - {governance['why']['previous'][0]}" in out
    assert questionnaire_line(progress) in out.replace("\n", " ")


def test_history_lists_every_assessed_review_oldest_first(
    xbr: Xbr, three_reviews: list[int]
) -> None:
    history = xbr.json("scorecard", CLIENT, "--history")

    assert history["client"] == CLIENT
    assert [r["review_id"] for r in history["reviews"]] == three_reviews
    for entry, review_id in zip(history["reviews"], three_reviews, strict=True):
        assert list(entry) == ["review_id", "name", "period", "scores", "risk", "frameworks"]
        card = xbr.json("scorecard", str(review_id))
        assert entry["scores"] == {r["category"]: r["score"] for r in card["scorecard"]}
        assert entry["risk"] == {r["category"]: r["risk"] for r in card["scorecard"]}
        assert set(entry["frameworks"]) == {"nist-csf-2", "hipaa"}
    periods = [r["period"] for r in history["reviews"]]
    assert len(set(periods)) == 3  # half a year apart

    # a fourth review, not yet assessed: no row of its own, people's answers carried to confirm
    fourth = xbr.json("review", "start", CLIENT, "--no-flow")["id"]
    assert [r["review_id"] for r in xbr.json("scorecard", CLIENT, "--history")["reviews"]] == (
        three_reviews
    )
    progress = xbr.json("scorecard", str(fourth))["questionnaire"]
    assert (progress["answered"], progress["by_people"]) == (0, 0)
    third = xbr.json("scorecard", str(three_reviews[-1]))["questionnaire"]
    assert progress["carried"] == third["by_people"]  # the evidence answers each review anew
    assert progress["open_required"] > 0
    assert questionnaire_line(progress) == (
        f"Questionnaire: 0 of {progress['items']} items answered (0 by people, 0 by the "
        f"evidence); {progress['carried']} carried from the last review to confirm; "
        f"{progress['open_required']} required still open."
    )

    _, out, _ = xbr("scorecard", CLIENT.lower(), "--history")  # names match in any case
    assert [int(n) for n in re.findall(r"^│ #(\d+)", out, re.MULTILINE)] == three_reviews
    assert "!! critical" in out


MIXED_UP = [
    (["scorecard", CLIENT], f"{CLIENT!r} is not a review number"),
    (["scorecard", "{id}", "--history"], "--history takes a client's name, not a review"),
    (["scorecard", "Nobody", "--history"], "unknown client 'Nobody'"),
    (["scorecard", "99999999999"], "unknown review 99999999999"),
    (["scorecard", "0"], "unknown review 0"),
]


def test_a_review_and_a_client_mixed_up_is_one_line_and_exit_2(xbr: Xbr) -> None:
    review_id = xbr.json("review", "start", CLIENT, "--no-flow")["id"]
    for argv, message in MIXED_UP:
        code, out, err = xbr(*(a.format(id=review_id) for a in argv), ok=False)

        assert code == 2, (argv, err)
        assert message in err
        assert err.strip().count("\n") == 0, err
        assert out == ""


def test_a_client_without_an_assessed_review_has_an_empty_history(xbr: Xbr) -> None:
    assert xbr.json("scorecard", CLIENT, "--history") == {"client": CLIENT, "reviews": []}
    _, out, _ = xbr("scorecard", CLIENT, "--history")
    assert "has no assessed review yet" in out


def test_the_report_draws_a_line_per_category_and_a_framework_page(
    xbr: Xbr, three_reviews: list[int], tmp_path: Path
) -> None:
    third = three_reviews[-1]
    out = tmp_path / "report.html"
    xbr("report", str(third), "--out", str(out))
    html = out.read_text(encoding="utf-8")

    trend = html[html.index('<svg class="chart trend-chart"') :]
    trend = trend[: trend.index("</svg>")]
    assert trend.count('<g class="trend-line">') == 10
    assert trend.count("<polyline") == 10  # every category was scored in all three reviews
    assert trend.count('<circle class="dot"') == 30
    for point in re.findall(r'points="([^"]+)"', trend):
        xs = [float(pair.split(",")[0]) for pair in point.split()]
        assert xs == sorted(xs)  # oldest first, left to right
    assert "Governance" in trend
    assert "Patching" in trend
    pages = html[html.index('<section id="frameworks">') :]
    pages = pages[: pages.index("</section>")]
    assert "NIST CSF 2.0" in pages
    assert "HIPAA Security Rule" in pages
    for group in ("GV Govern", "ID Identify", "PR Protect", "DE Detect", "RS Respond",
                  "RC Recover", "Administrative safeguards", "Technical safeguards"):  # fmt: skip
        assert f"<strong>{group}</strong>" in pages
    assert pages.count('class="fw-baseline"') == pages.count('class="framework-row"')
    assert "#frameworks { break-before: page; }" in html  # its own page in print


def test_the_agenda_leads_with_what_got_worse_and_what_went_green(
    xbr: Xbr, three_reviews: list[int], database_url: str
) -> None:
    engine = db.make_engine(database_url)
    try:
        data = report_data(db.UnitOfWork(engine), three_reviews[-1])
    finally:
        engine.dispose()
    rows = by_category(data["scorecard"])
    identity, governance = rows["identity_access"], rows["governance"]
    assert governance["change_previous"] < 0
    assert (identity["previous"] < 85, identity["color"]) == (True, "green")

    agenda = agenda_markdown(data)
    section = agenda[agenda.index("## 1. Since the last review\n") :]
    lead = section.split("\n\n")[1:5]
    period = data["previous"]["period"].upper()
    assert lead[0] == f"**Worse since the {period} review:**"
    assert (
        f"- **Governance** {governance['previous']} → {governance['score']} "
        f"({governance['change_previous']:+d})\n  - " in lead[1]
    )
    assert lead[2] == f"**Went green since the {period} review:**"
    assert (
        f"- **Identity and access** {identity['previous']} → {identity['score']} "
        f"({identity['change_previous']:+d})" in lead[3]
    )
    assert section.index("Went green") < section.index("| Category |")
    worse = [r["label"] for r in rows.values() if (r["change_previous"] or 0) < 0]
    assert re.findall(r"^- \*\*(.+?)\*\*", lead[1], re.MULTILINE) == worse
    # the why lines are Markdown-escaped data: the arrow of `met -> not_met` is text
    assert r"met -\> not\_met" not in lead[1]
    assert r"met -\> not_met" in lead[1]


@pytest.fixture
def sqlite_only(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("the page is the same on PostgreSQL")


def test_the_report_with_its_trend_and_frameworks_renders_in_chromium(
    chromium: Path,  # noqa: F811
    sqlite_only: None,
    xbr: Xbr,
    three_reviews: list[int],
    database_url: str,
) -> None:
    from playwright.sync_api import sync_playwright

    engine = db.make_engine(database_url)
    try:
        html = report_html(report_data(db.UnitOfWork(engine), three_reviews[-1]))
    finally:
        engine.dispose()
    report = ARTIFACTS / "assessment-report.html"
    ARTIFACTS.mkdir(exist_ok=True)
    report.write_text(html, encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            page.goto(report.as_uri(), wait_until="load")
            box = page.locator("svg.trend-chart").bounding_box()
            assert box, "the trend chart is on the page"
            assert (box["width"] > 800, box["height"] > 200) == (True, True), box
            assert page.locator("svg.trend-chart polyline").count() == 10
            assert page.locator("tr.framework-row").count() >= 6 + 3
            assert page.locator("#frameworks").is_visible()
            page.screenshot(path=str(ARTIFACTS / "assessment-report.png"), full_page=True)

            phone = browser.new_page(viewport={"width": 390, "height": 900})
            phone.goto(report.as_uri(), wait_until="load")
            # the trend scrolls inside its card: the page itself is no wider than the phone
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        finally:
            browser.close()
    assert requests == [report.as_uri()]


def test_why_lines_and_review_names_are_data_in_the_agenda_and_the_report() -> None:
    from tests.unit.test_outputs import acme_dental

    data = acme_dental()
    hostile = "new red finding: <script>alert(1)</script> | [link](http://x.example) **bold**"
    for row in data["scorecard"]:
        row["why"] = {"previous": [hostile, "second", "third", "fourth"], "baseline": []}
    data["scorecard"][0] |= {"previous": 100, "score": 40, "color": "red", "change": 10}
    data["history"] = [
        {"review_id": 3, "name": '<img src=x onerror="1">', "period": "2026-q3",
         "scores": {"patching": 30}, "risk": {"patching": "critical"}, "frameworks": {}},
    ]  # fmt: skip
    data["frameworks"] = {"<b>own</b>": {"<i>G</i>": {"met": 1, "total": 2, "score": 50}}}

    agenda = agenda_markdown(data)
    assert r"\<script\>alert(1)\</script\> \| \[link\](http://x.example) \*\*bold\*\*" in agenda
    assert "- **Patching** 100 → 40 (-60)\n" in agenda
    assert "  - and 1 more\n" in agenda  # three reasons shown, the rest counted
    html = report_html(data)
    for raw in ("<script", "<img", "<b>own", "<i>G"):
        assert raw not in html
    assert "&lt;img src=x onerror=&#34;1&#34;&gt;" in html
    assert "&lt;b&gt;own&lt;/b&gt;" in html
