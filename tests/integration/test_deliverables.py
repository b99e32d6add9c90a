"""What the client receives besides the HTML page, made from a real review (evidence, answers,
a baseline, a plan with a budget) on real databases: the PDF report read back with pypdf (its
first page rendered to PNG with pdfium, kept in test-artifacts/), and `xbr report --format`
writing each file or refusing in one line. Hostile values (markup, a formula, a 5,000-character
title, any text at all) stay text."""

from __future__ import annotations

import io
import re
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from notifications.messages import plain_text
from reports.deliverables.brand import Brand, read_logo
from reports.deliverables.deck import review_deck
from reports.deliverables.pdf import report_pdf
from reports.deliverables.pdf_fonts import drawable
from reports.deliverables.text import clean
from reports.deliverables.word import summary_docx
from reports.documents import summary_markdown
from states import directory
from states.calendar.opening import start_review
from states.errors import InvalidInput
from states.lifecycle.decisions import DecisionKind, DecisionRequest, decide
from states.plans.fiscal import FiscalQuarter
from states.plans.initiatives import Cost, Draft, Move, add_initiative, move_initiative
from states.read.scorecards import report_data
from states.staging.intake import import_files
from states.staging.record import assess
from states.standards.answering import answer_items
from states.standards.answers import AnswerSource, ItemState, review_questionnaire
from states.standards.schema import Answer
from states.store.models import utcnow
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.e2e.test_prefect_ui import ARTIFACTS
from tests.integration.conftest import Xbr
from tests.team import walk
from tests.unit.test_outputs import acme_dental

DEMO = Path(__file__).resolve().parents[2] / "deploy" / "demo_evidence"
CLIENT = "Client qbr"
VERA, ANDY, SAM, OLGA = (
    "vera@msp.example",
    "andy@msp.example",
    "sam@msp.example",
    "olga@msp.example",
)
CARL = "carl@client.example"  # the client's contact
BRAND = Brand("Northwind IT", "#1F4E79", "#2F6FB3")
HOSTILE_CLIENT = "<script>&\"' =2+5"
SECTIONS = (
    "Scorecard against the baseline", "What changed and why", "Findings", "Tickets in progress",
    "Roadmap by quarter", "Budget", "Decisions we ask of you", "Our next meeting",
)  # fmt: skip


def _quarter(quarters: int = 0) -> FiscalQuarter:
    return FiscalQuarter.of(utcnow().date(), 1).next(quarters)


def _staged(
    uow: UowFactory, catalog: dict[str, Template], n: int, exports: str,
    answering: Callable[[ItemState], str],
) -> int:  # fmt: skip
    """The client's `n`th review, half a year after the one before: this quarter's exports
    imported and checked, the rest of its questionnaire answered with `answering`."""
    meeting = datetime.now(UTC) + timedelta(weeks=6 + 26 * n)
    review_id = start_review(uow(), CLIENT, catalog, None, f"{meeting:%Y-%m-%dT10:00}")
    walk(uow, review_id, "staging")
    import_files(uow(), review_id, sorted((DEMO / exports).iterdir()), SAM)
    assess(uow(), review_id)
    items = review_questionnaire(uow(), review_id).items
    wanted = {
        s.key: (Answer(answering(s)), "") for s in items if s.source is not AnswerSource.EVIDENCE
    }
    answer_items(uow(), review_id, wanted, SAM)
    return review_id


@pytest.fixture
def review(uow: UowFactory, catalog: dict[str, Template]) -> int:
    """A review in prep with evidence, answers, a baseline (the client's first review, whose
    plan approved and finished an initiative) and a roadmap: an approved initiative, a
    proposed firewall (hardware) and a deferred one, each with its cost."""
    directory.assign_role(uow(), CLIENT, "client_contact", CARL)
    first = _staged(uow, catalog, 0, "q1", lambda s: "not_met" if s.item.required else "met")
    costs = (Cost("one_time", Decimal("4800.00"), _quarter()),)
    done = add_initiative(uow(), CLIENT, Draft("EDR rollout", "3 devices unprotected",
                          quarter=_quarter(), costs=costs), VERA, review_id=first)  # fmt: skip
    move_initiative(uow(), done, Move.APPROVE, ANDY)
    move_initiative(uow(), done, Move.FINISH, ANDY, actual=Decimal("5200.00"))
    decide(uow(), DecisionRequest(first, DecisionKind.CANCEL, OLGA, "next"))
    second = _staged(uow, catalog, 1, "q2", lambda s: "met")
    firewall = Cost("one_time", Decimal("9000.00"), _quarter(2), hardware=True)
    plan = [
        ("Backup appliance", "approve", Cost("recurring", Decimal("150.00"), _quarter(1))),
        ("Firewall refresh", None, firewall),
        ("Security awareness training", "defer", Cost("one_time", Decimal("1200.00"), _quarter(3))),
    ]
    for title, move, cost in plan:
        draft = Draft(title, f"why {title}", quarter=cost.first, costs=(cost,))
        initiative = add_initiative(uow(), CLIENT, draft, VERA, review_id=second)
        if move == "approve":
            move_initiative(uow(), initiative, Move.APPROVE, ANDY)
        elif move == "defer":
            move_initiative(uow(), initiative, Move.DEFER, ANDY, defer_to=_quarter(4))
    walk(uow, second, "prep")
    return second


