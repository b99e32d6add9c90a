"""The review's documents downloaded from the web app over real HTTP, as signed-in people: the
MSP's people get the PDF, the deck and the Word summary; a client's contact gets their own
client's PDF and nothing else; the review page, the contact's home and the plan page offer
them (screenshots of the two pages in Chromium go to test-artifacts/)."""

from __future__ import annotations

import io
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import httpx
from hypothesis import given
from hypothesis import strategies as st
from pypdf import PdfReader

from deploy.webapp.auth import COOKIE, pack
from deploy.webapp.downloads import attachment
from notifications import links
from notifications.links import LinkClaims
from states.access.sessions import EMAIL_LINK, open_session
from states.read import views
from states.store.models import utcnow
from tests.e2e.test_prefect_ui import ARTIFACTS, CHROMIUM_ARGS, chromium  # noqa: F401
from tests.integration.test_review_page import CARL, VERA, App, app  # noqa: F401

MEDIA = {
    "pdf": "application/pdf",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
MAGIC = {"pdf": b"%PDF-", "pptx": b"PK\x03\x04", "docx": b"PK\x03\x04"}


def test_the_msps_people_download_every_document(app: App) -> None:  # noqa: F811
    name = views.review_view(app.uow(), app.review_id).name
    with app.browser(VERA) as vera:
        for extension, media in MEDIA.items():
            got = vera.get(f"/reviews/{app.review_id}/report.{extension}")
            assert got.status_code == 200, got.text[:300]
            assert got.headers["content-type"] == media
            assert got.headers["cache-control"] == "no-store"
            disposition = got.headers["content-disposition"]
            assert disposition.startswith(f'attachment; filename="{name}.{extension}"')
            assert f"filename*=UTF-8''{quote(name)}.{extension}" in disposition
            assert got.content.startswith(MAGIC[extension])


def test_a_client_contact_gets_their_own_clients_pdf_and_nothing_else(app: App) -> None:  # noqa: F811
    with app.browser(CARL) as carl:
        own = carl.get(f"/reviews/{app.review_id}/report.pdf")
        assert own.status_code == 200
        assert "Client qbr" in PdfReader(io.BytesIO(own.content)).pages[0].extract_text()
        for extension in ("pptx", "docx"):  # the MSP's working files
            refused = carl.get(f"/reviews/{app.review_id}/report.{extension}")
            assert refused.status_code == 403
            assert "download the pdf" in refused.text.lower()
        other = carl.get(f"/reviews/{app.other_id}/report.pdf")  # another client's
        assert other.status_code == 403
        assert "another client&#39;s" in other.text
        assert carl.get("/reviews/999999/report.pdf").status_code == 404
        assert carl.get(f"/reviews/{app.review_id}/report.xlsx").status_code == 404
    with httpx.Client(base_url=app.url) as stranger:
        signin = stranger.get(f"/reviews/{app.review_id}/report.pdf")
        assert signin.status_code == 303
        assert unquote(signin.headers["location"]) == f"/?next=/reviews/{app.review_id}/report.pdf"


def test_the_pages_offer_the_documents(app: App) -> None:  # noqa: F811
    with app.browser(VERA) as vera:
        page = vera.get(f"/reviews/{app.review_id}").text
    for extension in MEDIA:
        assert f'href="/reviews/{app.review_id}/report.{extension}"' in page
    with app.browser(CARL) as carl:
        home = carl.get("/").text
        plan = carl.get(f"/r/{quote(_plan_link(app), safe='')}").text
    assert f'href="/reviews/{app.review_id}/report.pdf"' in home
    assert ".pptx" not in home
    assert f'href="/reviews/{app.review_id}/report.pdf"' in plan


def _plan_link(app: App) -> str:  # noqa: F811
    review = views.review_view(app.uow(), app.review_id)
    claims = LinkClaims(app.review_id, review.round, CARL, links.PLAN, int(time.time()) + 86400)
    return links.sign(app.key, claims)


@given(name=st.text(min_size=1, max_size=300), extension=st.sampled_from(sorted(MEDIA)))
def test_any_name_makes_a_safe_content_disposition(name: str, extension: str) -> None:
    header = attachment(f"{name}.{extension}")

    header.encode("ascii")  # an HTTP header any server and browser take
    plain = header.split("; filename*=")[0]
    filename = plain.removeprefix('attachment; filename="').removesuffix('"')
    assert filename.endswith(f".{extension}")
    assert not set(filename) & set('"\\/;\r\n ')
    assert unquote(header.split("filename*=UTF-8''")[1]) == f"{name}.{extension}"


def test_the_pages_with_their_links_in_chromium(app: App, chromium: Path) -> None:  # noqa: F811
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            staff = _signed_in_page(browser, app, VERA)
            staff.goto(f"{app.url}/reviews/{app.review_id}")
            links_shown = staff.locator("p.downloads a")
            assert links_shown.count() == 3
            assert links_shown.first.is_visible()
            staff.screenshot(path=str(ARTIFACTS / "review-page-downloads.png"))
            with staff.expect_download() as download:
                links_shown.first.click()
            assert download.value.suggested_filename.endswith(".pdf")
            contact = _signed_in_page(browser, app, CARL)
            contact.goto(f"{app.url}/r/{quote(_plan_link(app), safe='')}")
            assert contact.locator("p.report-link a").is_visible()
            contact.screenshot(path=str(ARTIFACTS / "plan-page-pdf-link.png"), full_page=True)
        finally:
            browser.close()


def _signed_in_page(browser: Any, app: App, email: str) -> Any:  # noqa: F811
    """A page of a new browser context holding `email`'s session cookie."""
    session_id, secret = open_session(app.uow(), email, EMAIL_LINK, utcnow(), 12)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.add_cookies([{"name": COOKIE, "value": pack(app.key, "session", session_id, secret),
                          "url": app.url}])  # fmt: skip
    return context.new_page()
