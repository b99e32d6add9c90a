"""The assessment on the approval page over real HTTP: the app `xbr web` serves, in a thread on a
staffed SQLite database with reviews in staging, answered in headless Chromium at phone width
and with httpx.

Staging's people (its responsible roles and its accountable one) answer the questionnaire;
whoever staging informs reads it; anyone else sees none of it. A save changes only the items
whose answer or note changed, and a refusal changes nothing.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlencode

import httpx
import pytest
from sqlalchemy import func, select

from deploy.webapp.forms import MAX_FORM_BYTES, MAX_FORM_FIELDS
from notifications import links
from notifications.links import LinkClaims
from states.calendar.opening import start_review
from states.lifecycle.decisions import DecisionKind, DecisionRequest, decide
from states.standards.answers import AnswerSource, ItemState, review_questionnaire
from states.store.models import AuditEntry, ItemAnswer, Review, utcnow
from states.templates.schema import Template
from tests.conftest import UowFactory
from tests.e2e.test_prefect_ui import CHROMIUM_ARGS, chromium  # noqa: F401
from tests.integration.conftest import serving
from tests.team import walk

SAM = "sam@msp.example"  # support engineer: responsible in staging
ANDY = "andy@msp.example"  # account manager: responsible in staging
OLGA = "olga@msp.example"  # ops manager: staging's accountable role
VERA = "vera@msp.example"  # CEO: staging informs her
IVAN = "ivan@msp.example"  # intern: no role in staging
POL = "policy-procedure"
SCREENSHOT = Path("/tmp/assessment-page.png")
PHONE = {"width": 390, "height": 844}


@dataclass
class Site:
    """A running approval page on a staffed database."""

    http: httpx.Client
    uow: UowFactory
    key: bytes
    catalog: dict[str, Template]

    def staged(self, client: str = "Client qbr") -> int:
        """A new review of `client`, walked into staging."""
        meeting = (utcnow() + timedelta(weeks=6)).strftime("%Y-%m-%dT10:00")
        review_id = start_review(self.uow(), client, self.catalog, meeting=meeting, actor="cli")
        walk(self.uow, review_id, "staging")
        return review_id

    def link(self, review_id: int, email: str) -> str:
        """A token for `email` on the review's current round, valid for a day."""
        with self.uow() as work:
            review = work.session.get(Review, review_id)
            assert review is not None
            claims = LinkClaims(review_id, review.round, email, "tasks", int(time.time()) + 86400)
        return links.sign(self.key, claims)

    def url(self, token: str) -> str:
        return str(self.http.base_url.join(f"/r/{quote(token, safe='')}"))

    def get(self, token: str) -> str:
        response = self.http.get(f"/r/{quote(token, safe='')}")
        assert response.status_code == 200, response.text
        return response.text

    def post(self, token: str, fields: list[tuple[str, str]]) -> httpx.Response:
        """The page's form as a browser sends it: urlencoded, with the link's csrf field."""
        body = urlencode([("csrf", links.csrf_token(self.key, token)), *fields])
        headers = {"content-type": "application/x-www-form-urlencoded"}
        return self.http.post(f"/r/{quote(token, safe='')}", content=body, headers=headers)

    def items(self, review_id: int) -> dict[str, ItemState]:
        return {s.key: s for s in review_questionnaire(self.uow(), review_id).items}

    def rows(self, review_id: int) -> list[ItemAnswer]:
        with self.uow() as work:
            query = select(ItemAnswer).where(ItemAnswer.review_id == review_id)
            return list(work.session.scalars(query.order_by(ItemAnswer.item)))

    def audit_rows(self) -> int:
        with self.uow() as work:
            return work.session.scalar(select(func.count()).select_from(AuditEntry)) or 0


@pytest.fixture
def site(
    sqlite_url: str, sqlite_uow: UowFactory, catalog: dict[str, Template], tmp_path: Path
) -> Iterator[Site]:
    with serving(tmp_path / "home", sqlite_url, sqlite_uow) as (settings, client):
        key = links.load_key(settings.home, None)
        yield Site(client, sqlite_uow, key, catalog)


def _words(markup: str) -> str:
    """Markup as a person reads it: no tags, one space between words."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", markup)).split())


def _cancel(site: Site, review_id: int) -> None:
    """End the review, so that the client's next one may start and carry its answers."""
    decide(site.uow(), DecisionRequest(review_id, DecisionKind.CANCEL, OLGA, "moved to Q1"))