def pdf_text(document: bytes) -> str:
    """Every page's text as pypdf extracts it, one page after the other."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


def squeezed(text: str) -> str:
    """The text without white space: where a PDF wraps a line is its own business."""
    return "".join(text.split())


def test_the_pdf_holds_the_scorecard_the_roadmap_and_the_budget(
    uow: UowFactory, review: int
) -> None:
    data = report_data(uow(), review)
    document = report_pdf(data, BRAND)

    assert document.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(document))
    text = pdf_text(document)
    pages = len(reader.pages)
    assert f"Page 1 of {pages}" in text
    assert f"Page {pages} of {pages}" in text
    assert reader.metadata is not None
    period = data["review"]["period"].upper()
    assert reader.metadata.title == f"{CLIENT} · {data['review']['title']} · QBR {period}"
    # the sections in order, each heading once
    at = [text.index(heading) for heading in SECTIONS]
    assert at == sorted(at)
    scorecard = text[at[0] : at[1]]
    words = {"green": "Green", "yellow": "Yellow", "red": "Red", "grey": "Not assessed"}
    for row in data["scorecard"]:  # each row of the table: category, score, status, baseline
        score = "—" if row["score"] is None else row["score"]
        baseline = "—" if row["baseline"] is None else row["baseline"]
        cells = f"{row['label']} {score} {words[row['color']]} {baseline}"
        assert squeezed(cells) in squeezed(scorecard), cells
    roadmap = squeezed(text[at[4] : at[5]])
    for initiative in data["roadmap"]:
        assert squeezed(initiative["title"]) in roadmap
        assert initiative["quarter"] in roadmap
    assert squeezed("Firewall refresh") in roadmap
    assert "EDR rollout" not in roadmap  # done: no longer on the roadmap
    budget = squeezed(text[at[5] : at[6]])
    for quarter in data["budget"]["quarters"]:  # each quarter with money in it, then the total
        approved, proposed = (_side(quarter, side) for side in ("approved", "proposed"))
        if approved or proposed:
            row = [
                quarter["quarter"],
                *(_usd(v) for v in (approved, proposed, approved + proposed)),
            ]
            assert squeezed(" ".join(row)) in budget, row
    decisions = squeezed(text[at[6] : at[7]])
    assert squeezed("Firewall refresh") in decisions
    assert squeezed("Security awareness training") in decisions
    assert squeezed("Backup appliance") not in decisions  # approved already
    findings = text[at[2] : at[3]]
    assert data["findings"]
    for finding in data["findings"][:5]:
        assert squeezed(finding["title"][:40]) in squeezed(findings)
    assert "Northwind IT" in text
    _keep_first_page(document, "deliverable-report-pdf.png")


DECK = ("Agenda", "Scorecard against the baseline", "What changed and why", "Findings",
        "Roadmap by quarter", "Budget", "Decisions we ask of you", "Our next meeting")  # fmt: skip


def slides_of(document: bytes) -> list[Any]:
    from pptx import Presentation

    return list(Presentation(io.BytesIO(document)).slides)


def deck_text(slide: Any) -> str:
    """Every text on the slide: its text boxes and its tables' cells."""
    parts = []
    for shape in slide.shapes:
        if shape.has_text_frame:
            parts.append(shape.text_frame.text)
        if shape.has_table:
            parts += [cell.text for row in shape.table.rows for cell in row.cells]
    return "\n".join(parts)


