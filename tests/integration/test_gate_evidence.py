"""The gate's approver decides with what the phase produced in front, on a real SQLite database:
the approval email (delivered to a real SMTP server) and the approval page (served by the web
app) show staging's findings red first, new or recurring, its tickets, unmet items and scores;
prep's roadmap, budget and agenda; delivery's feedback; follow-up's tickets and next review;
each with the full report behind the same signed link. Hostile text stays text."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from deploy.mailbox import Mailbox
from notifications import links
from notifications.links import LinkClaims
from notifications.outbox import compose, deliver_due
from states.calendar.opening import start_review
from states.calendar.recurrence import ensure_next_review
from states.lifecycle.decisions import DecisionKind, DecisionRequest, complete_task, decide
from states.read.views import review_view
from states.settings import Settings
from states.staging.feedback import Feedback, record_feedback
from states.staging.intake import import_files
from states.staging.record import assess
from states.standards.answering import answer_items
from states.standards.answers import review_questionnaire
from states.standards.schema import Answer
from states.store.models import FollowUpTicket, OutboxMessage, Review, ReviewFinding, utcnow
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.e2e.test_prefect_ui import CHROMIUM_ARGS, chromium  # noqa: F401
from tests.integration.conftest import serving
from tests.integration.test_staging import quarter
from tests.team import walk

CLIENT = "Client qbr"
SAM = "sam@msp.example"
OLGA = "olga@msp.example"  # ops manager: staging's accountable role
HOSTILE = "<img src=x onerror=alert(1)> [click](http://evil.example) **loud**\nsecond line"
PHONE_WIDTH = 390


@dataclass
class Site:
    """The approval page on a staffed database, with its settings and link key."""

    http: httpx.Client
    uow: UowFactory
    key: bytes
    settings: Settings
    catalog: dict[str, Template]

    def link(self, review_id: int, email: str = OLGA) -> str:
        with self.uow() as work:
            review = work.session.get(Review, review_id)
            assert review is not None
            claims = LinkClaims(review_id, review.round, email, "decide", int(time.time()) + 86400)
        return links.sign(self.key, claims)

    def page(self, review_id: int, email: str = OLGA) -> str:
        response = self.http.get(f"/r/{quote(self.link(review_id, email), safe='')}")
        assert response.status_code == 200, response.text
        return response.text


@pytest.fixture
def site(
    sqlite_url: str, sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> Iterator[Site]:
    with serving(tmp_path / "home", sqlite_url, sqlite_uow) as (settings, client):
        key = links.load_key(settings.home, None)
        yield Site(client, sqlite_uow, key, settings, catalog)


def _in_staging(site: Site, weeks: int) -> int:
    meeting = (utcnow() + timedelta(weeks=weeks)).strftime("%Y-%m-%dT10:00")
    review_id = start_review(site.uow(), CLIENT, site.catalog, None, meeting)
    walk(site.uow, review_id, "staging")
    return review_id


def _staged(site: Site, tmp_path: Path) -> int:
    """The client's second review in staging: patching still short (recurring, amber), a
    backup failed (new, red, its ticket opened) and an admin added (new, red), the last two
    under hostile titles; two items unmet, one required still open."""
    first = _in_staging(site, 2)
    day = f"{utcnow():%Y-%m-%d}"
    import_files(site.uow(), first, quarter(tmp_path / "q1", 5, 0, ["alice", "bob"], day), SAM)
    assess(site.uow(), first)
    decide(site.uow(), DecisionRequest(first, DecisionKind.CANCEL, OLGA, "next quarter"))
    second = _in_staging(site, 6)
    files = quarter(tmp_path / "q2", 2, 1, ["alice", "bob", "eve"], day)
    import_files(site.uow(), second, files, SAM)
    assess(site.uow(), second)
    with site.uow() as work:
        finding = work.session.scalar(
            select(ReviewFinding).where(
                ReviewFinding.review_id == second, ReviewFinding.key == "privileged-change"
            )
        )
        assert finding is not None
        finding.title = HOSTILE
        opened = work.session.scalar(
            select(FollowUpTicket).where(FollowUpTicket.review_id == second)
        )
        assert opened is not None
        opened.title = f"Ticket {HOSTILE}"
        work.commit()
    items = review_questionnaire(site.uow(), second).items
    answers = {items[0].key: (Answer.NOT_MET, HOSTILE), items[1].key: (Answer.PARTIAL, "")}
    answers |= {s.key: (Answer.MET, "") for s in items[2:-1]}
    answer_items(site.uow(), second, answers, SAM)
    return second


def _ready(site: Site, review_id: int) -> None:
    """Every open task of the phase done and (in staging) every item answered: the gate's
    approval request goes out."""
    review = review_view(site.uow(), review_id)
    for task in review.tasks:
        if task.phase == review.status and task.status == "open" and task.assignee:
            complete_task(site.uow(), review_id, task.key, task.assignee)
    if review.status == "staging":
        items = review_questionnaire(site.uow(), review_id).items
        open_ = {s.key: (Answer.MET, "") for s in items if not s.settled}
        answer_items(site.uow(), review_id, open_, SAM)


def _approval_notice(site: Site, review_id: int, phase: str) -> int:
    with site.uow() as work:
        rows = work.session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.review_id == review_id, OutboxMessage.kind.startswith("notice."))
            .order_by(OutboxMessage.id.desc())
        )
        return next(
            r.id
            for r in rows
            if r.payload["kind"] == "approval"
            and r.payload.get("phase") == phase
            and not (r.recipient or "").startswith("role:")
        )


def _words(markup: str) -> str:
    """Markup as a person reads it: no tags, one space between words."""
    words = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())
    return re.sub(r" ([:,.])", r"\1", words)


def _html(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def _no_hostile_markup(markup: str) -> None:
    assert "<img" not in markup
    assert 'href="http://evil.example' not in markup
    assert "<strong>loud</strong>" not in markup


def test_the_staging_approval_email_and_page_show_what_staging_produced(
    site: Site, tmp_path: Path
) -> None:
    review_id = _staged(site, tmp_path)
    shown = _words(site.page(review_id))
    assert "What staging produced" in shown
    assert "3 findings: 2 red, 2 new, 1 recurring" in shown
    red = shown.index(f"Red New {HOSTILE.replace(chr(10), ' ')}")
    assert red < shown.index("Amber Recurring Patch compliance")
    assert "1 ticket opened" in shown
    assert "Questionnaire: 2 not met or partial · 1 required still open" in shown
    assert "Not met" in shown
    assert "Partial" in shown
    assert re.search(r"Patching \d+ \+\d+", shown), shown
    _no_hostile_markup(site.page(review_id))

    _ready(site, review_id)
    with Mailbox() as mailbox:
        settings = site.settings.model_copy(update={"smtp_url": mailbox.url})
        deliver_due(site.uow(), settings, review_id)
        email = mailbox.wait_for(
            lambda m: OLGA in str(m["To"]) and "staging: your approval" in str(m["Subject"])
        )
    body = _html(email)
    text = _words(body)
    assert "3 findings: 2 red, 2 new, 1 recurring" in text
    assert text.index("Red, new: 1 backup") < text.index("Amber, recurring: Patch compliance")
    assert "1 ticket opened" in text
    assert "Questionnaire: 2 not met or partial, 0 required still open" in text
    assert re.search(r"Patching: \d+ \(\+\d+\)", text), text
    _no_hostile_markup(body)
    report = re.search(r'href="(http://[^"]+/report/[^"]+)"', body)
    assert report, body
    assert text.index("Scorecard") < text.index("The full report") < text.index("Approve")
    (tmp_path / "email.html").write_text(body)

    # the email's report link is the approval page's own: the same checks, the review's report
    path = report.group(1).removeprefix(site.settings.page_url)
    got = site.http.get(path)
    assert got.status_code == 200
    assert "Patch compliance" in got.text
    assert site.http.get("/report/not-a-token").status_code == 403

    markdown = compose(site.uow(), settings, site.key, _approval_notice(site, review_id, "staging"))
    assert "\\[click\\](http://evil.example)" in markdown[0].markdown


def test_prep_shows_the_agenda_the_roadmap_and_its_budget(site: Site, tmp_path: Path) -> None:
    review_id = _staged(site, tmp_path)
    walk(site.uow, review_id, "prep")
    page = site.page(review_id)
    shown = _words(page)
    assert "What prep produced" in shown
    assert re.search(r"Roadmap: \d+ initiatives?", shown), shown
    assert "Budget by quarter" in shown
    assert re.search(r"FY\d{4}-Q\d [A-Z]{3} [\d,]+\.\d\d", shown), shown
    assert '<details class="agenda" id="agenda">' in page
    assert "Discussion items" in shown
    _no_hostile_markup(page)
    _ready(site, review_id)
    message, _ = compose(
        site.uow(), site.settings, site.key, _approval_notice(site, review_id, "prep")
    )
    assert "**The agenda** has" in message.markdown
    assert "**Budget by quarter**" in message.markdown


def test_delivery_shows_the_clients_feedback(site: Site, tmp_path: Path) -> None:
    review_id = _staged(site, tmp_path)
    walk(site.uow, review_id, "delivery")
    record_feedback(site.uow(), review_id, Feedback(better=HOSTILE, review_request="yes"), OLGA)
    page = site.page(review_id)
    shown = _words(page)
    assert "The client's feedback" in shown
    assert f"What we can do better {HOSTILE.replace(chr(10), ' ')}" in shown
    assert "Would give us a review yes" in shown
    _no_hostile_markup(page)


def test_follow_up_shows_its_tickets_and_the_next_review(site: Site, tmp_path: Path) -> None:
    review_id = _staged(site, tmp_path)
    walk(site.uow, review_id, "delivery")
    with site.uow() as work:  # delivery is approved once the meeting has started
        review = work.session.get(Review, review_id)
        assert review is not None
        review.meeting_at = utcnow() - timedelta(hours=1)
        work.commit()
    walk(site.uow, review_id, "follow_up")
    shown = _words(site.page(review_id))
    assert re.search(r"\d+ follow-up tickets?: \d+ open, \d+ closed", shown), shown
    assert "Next review Not opened yet." in shown
    opened = ensure_next_review(site.uow(), site.catalog, CLIENT, early=True)
    assert opened.review_id
    shown = _words(site.page(review_id))
    name = review_view(site.uow(), opened.review_id).name
    assert f"Next review {name} · meeting" in shown
    with site.uow() as work:
        assert work.session.scalar(select(FollowUpTicket).where(
            FollowUpTicket.review_id == review_id))  # fmt: skip


def test_the_staging_page_and_email_read_on_a_phone_in_chromium(
    site: Site,
    tmp_path: Path,
    chromium: Path,  # noqa: F811
) -> None:
    from playwright.sync_api import sync_playwright

    review_id = _staged(site, tmp_path)
    url = str(site.http.base_url.join(f"/r/{quote(site.link(review_id), safe='')}"))
    _ready(site, review_id)
    message, _ = compose(
        site.uow(), site.settings, site.key, _approval_notice(site, review_id, "staging")
    )
    email = tmp_path / "email.html"
    email.write_text(message.html, encoding="utf-8")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            for address, shot in (
                (url, "gate-evidence-page.png"),
                (email.as_uri(), "gate-evidence-email.png"),
            ):
                page = browser.new_page(viewport={"width": PHONE_WIDTH, "height": 844})
                page.goto(address, wait_until="load")
                assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_WIDTH
                assert not page.locator("img").count()
                evidence = page.locator("#evidence")
                if evidence.count():  # the page's section, not its long questionnaire
                    evidence.screenshot(path=f"/tmp/{shot}")
                else:
                    page.screenshot(path=f"/tmp/{shot}", full_page=True)
                page.close()
        finally:
            browser.close()