def test_the_questionnaire_answered_on_a_phone_in_chromium(
    site: Site,
    chromium: Path,  # noqa: F811
) -> None:
    from playwright.sync_api import expect, sync_playwright

    first = site.staged()
    total = len(site.items(first))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=PHONE)
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            page.goto(site.url(site.link(first, SAM)), wait_until="load")
            section = page.locator("#assessment")
            expect(section.locator(".progress")).to_have_text(
                f"0 of {total} answered · 0 carried to confirm · {total} required still open"
            )
            expect(section.locator("h3").first).to_have_text("Policy and Procedure Mini Assessment")
            expect(section.locator("h4").first).to_have_text("Policies")
            first_item = section.locator("li.question").first
            expect(first_item).to_contain_text("POL-01")
            expect(first_item.locator("details")).not_to_have_attribute("open", "")
            expect(first_item.locator("details p")).to_be_hidden()
            first_item.get_by_text("Guidance").click()
            expect(first_item.locator("details p")).to_be_visible()
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

            first_item.get_by_label("Partial").check()
            first_item.get_by_label("Note on POL-01").fill("Policy from 2019,\nnot signed <yet>")
            second = section.locator("li.question").nth(1)
            second.get_by_label("Not met").check()
            second.get_by_label("Note on POL-02").fill("No acceptable use policy & no plan")
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            page.get_by_role("button", name="Save", exact=True).click()
            expect(page.locator("h1")).to_have_text("Saved")
            expect(page.locator("main")).to_contain_text(f"Answered: {POL}:POL-01, {POL}:POL-02")

            items = site.items(first)
            for key, answer, note in (
                (f"{POL}:POL-01", "partial", "Policy from 2019,\nnot signed <yet>"),
                (f"{POL}:POL-02", "not_met", "No acceptable use policy & no plan"),
            ):
                state = items[key]
                assert state.answer is not None
                assert (state.answer.value, state.note) == (answer, note)
                assert (state.source, state.answered_by) == (AnswerSource.PERSON, SAM)
            rows = site.rows(first)
            assert [r.item for r in rows] == ["POL-01", "POL-02"]
            assert all("signed link" in r.via and r.answered_by == SAM for r in rows)

            page.goto(site.url(site.link(first, SAM)), wait_until="load")
            answered = page.locator("#assessment li.question").first
            expect(answered).to_contain_text(f"Partial, by {SAM}")
            expect(answered.get_by_label("Partial")).to_be_checked()
            expect(answered.get_by_label("Note on POL-01")).to_have_value(
                "Policy from 2019,\nnot signed <yet>"
            )

            _cancel(site, first)
            second_review = site.staged()
            page.goto(site.url(site.link(second_review, ANDY)), wait_until="load")
            carried = page.locator("#assessment li.question").first
            first_name = review_questionnaire(site.uow(), first).name
            expect(carried).to_contain_text(f"Partial, from {first_name}, confirm")
            expect(carried.get_by_label("Partial")).not_to_be_checked()
            expect(page.locator("#assessment .progress")).to_contain_text("2 carried to confirm")
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            carried.get_by_label("Met", exact=True).press("Enter")  # the form's default: Save
            expect(page.locator("h1")).to_have_text("Nothing to save")
            assert site.rows(second_review) == []
            page.goto(site.url(site.link(second_review, ANDY)), wait_until="load")
            page.get_by_role("button", name="Confirm the carried answers (2)").click()
            expect(page.locator("main")).to_contain_text("Confirmed 2 carried answers")
            rows = site.rows(second_review)
            assert [(r.item, r.answer, r.answered_by, r.carried_from) for r in rows] == [
                ("POL-01", "partial", ANDY, first),
                ("POL-02", "not_met", ANDY, first),
            ]
            assert all("signed link" in r.via for r in rows)

            page.goto(site.url(site.link(second_review, IVAN)), wait_until="load")
            expect(page.locator("h1")).to_have_text("Staging")
            expect(page.locator("#assessment")).to_have_count(0)
            expect(page.locator("input[type=radio], textarea")).to_have_count(0)

            page.goto(site.url(site.link(second_review, VERA)), wait_until="load")
            expect(page.locator("#assessment")).to_contain_text("Read only")
            expect(page.locator("#assessment input, #assessment textarea")).to_have_count(0)
            expect(page.locator("#assessment li.question").first).to_contain_text(
                f"Partial, by {ANDY}, confirmed from {first_name}"
            )
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        finally:
            browser.close()
    assert errors == []