def test_the_deck_has_its_slides_and_native_charts_of_the_scores_and_the_budget(
    uow: UowFactory, review: int
) -> None:
    data = report_data(uow(), review)

    slides = slides_of(review_deck(data, BRAND))

    titles = [slide.shapes.title.text for slide in slides]
    assert titles == [CLIENT, *DECK]
    charts = {
        title: [shape.chart for shape in slide.shapes if shape.has_chart]
        for title, slide in zip(titles, slides, strict=True)
    }
    [scores] = charts["Scorecard against the baseline"]
    now, baseline = scores.plots[0].series
    assert (now.name, baseline.name) == ("Now", "Baseline")
    assert list(scores.plots[0].categories) == [row["label"] for row in data["scorecard"]]
    assert list(now.values) == [row["score"] for row in data["scorecard"]]
    assert list(baseline.values) == [row["baseline"] for row in data["scorecard"]]
    [budget] = charts["Budget"]
    assert str(budget.chart_type) == "COLUMN_STACKED (52)"
    approved, proposed = budget.plots[0].series
    quarters = data["budget"]["quarters"]
    assert list(approved.values) == [float(_side(q, "approved")) for q in quarters]
    assert list(proposed.values) == [float(_side(q, "proposed")) for q in quarters]
    assert all(
        not charts[t] for t in titles if t not in ("Scorecard against the baseline", "Budget")
    )
    roadmap = deck_text(slides[titles.index("Roadmap by quarter")])
    assert "Firewall refresh — Proposed, USD 9,000.00" in roadmap
    decisions = deck_text(slides[titles.index("Decisions we ask of you")])
    assert "Security awareness training — Initiative" in decisions
    title_slide = deck_text(slides[0])
    assert "Northwind IT" in title_slide
    assert "Presented by Vera Vcio, Northwind IT" in title_slide
    for n, slide in enumerate(slides[1:], start=2):  # each slide's footer: brand and number
        assert "Northwind IT · Client qbr" in deck_text(slide)
        assert str(n) in deck_text(slide).splitlines()


def test_hostile_values_stay_text_in_the_deck(tmp_path: Path) -> None:
    from PIL import Image

    logo = tmp_path / "logo.jpg"
    Image.new("RGB", (300, 300), (200, 30, 30)).save(logo)
    data = hostile(acme_dental())

    slides = slides_of(review_deck(data, Brand("<b>MSP</b> & Co", logo=read_logo(logo))))

    text = "\n".join(deck_text(slide) for slide in slides)
    assert slides[0].shapes.title.text == HOSTILE_CLIENT
    assert "<b>MSP</b> & Co" in text
    assert "=2+5 xxxx" in text  # a formula stays text, cut to a slide's length
    assert max(len(line) for line in text.splitlines()) < 400
    assert "<img src='x'/> & </b> roadmap" in text
    pictures = [s for s in slides[0].shapes if s.shape_type == 13]  # the logo on the title
    assert len(pictures) == 1


def paragraphs_of(document: bytes) -> list[Any]:
    from docx import Document

    return list(Document(io.BytesIO(document)).paragraphs)


def test_the_word_summary_is_the_drafts_text_in_word_structure(
    uow: UowFactory, review: int
) -> None:
    data = report_data(uow(), review)
    markdown = summary_markdown(data)

    paragraphs = paragraphs_of(summary_docx(data, BRAND))

    by_style: dict[str, list[str]] = {}
    for paragraph in paragraphs:
        by_style.setdefault(paragraph.style.name, []).append(paragraph.text)
    subject = markdown.splitlines()[0].removeprefix("**Subject:** ")
    assert by_style["Title"] == [plain_text(subject)]
    assert by_style["Heading 1"] == re.findall(r"^## (.+)$", markdown, re.MULTILINE)
    bullets = [plain_text(line[2:]) for line in markdown.splitlines() if line.startswith("- ")]
    assert by_style["List Bullet"] == bullets
    assert len(bullets) >= 3  # the scorecard's lines, the tickets, the recommendations
    sentences = [p.text for p in paragraphs if p.style.name == "Normal"]
    assert sentences[0] == "Hi Carl,"
    assert any(s.startswith("Thank you for meeting with us on ") for s in sentences)
    assert sentences[-1] == "Best regards,\nVera Vcio"
    # no Markdown left: no marks, no escapes
    for paragraph in paragraphs:
        assert not re.search(r"\*\*|^#|\\", paragraph.text), paragraph.text
    bold = [r.text for p in paragraphs for r in p.runs if r.bold]
    assert "Went green:" in bold or "Improved:" in bold