def test_a_save_changes_only_what_changed_and_a_refusal_nothing(site: Site) -> None:
    review_id = site.staged()
    sam = site.link(review_id, SAM)
    response = site.post(sam, [(f"answer:{POL}:POL-01", "met"), (f"note:{POL}:POL-01", "ok")])
    assert response.status_code == 200, response.text
    rows = site.rows(review_id)
    assert [(r.item, r.answer, r.note) for r in rows] == [("POL-01", "met", "ok")]

    # the page as it stands, sent back: its checked answers and notes, nothing changed
    page = site.get(sam)
    fields = re.findall(r'name="(answer:[^"]+)" value="([a-z_]+)" checked', page)
    fields += re.findall(r'name="(note:[^"]+)"[^>]*>([^<]*)</textarea>', page)
    assert (f"answer:{POL}:POL-01", "met") in fields
    audit = site.audit_rows()
    response = site.post(sam, fields)
    assert "Nothing to save" in _words(response.text)
    assert site.audit_rows() == audit
    assert [(r.item, r.answer, r.note, r.at) for r in site.rows(review_id)] == [
        (r.item, r.answer, r.note, r.at) for r in rows
    ]

    refusals = [
        (sam, [(f"note:{POL}:POL-02", "only a note")], "has a note but no answer"),
        (sam, [(f"answer:{POL}:POL-02", "maybe")], "has an unknown answer"),
        (sam, [(f"answer:{POL}:POL-02", "not_applicable")], "needs a note saying why"),
        (
            site.link(review_id, IVAN),
            [(f"answer:{POL}:POL-02", "met")],
            "holds none of staging's roles",
        ),
        (sam, [("confirm", "carried")], "has no carried answers to confirm"),
    ]
    for path, form, why in refusals:
        audit = site.audit_rows()
        response = site.post(path, form)
        assert response.status_code == 403, form
        assert "Not saved" in response.text
        assert why in _words(response.text), _words(response.text)
        assert [(r.item, r.answer, r.note) for r in site.rows(review_id)] == [
            ("POL-01", "met", "ok")
        ]
        assert site.audit_rows() == audit + 1  # the refusal's own row


def test_a_form_with_more_fields_than_any_of_ours_is_too_large(site: Site) -> None:
    review_id = site.staged()
    fields = [(f"note:{POL}:POL-{n}", "") for n in range(MAX_FORM_FIELDS + 1)]
    response = site.post(site.link(review_id, SAM), fields)
    assert response.status_code == 403
    assert "The form is too large. What to do: Shorten the comment or the notes" in _words(
        response.text
    )
    assert site.rows(review_id) == []


def test_the_page_escapes_notes_and_shows_no_form_to_a_stranger(site: Site) -> None:
    review_id = site.staged()
    sam = site.link(review_id, SAM)
    note = "<script>alert(1)</script> & <b>bold</b>"
    response = site.post(sam, [(f"answer:{POL}:POL-03", "partial"), (f"note:{POL}:POL-03", note)])
    assert response.status_code == 200, response.text
    for email, shown in ((SAM, True), (VERA, True), (IVAN, False)):
        page = site.get(site.link(review_id, email))
        assert "<script>" not in page
        assert "<b>bold" not in page
        assert ("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in page) is (
            shown
        )
        assert ('name="answer:' in page) is (email == SAM)


def test_past_prep_the_answers_are_read_only(site: Site) -> None:
    review_id = site.staged()
    walk(site.uow, review_id, "delivery")
    page = site.get(site.link(review_id, SAM))
    assert "Read only: the assessment closed when the meeting was delivered." in _words(page)
    assert 'name="answer:' not in page
    assert 'name="note:' not in page


# Plain text with the punctuation notes have: each note at its longest (2,000 characters).
SENTENCE = "Checked with the client's IT lead on site, 3 of 4 sites comply (see ticket #1234). "


def test_a_whole_nist_csf_questionnaire_fits_in_one_form(site: Site) -> None:
    review_id = site.staged("Client trs")
    sam = site.link(review_id, SAM)
    page = site.get(sam)
    keys = re.findall(r'<textarea id="note:([^"]+)"', page)
    assert len(keys) == 106
    assert all(key.startswith("nist-csf-2:") for key in keys)
    assert len(re.findall(r'type="radio" name="answer:', page)) == 4 * 106

    for length in (120, 2000):  # a short note each, then the longest each
        note = (SENTENCE * 30)[:length]
        fields = [
            pair for key in keys for pair in ((f"answer:{key}", "partial"), (f"note:{key}", note))
        ]
        fields += [("decision", ""), ("comment", "x" * 2000)]
        size = len(urlencode(fields))
        assert size <= MAX_FORM_BYTES, size
        response = site.post(sam, fields)
        assert response.status_code == 200, _words(response.text)
        assert f"Answered: {keys[0]}" in _words(response.text)
        rows = site.rows(review_id)
        assert len(rows) == 106
        assert {(r.answer, r.note) for r in rows} == {("partial", note.strip())}