def test_hostile_values_stay_text_in_the_word_summary() -> None:
    data = hostile(acme_dental())
    data["tickets"][1]["title"] = "**EDR** \\ [x](javascript:y) `code` | =2+5"

    paragraphs = paragraphs_of(summary_docx(data, Brand("<b>MSP</b> & Co")))

    text = "\n".join(p.text for p in paragraphs)
    assert paragraphs[0].text.startswith(f"{HOSTILE_CLIENT} QBR 2026-Q4")
    assert "<font name='Courier'>@SUM(A1)</font> — our support team" in text
    assert "**EDR** \\ [x](javascript:y) `code` | =2+5 — our security team" in text
    bold = [r.text for p in paragraphs for r in p.runs if r.bold]
    assert not any("EDR" in run for run in bold)  # the data's ** is text, not bold


@settings(max_examples=40, deadline=None)
@given(title=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=120))
def test_any_ticket_title_reads_back_from_the_word_summary(title: str) -> None:
    data = acme_dental()
    data["tickets"][0]["title"] = title
    # on one line as the draft's template puts it, without what a Word file cannot hold
    expected = clean(" ".join(title.split()))

    paragraphs = paragraphs_of(summary_docx(data, BRAND))

    bullets = [p.text for p in paragraphs if p.style.name == "List Bullet"]
    assert f"{expected} — our support team, due Fri 20 Nov 2026" in bullets


def _side(quarter: dict[str, Any], side: str) -> Decimal:
    return sum(
        (Decimal(quarter[c][side]) for c in ("one_time", "recurring", "hardware")), Decimal(0)
    )


def _usd(amount: Decimal) -> str:
    return f"USD {amount:,.2f}"


def _keep_first_page(document: bytes, name: str) -> None:
    """The PDF's first page as a PNG in test-artifacts/, to look at."""
    import pypdfium2 as pdfium

    ARTIFACTS.mkdir(exist_ok=True)
    pdf = pdfium.PdfDocument(document)
    try:
        image = pdf[0].render(scale=2).to_pil()
        image.save(ARTIFACTS / name)
        assert image.size == (1224, 1584)  # US Letter at 144 dpi
    finally:
        pdf.close()


def hostile(data: dict[str, Any]) -> dict[str, Any]:
    """The data with a client named like markup and a formula, a 5,000-character finding
    title, and markup in every other kind of text."""
    data["review"] |= {"client": HOSTILE_CLIENT, "name": f"{HOSTILE_CLIENT} qbr 2026-q4"}
    data["findings"][0] |= {"title": "=2+5 " + "x" * 4995, "detail": "<b>not bold</b> &amp;"}
    data["tickets"][0]["title"] = "<font name='Courier'>@SUM(A1)</font>"
    data["presenter"] = "Vera </para> Vcio"
    data["roadmap"] = [{
        "id": 1, "title": "<img src='x'/> & </b> roadmap", "status": "proposed",
        "priority": "high", "quarter": "FY2027-Q1", "one_time": "10.00", "monthly": "0.00",
        "why": "+cmd|' /C calc'!A0", "category": "governance",
    }]  # fmt: skip
    return data


def test_hostile_values_stay_text_in_the_pdf() -> None:
    data = hostile(acme_dental())

    text = pdf_text(report_pdf(data, Brand("<b>MSP</b> & Co")))

    flat = squeezed(text)
    assert squeezed(HOSTILE_CLIENT) in flat
    assert squeezed("<b>not bold</b> &amp;") in flat
    assert squeezed("<font name='Courier'>@SUM(A1)</font>") in flat
    assert squeezed("Vera </para> Vcio") in flat
    assert squeezed("<img src='x'/> & </b> roadmap") in flat
    assert squeezed("<b>MSP</b> & Co") in flat
    # the long title: bounded, its start kept, an ellipsis where it was cut
    long_title = re.search(r"=2\+5 x+…", text.replace("\n", ""))
    assert long_title is not None
    assert 250 < len(long_title.group()) < 400


# Any character but the right-to-left scripts': the PDF sets them left to right in the order
# they are typed (reportlab without its optional bidi and shaping), and pypdf reads them back
# reordered, so their round trip is not this test's to check.
LEFT_TO_RIGHT = st.characters(blacklist_categories=("Cs",)).filter(
    lambda c: unicodedata.bidirectional(c) not in ("R", "AL", "AN")
)


def test_a_long_client_name_is_cut_to_fit_the_pages_header_and_footer() -> None:
    data = acme_dental()
    data["review"]["client"] = "Northeastern Regional Family Dental " * 5 + "日本語 Associates"

    reader = PdfReader(io.BytesIO(report_pdf(data, Brand("Very Long Managed Services " * 4))))

    second = reader.pages[1].extract_text().splitlines()
    assert second[0].startswith("Very Long Managed Services")  # the header: brand, then client
    assert second[0].endswith("…")
    assert second[1].startswith("Northeastern Regional Family Dental")
    assert second[1].endswith("…")
    assert len(second[1]) < 70


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=st.text(LEFT_TO_RIGHT, min_size=1, max_size=80))
def test_any_finding_title_is_extractable_from_the_pdf(title: str) -> None:
    data = acme_dental()
    data["findings"][0]["title"] = title

    text = pdf_text(report_pdf(data, BRAND))

    # what the fonts draw comes out as it went in; what none draws (an emoji) as U+FFFD
    expected = squeezed(drawable(title))
    assert expected in squeezed(text)


def test_the_brand_logo_is_checked_and_drawn(tmp_path: Path) -> None:
    from PIL import Image

    logo = tmp_path / "logo.png"
    Image.new("RGB", (400, 120), (31, 78, 121)).save(logo)
    brand = Brand("Northwind IT", logo=read_logo(logo))

    document = report_pdf(acme_dental(), brand)

    assert len(PdfReader(io.BytesIO(document)).pages[0].images) == 1
    text_file = tmp_path / "logo.txt"
    text_file.write_text("not an image")
    huge = tmp_path / "huge.png"
    Image.new("RGB", (5000, 10)).save(huge)
    for bad, why in ((text_file, "not a PNG or JPEG"), (huge, "5000×10 pixels"),
                     (tmp_path / "missing.png", "No such file")):  # fmt: skip
        with pytest.raises(InvalidInput, match="XBR_BRAND_LOGO") as refused:
            read_logo(bad)
        assert why in str(refused.value)
        assert "\n" not in str(refused.value)


def test_xbr_report_writes_the_pdf_and_refuses_bad_options_in_one_line(
    xbr: Xbr, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    review_id = int(xbr.json("review", "start", CLIENT, "--no-flow")["id"])
    xbr("evidence", "import", str(review_id), *map(str, (DEMO / "q1").iterdir()),
        "--as", SAM)  # fmt: skip
    monkeypatch.setenv("XBR_BRAND_NAME", "Northwind IT")

    written = xbr.json("report", str(review_id), "--format", "pdf")

    path = Path(written["path"])
    assert path.parent == tmp_path / "home" / "exports" / "reports"
    assert re.fullmatch(r"client-qbr-qbr-\S+\.pdf", path.name), path.name
    assert path.read_bytes().startswith(b"%PDF-")
    assert written["format"] == "pdf"
    assert written["bytes"] == path.stat().st_size
    assert "Northwind IT" in pdf_text(path.read_bytes())
    html = xbr.json("report", str(review_id))  # html stays the default
    assert html["path"].endswith(".html")
    deck = xbr.json("report", str(review_id), "--format", "PPTX", "--out", str(tmp_path / "d"))
    assert (deck["format"], deck["path"]) == ("pptx", str(tmp_path / "d"))
    assert slides_of((tmp_path / "d").read_bytes())[1].shapes.title.text == "Agenda"
    word = Path(xbr.json("report", str(review_id), "--format", "docx")["path"])
    assert word.suffix == ".docx"
    assert paragraphs_of(word.read_bytes())[0].style.name == "Title"

    refusals = [
        (["--format", "xlsx"], "--format 'xlsx' is not a format xbr writes; use one of html"),
        (["--format", "pdf", "--out", str(tmp_path / "file" / "x.pdf")], "--out"),
    ]
    (tmp_path / "file").write_text("a file where a folder should be")
    for options, message in refusals:
        code, _, err = xbr("report", str(review_id), *options, ok=False)
        assert code == 2, err
        assert message in err
        assert err.strip().count("\n") == 0, err
    monkeypatch.setenv("XBR_BRAND_LOGO", str(tmp_path / "file"))
    code, _, err = xbr("report", str(review_id), "--format", "pdf", "--out",
                       str(tmp_path / "x.pdf"), ok=False)  # fmt: skip
    assert code == 2
    assert "XBR_BRAND_LOGO" in err
    assert "not a PNG or JPEG image" in err
    assert not (tmp_path / "x.pdf").exists()
